"""Delivery receipts: acks go to a Redis list on the hot path; a task writes them in batches.

Receipts are best-effort: the list holds at most RECEIPTS_QUEUE_MAX entries (a stalled flush, or
a flood of acks, cannot fill Redis); acks beyond are dropped with a log line, and a receipt lost so
only leaves `delivered_at` empty. Nothing a client must receive depends on them.
"""

import logging
import time
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from journal.extensions import db, get_redis

QUEUE = "receipts"
BATCH = 5000
log = logging.getLogger(__name__)
LOG_FULL_SECONDS = 10  # while the queue stays full: one log line this often, not one per ack
_logged_full_at = 0.0


def record(user_id: int, signal_ids: list[str]) -> int:
    """Queue receipts for valid signal ids; returns how many were queued (none past the cap)."""
    global _logged_full_at
    now = datetime.now(UTC).isoformat()
    items = []
    for sid in signal_ids[:500]:
        try:
            items.append(f"{user_id}|{uuid.UUID(str(sid))}|{now}")
        except ValueError:
            continue
    if not items:
        return 0
    cap = current_app.config["RECEIPTS_QUEUE_MAX"]
    pipe = get_redis().pipeline()
    pipe.rpush(QUEUE, *items)
    pipe.ltrim(QUEUE, 0, cap - 1)  # the newest go: flush() takes from the head
    length, _ = pipe.execute()
    dropped = min(len(items), max(0, length - cap))
    if dropped and time.monotonic() - _logged_full_at >= LOG_FULL_SECONDS:
        _logged_full_at = time.monotonic()
        log.warning("receipts queue full (%d entries): dropping acks (%d of user %d)", cap, dropped, user_id)
    return len(items) - dropped


def flush() -> int:
    """Write queued receipts for signals each user's tier receives; the first delivery is kept. Idempotent."""
    cache = get_redis()
    items = cache.lrange(QUEUE, 0, BATCH - 1)
    if not items:
        return 0
    first: dict[tuple[int, str], str] = {}
    for item in items:
        user_id, signal_id, at = item.split("|")
        key = (int(user_id), signal_id)
        first[key] = min(at, first.get(key, at))
    db.session.execute(
        text(
            "INSERT INTO user_signals (user_id, signal_pk, signal_created_at, delivered_at) "
            "SELECT v.uid, s.id, s.created_at, v.at FROM unnest(:uids, CAST(:sids AS uuid[]), "
            "CAST(:ats AS timestamptz[])) AS v(uid, sid, at) "
            "JOIN signals s ON s.signal_id = v.sid JOIN users u ON u.id = v.uid "
            # only signals the user's tier receives: an ack cannot write state on any other
            "JOIN signal_risk_map m ON m.user_tier = u.risk_tier AND m.signal_tier = s.risk_tier "
            "ON CONFLICT (user_id, signal_pk, signal_created_at) "
            "DO UPDATE SET delivered_at = EXCLUDED.delivered_at "
            "WHERE user_signals.delivered_at IS NULL"
        ),
        {
            "uids": [k[0] for k in first],
            "sids": [k[1] for k in first],
            "ats": list(first.values()),
        },
    )
    db.session.commit()
    cache.ltrim(QUEUE, len(items), -1)
    return len(items)
