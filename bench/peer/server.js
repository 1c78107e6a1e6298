// The reference server of the delivery benchmark: a plain socket.io 4 server on Node with the Redis
// adapter, doing what the hub's web process does for live delivery and nothing more: it checks the
// dashboard's access token (`auth.token`, HS256 with the hub's JWT secret, type "access", its session
// still in Redis: one round trip, as the hub's check), joins the socket to `tier:<tier>` and
// `user:<sub>`, and delivers to those rooms whatever arrives through Redis. The hub reads the tier
// from its cached account record; this reference takes it from the harness (`auth.tier`).
//
// Why @socket.io/redis-adapter (classic pub/sub) and not the sharded or the Redis-streams adapter: it
// has the same shape as python-socketio's Redis manager (every server subscribes to the broadcast
// channel, decodes each message once and fans it out to its local rooms), so the two servers are
// compared on the fan-out and not on the transport through Redis; sharded pub/sub needs Redis 7 (the
// embedded server is 6.2), and the streams adapter adds a persisted log and polling that the hub does
// not have. ioredis rather than `redis`: the adapter's documentation recommends it (the `redis` client
// has had trouble restoring subscriptions after a reconnect).
//
// Settings from the environment: PORT, REDIS_URL, JWT_SECRET_KEY.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const Redis = require("ioredis");
const jwt = require("jsonwebtoken");

const port = Number(process.env.PORT);
const secret = process.env.JWT_SECRET_KEY;
// The hub's names: journal/tokens.py SESSION_PREFIX, journal/stream/emit.py tier_room and user_room.
const SESSION_PREFIX = "session:";
// gunicorn's default listen backlog, so that a connect storm meets the same queue at both servers.
const BACKLOG = 2048;

const pubClient = new Redis(process.env.REDIS_URL);
const subClient = pubClient.duplicate();

const httpServer = http.createServer((req, res) => {
  res.statusCode = req.url === "/healthz" ? 200 : 404;
  res.end(res.statusCode === 200 ? "ok" : "");
});
const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient), serveClient: false });

async function authenticate(socket, next) {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (typeof token !== "string") return next(new Error("auth.token is required"));
  let claims;
  try {
    claims = jwt.verify(token, secret, { algorithms: ["HS256"] });
  } catch {
    return next(new Error("Invalid or expired token."));
  }
  if (claims.type !== "access" || (await pubClient.exists(SESSION_PREFIX + claims.fid)) !== 1) {
    return next(new Error("Invalid or revoked token."));
  }
  socket.data.claims = { ...claims, tier: socket.handshake.auth.tier };
  return next();
}

io.use(authenticate);
io.on("connection", (socket) => {
  const { tier, sub } = socket.data.claims;
  socket.join([`tier:${tier}`, `user:${sub}`]);
});

httpServer.listen(port, "127.0.0.1", BACKLOG, () => {
  process.stdout.write(`listening on 127.0.0.1:${port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
