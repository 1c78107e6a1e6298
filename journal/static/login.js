"use strict";
const form = document.getElementById("login-form");
if (Auth.user) location.assign(Auth.user.role === "admin" ? "/admin" : "/dashboard");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  const resp = await fetch("/api/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await resp.json();
  if (!resp.ok) {
    showFieldErrors(form, data.fields);
    document.getElementById("login-error").textContent = data.error;
    return;
  }
  Auth.save(data);
  location.assign(data.user.role === "admin" ? "/admin" : "/dashboard");
});
