// Shared by every page: tokens (sessionStorage, never URLs), API calls with refresh, the stream.
"use strict";

const Auth = {
  get access() { return sessionStorage.getItem("access_token"); },
  get refresh() { return sessionStorage.getItem("refresh_token"); },
  get user() { return JSON.parse(sessionStorage.getItem("user") || "null"); },
  save(tokens) {
    sessionStorage.setItem("access_token", tokens.access_token);
    sessionStorage.setItem("refresh_token", tokens.refresh_token);
    sessionStorage.setItem("user", JSON.stringify(tokens.user));
  },
  clear() { sessionStorage.clear(); },
};

async function refreshTokens() {
  if (!Auth.refresh) return false;
  const resp = await fetch("/api/auth/refresh", {
    method: "POST", headers: { Authorization: `Bearer ${Auth.refresh}` },
  });
  if (!resp.ok) return false;
  Auth.save(await resp.json());
  return true;
}

async function api(path, { method = "GET", body, retry = true } = {}) {
  const headers = { Authorization: `Bearer ${Auth.access}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && retry && await refreshTokens()) return api(path, { method, body, retry: false });
  if (resp.status === 401) { Auth.clear(); location.assign("/login"); }
  let data = null;
  try { data = await resp.json(); } catch (_) { data = null; }
  return { status: resp.status, ok: resp.ok, data };
}

function requireLogin(role) {
  const user = Auth.user;
  if (!Auth.access || !user) { location.assign("/login"); return null; }
  if (role && user.role !== role) { location.assign(user.role === "admin" ? "/admin" : "/dashboard"); return null; }
  const who = document.getElementById("who");
  if (who) who.textContent = `${user.email} · ${user.risk_tier}`;
  document.getElementById("logout")?.addEventListener("click", logout);
  return user;
}

async function logout() {
  await api("/api/auth/logout", { method: "POST", body: { refresh_token: Auth.refresh }, retry: false });
  Auth.clear();
  location.assign("/login");
}

function showFieldErrors(form, fields) {
  form.querySelectorAll(".error[data-for]").forEach((el) => { el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  for (const [name, messages] of Object.entries(fields || {})) {
    const slot = form.querySelector(`.error[data-for="${name}"]`);
    const text = Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages);
    if (slot) slot.textContent = `${name}: ${text}`;
    form.querySelector(`[name="${name}"]`)?.setAttribute("aria-invalid", "true");
  }
}

function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text; el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 3000);
}

function setConnection(state) {
  const el = document.getElementById("conn");
  if (!el) return;
  el.className = `conn ${state}`;
  el.querySelector("b").textContent = state;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function age(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// The signal stream: applies every signal of the user's tiers once, in seq order.
// `prev` is the seq of the previous signal sent to this tier; a larger prev than our cursor means
// one is missing, so we hold the signal and ask for a replay from the cursor (signals:sync).
class Stream {
  constructor(handlers) {
    this.h = handlers;
    this.last = null;
    this.pending = new Map();
    this.syncing = false;
    this.unacked = [];
  }

  start(since) {
    this.last = since;
    this.socket = io({
      transports: ["websocket"],
      auth: (cb) => cb({ token: Auth.access, since: this.last }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 10000,
      randomizationFactor: 0.5,
    });
    const s = this.socket;
    s.on("connect", () => setConnection("live"));
    s.on("disconnect", () => setConnection("reconnecting"));
    s.io.on("reconnect_attempt", () => setConnection("reconnecting"));
    s.on("connect_error", async (err) => {
      setConnection("reconnecting");
      if (/token|revoked|expired/i.test(err.message) && await refreshTokens()) s.connect();
      else if (/token|revoked|expired/i.test(err.message)) { Auth.clear(); location.assign("/login"); }
    });
    s.on("signal:new", (sig) => this.receive(sig));
    s.on("signals:initial", (data) => { if (this.last === null) this.last = data.seq; this.drain(); });
    s.on("stats:initial", (d) => this.h.onStats?.(d));
    s.on("stats:update", (d) => this.h.onStats?.(d));
    s.on("signal:outcome", (d) => this.h.onOutcome?.(d));
    setInterval(() => this.flushAcks(), 1000);
    window.addEventListener("online", () => (s.connected ? this.requestSync() : s.connect()));
  }

  receive(sig) {
    if (this.last !== null && sig.seq <= this.last) return;
    this.pending.set(sig.seq, sig);
    this.drain();
  }

  drain() {
    if (this.last === null) return;
    while (this.pending.size) {
      const seq = Math.min(...this.pending.keys());
      const sig = this.pending.get(seq);
      if (seq <= this.last) { this.pending.delete(seq); continue; }
      if (sig.prev > this.last) { this.requestSync(); return; }
      this.pending.delete(seq);
      this.last = seq;
      this.unacked.push(sig.id);
      this.h.onSignal(sig);
    }
  }

  requestSync() {
    if (this.syncing || !this.socket.connected) return;
    this.syncing = true;
    this.socket.emit("signals:sync", { since: this.last }, () => { this.syncing = false; this.drain(); });
  }

  flushAcks() {
    if (!this.unacked.length || !this.socket.connected) return;
    const ids = this.unacked.splice(0);
    this.socket.emit("signal:ack", { ids });
  }
}
