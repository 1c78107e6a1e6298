"use strict";
(async () => {
  if (!requireLogin()) return;
  const feed = document.getElementById("feed");
  const template = document.getElementById("card-template");
  const cards = new Map();
  let chart = null;

  function fill(card, sig) {
    card.dataset.id = sig.id;
    card.dataset.seq = sig.seq;
    card.dataset.created = sig.created_at;
    card.querySelector(".symbol").textContent = sig.symbol;
    const side = card.querySelector(".side");
    side.textContent = sig.side.toUpperCase(); side.className = `side ${sig.side}`;
    card.querySelector(".tier").textContent = sig.risk_tier;
    card.querySelector(".entry").textContent = sig.entry_price;
    card.querySelector(".sl").textContent = sig.stop_loss;
    card.querySelector(".tp").textContent = sig.take_profit;
    card.querySelector(".confidence").textContent = `${sig.confidence}% (${sig.grade})`;
    card.querySelector(".age").textContent = age(sig.created_at);
    const outcome = card.querySelector(".outcome");
    outcome.textContent = sig.outcome?.replace("_", " ") || (sig.status === "archived" ? "archived" : "open");
    outcome.className = `outcome badge ${(sig.outcome || sig.status).toLowerCase()}`;
    if (sig.mine) mine(card, sig.mine);
  }

  function mine(card, state) {
    const take = card.querySelector(".take");
    if (state.taken_at) { take.textContent = "Taken ✓"; take.disabled = true; card.classList.add("taken"); }
    card.querySelector(".notes").textContent = state.notes ? `📝 ${state.notes}` : "";
  }

  function card(sig) {
    const node = template.content.firstElementChild.cloneNode(true);
    fill(node, sig);
    node.querySelector(".take").addEventListener("click", async () => {
      const r = await api(`/api/user/signals/${sig.id}/taken`, { method: "POST" });
      if (r.ok) { mine(node, r.data.mine); loadStats(); }
    });
    const jform = node.querySelector(".journal-form");
    node.querySelector(".journal-open").addEventListener("click", () => { jform.hidden = !jform.hidden; jform.querySelector("textarea").focus(); });
    jform.addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await api(`/api/user/signals/${sig.id}/journal`, { method: "POST", body: { notes: jform.notes.value } });
      jform.querySelector(".error").textContent = r.ok ? "" : Object.values(r.data?.fields || {}).flat().join(" ");
      if (r.ok) { mine(node, r.data.mine); jform.hidden = true; toast("Added to journal"); loadStats(); }
    });
    cards.set(sig.id, node);
    return node;
  }

  function add(sig, live) {
    document.getElementById("feed-empty")?.remove();
    if (cards.has(sig.id)) { fill(cards.get(sig.id), sig); return; }
    const node = card(sig);
    if (live) { node.classList.add("fresh"); setTimeout(() => node.classList.remove("fresh"), 5000); }
    const newer = [...feed.querySelectorAll(".signal")].find((c) => Number(c.dataset.seq) < sig.seq);
    feed.insertBefore(node, newer || null);
  }

  async function loadStats() {
    const s = (await api("/api/user/stats")).data;
    for (const node of document.querySelectorAll("[data-my]")) {
      const v = s[node.dataset.my];
      node.textContent = v === null ? "–" : node.dataset.my === "win_rate" ? `${v}%` : v;
    }
    const labels = s.taken_by_day.map((d) => d.day.slice(5));
    const values = s.taken_by_day.map((d) => d.taken);
    if (!chart) {
      chart = new Chart(document.getElementById("chart"), {
        type: "bar",
        data: { labels, datasets: [{ label: "taken per day", data: values, backgroundColor: "#3b82f6" }] },
        options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    } else { chart.data.labels = labels; chart.data.datasets[0].data = values; chart.update(); }
  }

  const snapshot = (await api("/api/user/signals?limit=50")).data;
  snapshot.signals.forEach((sig) => add(sig, false));
  loadStats();
  setInterval(() => cards.forEach((c) => { c.querySelector(".age").textContent = age(c.dataset.created); }), 15000);
  const stream = new Stream({
    onSignal: (sig) => add(sig, true),
    // an outcome event's seq is its own stream position, not the signal's: keep the card's place
    onOutcome: (ev) => { const card = cards.get(ev.id); if (card) { fill(card, { ...ev, seq: Number(card.dataset.seq) }); loadStats(); } },
  });
  stream.start(snapshot.stream_seq);
})();
