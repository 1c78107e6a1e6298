"use strict";
(async () => {
  if (!requireLogin()) return;
  const tbody = document.querySelector("#entries tbody");
  const r = await api("/api/user/journal?limit=200");
  const entries = r.data?.entries || [];
  document.getElementById("entries-empty").hidden = entries.length > 0;
  tbody.replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    tr.append(
      el("td", e.mine.taken_at ? new Date(e.mine.taken_at).toLocaleString() : "—"), el("td", e.symbol),
      el("td", e.side, `side ${e.side}`), el("td", e.entry_price), el("td", e.stop_loss), el("td", e.take_profit),
      el("td", e.mine.notes || ""), el("td", e.outcome?.replace("_", " ") || "open", `badge ${(e.outcome || "open").toLowerCase()}`),
    );
    return tr;
  }));
  document.getElementById("conn").hidden = true; // this page has no live stream
})();
