// The admin's users table: filter, page, and change a user's role, tier, plan or disabled flag.
"use strict";
(() => {
  if (!Auth.user || Auth.user.role !== "admin") return;
  const tbody = document.querySelector("#user-table tbody");
  const filters = document.getElementById("user-filters");
  const more = document.getElementById("users-more");
  const error = document.getElementById("users-error");
  const CHOICES = { role: ["user", "admin"], risk_tier: ["low", "medium", "high"], plan: ["free", "pro", "elite"] };
  let cursor = null;

  function select(user, name) {
    const node = el("select");
    node.name = name;
    node.setAttribute("aria-label", `${name} of ${user.email}`);
    CHOICES[name].forEach((value) => node.append(new Option(value, value, false, user[name] === value)));
    node.addEventListener("change", () => change(user, { [name]: node.value }, node));
    return node;
  }

  function row(user) {
    const tr = el("tr");
    tr.dataset.id = user.id;
    const disabled = el("input");
    disabled.type = "checkbox"; disabled.name = "disabled"; disabled.checked = user.disabled;
    disabled.setAttribute("aria-label", `disable ${user.email}`);
    disabled.addEventListener("change", () => change(user, { disabled: disabled.checked }, disabled));
    const cells = [el("td", user.email), el("td"), el("td"), el("td"), el("td"), el("td", user.created_at.slice(0, 10))];
    cells[1].append(select(user, "role")); cells[2].append(select(user, "risk_tier"));
    cells[3].append(select(user, "plan")); cells[4].append(disabled);
    tr.replaceChildren(...cells);
    return tr;
  }

  async function change(user, body, control) {
    const r = await api(`/api/admin/users/${user.id}`, { method: "PATCH", body });
    if (r.ok) {
      Object.assign(user, r.data);
      toast(`${user.email}: ${Object.entries(body).map(([k, v]) => `${k} ${v}`).join(", ")}`);
      error.textContent = "";
    } else {
      error.textContent = `${r.data?.error || "Failed"} ${Object.values(r.data?.fields || {}).flat().join(" ")}`;
      tbody.querySelector(`tr[data-id="${user.id}"]`).replaceWith(row(user)); // back to what is stored
    }
    control.blur();
  }

  async function load(reset) {
    const params = new URLSearchParams([...new FormData(filters)].filter(([, v]) => v));
    params.set("limit", "50");
    if (!reset && cursor) params.set("cursor", cursor);
    const r = await api(`/api/admin/users?${params}`);
    if (!r.ok) { error.textContent = r.data?.error || "Failed"; return; }
    const rows = r.data.users.map(row);
    if (reset) tbody.replaceChildren(...rows); else tbody.append(...rows);
    cursor = r.data.next_cursor;
    more.hidden = cursor === null;
  }

  filters.addEventListener("submit", (e) => { e.preventDefault(); load(true); });
  more.addEventListener("click", () => load(false));
  load(true);
})();
