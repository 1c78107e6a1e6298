// The delivery benchmark's client harness: N socket.io-client sockets over WebSocket, each
// authenticated like the dashboard (`auth: {token, since}`), recording for every signal received the
// latency (receive time minus the time stamped in the event), and counting deliveries, duplicates and
// gaps (a `prev` that is not the socket's last `seq`). It reports its own CPU time, so the report can
// tell whether the client was the bottleneck.
//
// Driven by bench/harness.py: `node harness.js CONFIG.json`, then one JSON command per line on stdin
// and one JSON answer per line on stdout. Commands: connect, reset, count, report, close.
"use strict";

const fs = require("node:fs");
const readline = require("node:readline");
const { io } = require("socket.io-client");

// {url, event, stamp: "sent_at"|"created_at", since, window, connectTimeoutMs, sockets: [{token, tier}],
//  latencyFile}
const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
// Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine.
const now = () => performance.timeOrigin + performance.now();

const open = []; // sockets that connected
const connectedByTier = {};
let dropped = 0; // sockets that disconnected after connecting
const dropReasons = {}; // socket.io-client's reason for each ("ping timeout", "transport close", ...)
let latencies = new Float64Array(1 << 16);
let tally = freshTally();

function freshTally() {
  return { delivered: 0, duplicates: 0, gaps: 0, samples: 0, firstAt: 0, lastAt: 0, cpu: process.cpuUsage(), since: now() };
}

function record(latency) {
  if (tally.samples === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[tally.samples++] = latency;
}

function stampOf(data) {
  return config.stamp === "created_at" ? Date.parse(data.created_at) : data.sent_at;
}

function onSignal(state, data) {
  const at = now();
  if (state.last !== null && data.seq <= state.last) {
    tally.duplicates++; // at-least-once delivery: drop it as a client does
    return;
  }
  if (state.last !== null && data.prev > state.last) tally.gaps++; // the client rule: apply when prev <= cursor
  state.last = data.seq;
  tally.delivered++;
  if (!tally.firstAt) tally.firstAt = at;
  tally.lastAt = at;
  record(at - stampOf(data));
}

function connectOne(entry, errors) {
  return new Promise((resolve) => {
    const socket = io(config.url, {
      transports: ["websocket"],
      auth: { token: entry.token, since: config.since, tier: entry.tier }, // the hub ignores tier
      reconnection: false,
      forceNew: true, // one connection per socket, as separate dashboards (no multiplexing)
      timeout: config.connectTimeoutMs,
    });
    const state = { last: config.since };
    const fail = (message) => {
      clearTimeout(timer);
      errors[message] = (errors[message] || 0) + 1;
      socket.close();
      resolve();
    };
    // A server whose connect handler fails never acknowledges; count it instead of waiting forever.
    const timer = setTimeout(() => fail(`no connect ack in ${config.connectTimeoutMs} ms`), config.connectTimeoutMs);
    socket.on(config.event, (data) => onSignal(state, data));
    socket.once("connect", () => {
      clearTimeout(timer);
      open.push(socket);
      connectedByTier[entry.tier] = (connectedByTier[entry.tier] || 0) + 1;
      let ended = ""; // the hub says why it ends a socket (session:end {reason}) before it does
      socket.once("session:end", (data) => (ended = ` after session:end ${data && data.reason}`));
      socket.once("disconnect", (reason) => {
        dropped++;
        dropReasons[reason + ended] = (dropReasons[reason + ended] || 0) + 1;
      });
      resolve();
    });
    socket.once("connect_error", (err) => fail(err.message));
  });
}

async function connect() {
  // At most `window` handshakes in flight: a reconnect storm, not one SYN flood into the backlog.
  const errors = {};
  const cpu = process.cpuUsage();
  const startedAt = now();
  let next = 0;
  async function lane() {
    while (next < config.sockets.length) await connectOne(config.sockets[next++], errors);
  }
  await Promise.all(Array.from({ length: config.window }, lane));
  const used = process.cpuUsage(cpu);
  return {
    started_at: startedAt,
    ended_at: now(),
    cpu_ms: (used.user + used.system) / 1000,
    connected: open.length,
    by_tier: connectedByTier,
    errors,
  };
}

function report() {
  const cpu = process.cpuUsage(tally.cpu);
  fs.writeFileSync(config.latencyFile, Buffer.from(latencies.buffer, 0, tally.samples * 8));
  return {
    delivered: tally.delivered,
    duplicates: tally.duplicates,
    gaps: tally.gaps,
    first_at: tally.firstAt,
    last_at: tally.lastAt,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    // From the first delivery to the last: the time the harness had work, against which its CPU counts.
    busy_ms: tally.lastAt - tally.firstAt,
    wall_ms: now() - tally.since,
    open: open.length - dropped,
    dropped,
    drop_reasons: dropReasons,
  };
}

const commands = {
  connect,
  reset: () => {
    tally = freshTally();
    return {};
  },
  count: () => ({ delivered: tally.delivered, last_at: tally.lastAt, dropped }),
  report,
  close: () => {
    for (const socket of open) socket.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const { op } = JSON.parse(line);
  const answer = await commands[op]();
  process.stdout.write(JSON.stringify({ op, ...answer }) + "\n");
});
lines.on("close", () => process.exit(0));
