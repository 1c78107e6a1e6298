"use strict";
(async () => {
  if (!requireLogin("admin")) return;
  const form = document.getElementById("signal-form");
  const tbody = document.querySelector("#signals tbody");
  const rows = new Map();

  const symbols = (await api("/api/symbols")).data.symbols;
  const select = document.getElementById("symbol");
  symbols.forEach((s) => select.append(new Option(s, s)));

  // The chosen symbol's last price beside the entry field (click to use it), refreshed every few seconds.
  const lastPrice = document.getElementById("last-price");
  async function showLastPrice() {
    const symbol = select.value;
    const r = await api(`/api/market/${encodeURIComponent(symbol)}/last`);
    if (select.value !== symbol) return; // the symbol changed while this was loading
    lastPrice.hidden = !r.ok;
    lastPrice.textContent = r.ok ? `last ${r.data.price}` : "";
    lastPrice.dataset.price = r.ok ? r.data.price : "";
    lastPrice.dataset.symbol = r.ok ? symbol : "";
    lastPrice.title = r.ok ? `Use as entry (at ${new Date(r.data.at).toLocaleTimeString()})` : "";
  }
  lastPrice.addEventListener("click", () => {
    form.entry_price.value = lastPrice.dataset.price;
    form.dispatchEvent(new Event("input")); // a changed signal: a new Idempotency-Key
  });
  select.addEventListener("change", showLastPrice);

  function renderStats(s) {
    for (const node of document.querySelectorAll("[data-stat]")) {
      const v = s[node.dataset.stat];
      node.textContent = v === null || v === undefined ? "–" : node.dataset.stat === "win_rate" ? `${v}%` : v;
    }
  }

  function row(sig) {
    const tr = rows.get(sig.id) || document.createElement("tr");
    tr.replaceChildren(
      el("td", new Date(sig.created_at).toLocaleTimeString()), el("td", sig.symbol), el("td", sig.side, `side ${sig.side}`),
      el("td", sig.entry_price), el("td", sig.stop_loss), el("td", sig.take_profit), el("td", sig.risk_tier),
      el("td", sig.confidence), el("td", sig.status),
      el("td", sig.outcome?.replace("_", " ") || "", sig.outcome ? `badge ${sig.outcome.toLowerCase()}` : ""),
    );
    const cell = el("td");
    if (sig.status === "active") {
      const btn = el("button", "Archive", "link archive");
      btn.addEventListener("click", async () => {
        const r = await api(`/api/admin/signals/${sig.id}/archive`, { method: "POST" });
        if (r.ok) row(r.data);
      });
      cell.append(btn);
    }
    tr.append(cell);
    tr.dataset.id = sig.id;
    rows.set(sig.id, tr);
    return tr;
  }

  async function loadTable() {
    const params = new URLSearchParams([...new FormData(document.getElementById("filters"))].filter(([, v]) => v));
    params.set("limit", "50");
    const r = await api(`/api/admin/signals?${params}`);
    rows.clear();
    tbody.replaceChildren(...(r.data?.signals || []).map(row));
  }

  async function loadHealth() {
    const data = (await api("/api/health")).data;
    const status = document.getElementById("health-status");
    status.textContent = data.status; status.className = `badge ${data.status}`;
    document.getElementById("health-parts").replaceChildren(...Object.entries(data.parts || {}).map(([name, part]) => {
      const detail = part.ok ? Object.entries(part).filter(([k]) => k !== "ok").map(([k, v]) => `${k}: ${v}`).join(", ") : part.error;
      return el("li", `${part.ok ? "✔" : "✖"} ${name} — ${detail}`, part.ok ? "ok" : "bad");
    }));
  }

  ["input", "change"].forEach((type) => form.addEventListener(type, () => { delete form.dataset.idem; }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    const body = {
      symbol: f.symbol, side: f.side, entry_price: f.entry_price.trim(), stop_loss: f.stop_loss.trim(),
      take_profit: f.take_profit.trim(), risk_tier: f.risk_tier, timeframe: f.timeframe,
      confidence: f.confidence === "" ? undefined : Number(f.confidence),
      payload: f.analysis ? { analysis: f.analysis } : {},
    };
    // One key per signal the admin means to post: a retry after a lost answer (or a double click)
    // is the same signal, not a second one; editing the form starts a new one.
    form.dataset.idem ||= randomId();
    const r = await api("/api/admin/signals", { method: "POST", body, headers: { "Idempotency-Key": form.dataset.idem } });
    showFieldErrors(form, r.ok ? {} : r.data?.fields);
    document.getElementById("form-error").textContent = r.ok ? "" : r.data?.error || "Failed";
    if (r.ok) {
      toast(`Posted ${r.data.symbol} ${r.data.side}`);
      delete form.dataset.idem;
      form.reset();
      showLastPrice();
      if (!rows.has(r.data.id)) tbody.prepend(row(r.data));
    }
  });
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); loadTable(); });

  renderStats((await api("/api/hub/stats")).data);
  await loadTable();
  loadHealth();
  setInterval(loadHealth, 5000);
  showLastPrice();
  setInterval(showLastPrice, 5000);
  const stream = new Stream({
    onSignal: (sig) => { const existing = rows.has(sig.id); const tr = row(sig); if (!existing) tbody.prepend(tr); },
    onStats: renderStats,
    onOutcome: (sig) => { if (rows.has(sig.id)) row(sig); },
  });
  stream.start((await api("/api/user/signals?limit=1")).data.stream_seq);
})();
