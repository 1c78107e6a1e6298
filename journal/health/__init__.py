"""Liveness (/healthz), readiness for a load balancer (/readyz), the parts' health (/api/health), symbols."""

import time

from flask import Blueprint, current_app, g, jsonify
from flask_jwt_extended import verify_jwt_in_request
from sqlalchemy import text

from journal import responses
from journal.extensions import db, get_redis, socketio
from journal.openapi import operation
from journal.stream.pubsub import ListeningManager
from journal.stream.relay import HEARTBEAT_KEY

bp = Blueprint("health", __name__)
PUBLISHED = "SELECT emitted_upto FROM relay_state"
# When the oldest event still waiting for the relay (to be sequenced, or published) was written.
OLDEST_WAITING = (
    "SELECT least((SELECT min(created_at) FROM outbox WHERE seq IS NULL AND failed_at IS NULL), "  # nosec B608
    f"(SELECT min(created_at) FROM outbox WHERE seq > ({PUBLISHED})))"
)
WORKER_STALE_SECONDS = 15
BACKLOG_STALE_SECONDS = 10


@bp.get("/healthz")
@operation(responses.Alive, auth=None)
def healthz():
    """Liveness: 200 while the process is up."""
    return jsonify({"status": "ok"})


def listener() -> ListeningManager | None:
    manager = getattr(socketio.server, "manager", None)
    return manager if isinstance(manager, ListeningManager) and manager.canary_heard else None


def deafness() -> float:
    """How long this process has not heard its canary through the message queue, beyond the allowed."""
    manager = listener()
    return manager.deaf_for() if manager else 0.0


@bp.get("/readyz")
@operation(responses.Ready, status=(200, 503), auth=None)
def readyz():
    """Whether this web process can serve (for a load balancer).

    503 naming each failing part: database, redis, message_queue (this process stopped hearing
    Redis pub/sub, so its sockets would receive nothing), relay (an event waiting longer than
    READY_RELAY_LAG_SECONDS, 15 by default).
    """
    failing = []
    try:
        lag = db.session.scalar(
            text(
                f"SELECT coalesce(extract(epoch FROM now() - ({OLDEST_WAITING})), 0)"  # nosec B608
            )
        )
        if lag > current_app.config["READY_RELAY_LAG_SECONDS"]:
            failing.append("relay")
    except Exception:  # a readiness probe reports, never raises
        failing.append("database")
    try:
        get_redis().ping()
    except Exception:
        failing.append("redis")
    if deafness() > 0:
        failing.append("message_queue")
    if failing:
        return jsonify({"ready": False, "failing": failing}), 503
    return jsonify({"ready": True})


def check(probe) -> dict:
    started = time.perf_counter()
    try:
        detail = probe()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **detail}
    except Exception as err:  # a health check reports every failure instead of raising
        return {"ok": False, "error": f"{type(err).__name__}: {err}"}


def outbox_backlog() -> dict:
    row = db.session.execute(
        text(
            "SELECT (SELECT count(*) FROM outbox WHERE seq IS NULL AND failed_at IS NULL) "
            f"+ (SELECT count(*) FROM outbox WHERE seq > ({PUBLISHED})) AS backlog, "  # nosec B608
            f"extract(epoch FROM now() - ({OLDEST_WAITING})) AS oldest, "
            "(SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL) AS set_aside"
        )
    ).one()
    oldest = float(row.oldest or 0)
    return {
        "outbox_backlog": row.backlog,
        "oldest_pending_seconds": round(oldest, 1),
        "events_set_aside": row.set_aside,  # could not be encoded; see `journal verify`
    }


def redis_ping() -> dict:
    get_redis().ping()
    return {}


def canary() -> dict:
    deaf = deafness()
    if deaf > 0:
        raise RuntimeError(f"this web process has not heard Redis pub/sub for {deaf:.0f} s too long")
    manager = listener()
    return {"canary_heard_seconds_ago": round(time.time() - manager.canary_heard, 1)} if manager else {}


def relay_heartbeat() -> dict:
    beat = get_redis().get(HEARTBEAT_KEY)
    age = time.time() - float(beat) if beat else None
    if age is None or age > WORKER_STALE_SECONDS:
        raise RuntimeError("no relay pass recently (is the relay process running?)")
    return {"last_relay_seconds_ago": round(age, 1)}


def caller_is_admin() -> bool:
    """Whether the request carries a live admin token (health details are for admins only)."""
    try:
        verify_jwt_in_request(optional=True)
    except Exception:  # a bad token on a public route is simply anonymous
        return False
    account = g.get("account")
    return account is not None and account.role == "admin"


@bp.get("/api/health")
@operation(responses.Health, status=(200, 503), auth=None)
def health():
    """ok or degraded, for anyone (a load balancer); with an admin token, each part's details and errors.

    503 when a part is degraded.
    """
    parts = {
        "database": check(outbox_backlog),
        "redis": check(redis_ping),
        "relay": check(relay_heartbeat),
        "message_queue": check(canary),
    }
    db_part = parts["database"]
    if db_part["ok"] and db_part["oldest_pending_seconds"] > BACKLOG_STALE_SECONDS:
        db_part["ok"] = False
        db_part["error"] = "outbox rows waiting too long"
    healthy = all(part["ok"] for part in parts.values())
    body = {"status": "ok" if healthy else "degraded"}
    if caller_is_admin():
        body["parts"] = parts
    return jsonify(body), 200 if healthy else 503


@bp.get("/api/symbols")
@operation(responses.Symbols, auth=None)
def symbols():
    """The configured symbol universe."""
    return jsonify({"symbols": list(current_app.config["SYMBOLS"])})
