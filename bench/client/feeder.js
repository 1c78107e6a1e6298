// The delivery benchmark's feeder: publishes signal events into Redis, at a steady rate or
// back-to-back, in the pub/sub format of the server under test, so both servers receive the same
// events the same way and only the encoding differs:
//   hub:  python-socketio's Redis manager message (socketio/pubsub_manager.py `emit`): JSON
//         {method: "emit", event, data: [payload], room, namespace: "/", ...} on Flask-SocketIO's channel;
//   node: the socket.io Redis adapter's message, through @socket.io/redis-emitter.
// A signal goes to each room that receives its tier (as the hub's relay does: one message per room,
// each with that room's `prev`), and carries `sent_at`, the publish time, for the client's latency.
//
// `node feeder.js CONFIG.json` prints one JSON line: {signals, messages, started_at, ended_at, prev}.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const Redis = require("ioredis");
const { Emitter } = require("@socket.io/redis-emitter");

// {redis, format: "hub"|"node", channel, event, template, tiers, routes: {tier: [room]}, firstSeq,
//  prev: {room: seq}, mode: "steady"|"burst", rate, count}
const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const redis = new Redis(config.redis);
const emitter = new Emitter(redis);
const hostId = crypto.randomUUID().replaceAll("-", "");
const prev = { ...config.prev };

function publish(room, payload) {
  if (config.format === "hub") {
    const message = {
      method: "emit",
      event: config.event,
      data: [payload],
      binary: false,
      namespace: "/",
      room,
      skip_sid: null,
      callback: null,
      host_id: hostId,
    };
    redis.publish(config.channel, JSON.stringify(message));
  } else {
    emitter.to(room).emit(config.event, payload);
  }
}

function publishSignal(n) {
  const seq = config.firstSeq + n;
  const tier = config.tiers[n % config.tiers.length];
  const signal = { ...config.template, id: crypto.randomUUID(), seq, risk_tier: tier, sent_at: now() };
  const rooms = config.routes[tier] || [];
  for (const room of rooms) {
    publish(room, { ...signal, prev: prev[room] });
    prev[room] = seq;
  }
  return rooms.length;
}

async function main() {
  let messages = 0;
  const startedAt = now();
  for (let n = 0; n < config.count; n++) {
    if (config.mode === "steady") {
      // Absolute due times, so a late timer does not slow the whole run down.
      const wait = startedAt + (n * 1000) / config.rate - now();
      if (wait > 0) await sleep(wait);
    }
    messages += publishSignal(n);
  }
  await redis.ping(); // answered after every publish before it on this connection
  const endedAt = now();
  process.stdout.write(
    JSON.stringify({ signals: config.count, messages, started_at: startedAt, ended_at: endedAt, prev }) + "\n",
  );
  redis.disconnect();
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
