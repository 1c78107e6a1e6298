"""Delivery receipts: acks go to a Redis list on the hot path; a task writes them in batches."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from journal.extensions import db, get_redis

QUEUE = "receipts"
BATCH = 5000


def record(user_id: int, signal_ids: list[str]) -> int:
    """Queue receipts for valid signal ids; returns how many were queued."""
    now = datetime.now(UTC).isoformat()
    items = []
    for sid in signal_ids[:500]:
        try:
            items.append(f"{user_id}|{uuid.UUID(str(sid))}|{now}")
        except ValueError:
            continue
    if items:
        get_redis().rpush(QUEUE, *items)
    return len(items)


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
            "INSERT INTO user_signals (user_id, signal_pk, delivered_at) "
            "SELECT v.uid, s.id, v.at FROM unnest(:uids, CAST(:sids AS uuid[]), "
            "CAST(:ats AS timestamptz[])) AS v(uid, sid, at) "
            "JOIN signals s ON s.signal_id = v.sid JOIN users u ON u.id = v.uid "
            # only signals the user's tier receives: an ack cannot write state on any other
            "JOIN signal_risk_map m ON m.user_tier = u.risk_tier AND m.signal_tier = s.risk_tier "
            "ON CONFLICT (user_id, signal_pk) DO UPDATE SET delivered_at = EXCLUDED.delivered_at "
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
