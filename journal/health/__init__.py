"""Liveness (/healthz), readiness of every part (/api/health) and the symbol universe (/api/symbols)."""

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from journal.extensions import db, get_redis
from journal.outbox import HEARTBEAT_KEY

bp = Blueprint("health", __name__)
WORKER_STALE_SECONDS = 15
BACKLOG_STALE_SECONDS = 10


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def check(probe) -> dict:
    started = time.perf_counter()
    try:
        detail = probe()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **detail}
    except Exception as err:  # a health check reports every failure instead of raising
        return {"ok": False, "error": f"{type(err).__name__}: {err}"}


def database() -> dict:
    row = db.session.execute(
        text(
            "SELECT count(*) AS backlog, extract(epoch FROM now() - min(created_at)) AS oldest "
            "FROM outbox WHERE emitted_at IS NULL"
        )
    ).one()
    oldest = float(row.oldest or 0)
    return {"outbox_backlog": row.backlog, "oldest_pending_seconds": round(oldest, 1)}


def redis() -> dict:
    get_redis().ping()
    return {}


def worker() -> dict:
    beat = get_redis().get(HEARTBEAT_KEY)
    age = time.time() - float(beat) if beat else None
    if age is None or age > WORKER_STALE_SECONDS:
        raise RuntimeError("no relay pass from the worker recently (worker or beat down?)")
    return {"last_relay_seconds_ago": round(age, 1)}


@bp.get("/api/health")
def health():
    parts = {"database": check(database), "redis": check(redis), "worker": check(worker)}
    db_part = parts["database"]
    if db_part["ok"] and db_part["oldest_pending_seconds"] > BACKLOG_STALE_SECONDS:
        db_part["ok"] = False
        db_part["error"] = "outbox rows waiting too long"
    healthy = all(part["ok"] for part in parts.values())
    body = {"status": "ok" if healthy else "degraded", "parts": parts}
    return jsonify(body), 200 if healthy else 503


@bp.get("/api/symbols")
def symbols():
    return jsonify({"symbols": list(current_app.config["SYMBOLS"])})
