// Shared by every page: tokens (sessionStorage, never URLs), API calls with refresh, the stream.
"use strict";

const Auth = {
  get access() { return sessionStorage.getItem("access_token"); },
  get refresh() { return sessionStorage.getItem("refresh_token"); },
  get user() { return JSON.parse(sessionStorage.getItem("user") || "null"); },
  // When the access token expires (ms), from its own exp claim: the server closes the socket then.
  get expiresAt() {
    const payload = Auth.access?.split(".")[1];
    return payload ? JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))).exp * 1000 : 0;
  },
  save(tokens) {
    sessionStorage.setItem("access_token", tokens.access_token);
    sessionStorage.setItem("refresh_token", tokens.refresh_token);
    sessionStorage.setItem("user", JSON.stringify(tokens.user));
  },
  saveUser(changes) { sessionStorage.setItem("user", JSON.stringify({ ...Auth.user, ...changes })); },
  clear() { sessionStorage.clear(); },
};

// One refresh at a time (a refresh token is single use: a second concurrent one would end the session).
let refreshing = null;
function refreshTokens() {
  if (!Auth.refresh) return Promise.resolve(false);
  refreshing ??= fetch("/api/auth/refresh", { method: "POST", headers: { Authorization: `Bearer ${Auth.refresh}` } })
    .then(async (resp) => { if (resp.ok) Auth.save(await resp.json()); return resp.ok; })
    .catch(() => false)
    .finally(() => { refreshing = null; });
  return refreshing;
}

// Refresh the access token when 60% of its remaining life has passed, then hand it to the open socket.
function keepTokensFresh(onRenewed) {
  const due = () => Math.max(500, (Auth.expiresAt - Date.now()) * 0.6);
  const tick = async () => {
    if (await refreshTokens()) onRenewed(Auth.access);
    setTimeout(tick, due());
  };
  setTimeout(tick, due());
}

async function api(path, { method = "GET", body, headers: extra = {}, retry = true } = {}) {
  const headers = { Authorization: `Bearer ${Auth.access}`, ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    return { status: 0, ok: false, data: { error: "Network error: not sent, or no answer. Try again." } };
  }
  if (resp.status === 401 && retry && await refreshTokens()) return api(path, { method, body, headers: extra, retry: false });
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
  await api("/api/auth/logout", { method: "POST", retry: false });
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

// A random id (for Idempotency-Key); crypto.randomUUID needs a secure context, this does not.
function randomId() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
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

// The stream: applies every event of the user's tiers (a new signal, an outcome) once, in seq order.
// `prev` is the seq of the previous event sent to this tier; a larger prev than our cursor means
// one is missing, so we hold the event and ask for a replay from the cursor (signals:sync).
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
    s.on("signals:batch", (data) => data.signals.forEach((sig) => this.receive(sig)));
    s.on("account:update", (changes) => { Auth.saveUser(changes); location.reload(); });
    s.on("session:end", async ({ reason, retry_after }) => {
      // expired or dropped as slow: renew and come back with the cursor; busy (too many replays for
      // this user): come back with the cursor after retry_after seconds; revoked or disabled: log in again
      setConnection("reconnecting");
      if (reason === "busy") setTimeout(() => s.connect(), (retry_after || 5) * 1000);
      else if ((reason === "expired" || reason === "slow") && await refreshTokens()) s.connect();
      else { Auth.clear(); location.assign("/login"); }
    });
    s.on("signals:initial", (data) => { if (this.last === null) this.last = data.seq; this.drain(); });
    s.on("stats:initial", (d) => this.h.onStats?.(d));
    s.on("stats:update", (d) => this.h.onStats?.(d));
    s.on("signal:outcome", (ev) => this.receive(ev));
    setInterval(() => this.flushAcks(), 1000);
    keepTokensFresh((token) => { if (s.connected) s.emit("auth:renew", { token }); });
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
      if (sig.kind === "outcome") { this.h.onOutcome?.(sig); continue; }
      this.unacked.push(sig.id);
      this.h.onSignal(sig);
    }
  }

  requestSync() {
    if (this.syncing || !this.socket.connected) return;
    this.syncing = true;
    this.socket.emit("signals:sync", { since: this.last }, (answer) => {
      this.syncing = false;
      if (answer?.retry) setTimeout(() => this.drain(), 1000); // a replay is running, or too many syncs
      else this.drain();
    });
  }

  flushAcks() {
    if (!this.unacked.length || !this.socket.connected) return;
    const ids = this.unacked.splice(0);
    this.socket.emit("signal:ack", { ids });
  }
}
