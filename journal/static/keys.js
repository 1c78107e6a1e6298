// API access: the plan's daily allowance of key requests, and the caller's keys (create once, list, revoke).
"use strict";
(() => {
  const card = document.getElementById("api-access");
  if (!card || !Auth.user) return;
  const path = card.dataset.keys;
  const form = document.getElementById("key-form");
  const list = document.getElementById("keys");
  const shown = document.getElementById("new-key");

  async function showQuota() {
    const q = (await api("/api/user/me")).data?.quota;
    if (!q) return;
    document.getElementById("quota").textContent = q.daily_limit === null
      ? `Plan ${q.plan}: unlimited API-key requests.`
      : q.remaining === null
        ? `Plan ${q.plan}: ${q.daily_limit} API-key requests a day (limits are off here).`
        : `Plan ${q.plan}: ${q.remaining} of ${q.daily_limit} API-key requests left today.`;
  }

  function item(key) {
    const li = el("li", `${key.name} · ${key.prefix}… · ${key.revoked_at ? "revoked" : key.last_used_at ? `used ${age(key.last_used_at)}` : "unused"}`);
    li.dataset.id = key.id;
    if (!key.revoked_at) {
      const revoke = el("button", "Revoke", "link revoke");
      revoke.addEventListener("click", async () => {
        if ((await api(`${path}/${key.id}`, { method: "DELETE" })).ok) load();
      });
      li.append(" ", revoke);
    }
    return li;
  }

  async function load() {
    const r = await api(path);
    list.replaceChildren(...(r.data?.keys || []).map(item));
    showQuota();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await api(path, { method: "POST", body: { name: form.name.value.trim() } });
    showFieldErrors(card, r.ok ? {} : r.data?.fields || { name: [r.data?.error || "Failed"] });
    if (!r.ok) return;
    shown.hidden = false;
    shown.querySelector("code").textContent = r.data.key;
    form.reset();
    load();
  });
  load();
})();
