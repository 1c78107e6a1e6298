"""The outbox relay: sequence committed signals in one serialized stream, emit them, mark them.

`stream_seq` is assigned here, under a session advisory lock, in the order rows become visible, so
a reader's cursor can never jump over a signal that commits late. Each emission carries, per tier
room, the seq of that room's previous signal (`prev`), so a client can tell a gap from a filter.
Emission is at-least-once and always in seq order: rows sequenced but not yet emitted (a crash
between the two steps) are emitted again first by the next relay.
"""

import json
import time

from flask import current_app
from sqlalchemy import Connection, text

from journal import broadcast, feed
from journal.extensions import db, get_redis
from journal.models import signal_dict

RELAY_LOCK = 7_301_002
NUDGE_KEY = "relay:nudge"
AGAIN_KEY = "relay:again"
HEARTBEAT_KEY = "heartbeat:relay"
BATCH = 500


def nudge() -> None:
    """Ask a worker to relay now; at most one pending nudge at a time (the beat sweep backs it up)."""
    if get_redis().set(NUDGE_KEY, "1", nx=True, ex=5):
        current_app.extensions["celery"].send_task("journal.relay_outbox")


def relay() -> int:
    """Sequence and emit everything pending; return how many rows were emitted.

    Only one relay runs at a time. One that finds the lock taken leaves a flag and returns at once
    (so it never ties up a worker process); the holder runs again while the flag is set, and looks
    once more after unlocking, so no nudge is lost between its last pass and its unlock.
    """
    cache = get_redis()
    cache.delete(NUDGE_KEY)
    cache.set(AGAIN_KEY, "1")
    cache.set(HEARTBEAT_KEY, time.time())
    emitted = 0
    while cache.exists(AGAIN_KEY):
        with db.engine.connect() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK}):
                conn.rollback()
                return emitted
            conn.commit()
            try:
                while cache.delete(AGAIN_KEY):
                    emitted += drain(conn)
            except BaseException:
                conn.invalidate()  # closing the connection releases the session lock
                raise
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK})
            conn.commit()
    return emitted


def drain(conn: Connection) -> int:
    emitted = 0
    while True:
        sequenced = sequence_batch(conn)
        done = emit_batch(conn)
        emitted += done
        if sequenced < BATCH and done < BATCH:
            return emitted


COUNT_IN_STATS = text(
    "INSERT INTO signal_stats AS t (day, risk_tier, strategy, symbol, bucket, total) "
    "SELECT (created_at AT TIME ZONE 'UTC')::date, risk_tier, coalesce(strategy, source), symbol, "
    "least(confidence / 10 * 10, 90), count(*) FROM signals WHERE id = ANY(:ids) "
    "GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (day, risk_tier, strategy, symbol, bucket) "
    "DO UPDATE SET total = t.total + EXCLUDED.total"
)


def sequence_batch(conn: Connection) -> int:
    rows = conn.execute(
        text(
            "SELECT o.id, o.signal_id, s.risk_tier FROM outbox o JOIN signals s ON s.id = o.signal_id "
            "WHERE o.sequenced_at IS NULL ORDER BY o.id LIMIT :n FOR UPDATE OF o"
        ),
        {"n": BATCH},
    ).all()
    if not rows:
        conn.commit()
        return 0
    routes = broadcast.rooms_by_signal_tier(conn)
    last = dict(conn.execute(text("SELECT room, last_seq FROM stream_rooms")).all())
    seq = conn.scalar(feed.POSITION)
    signal_ids, seqs, outbox_ids, plans = [], [], [], []
    for outbox_id, signal_id, tier in rows:
        seq += 1
        plan = {}
        for room in routes.get(tier, []):
            plan[room] = last.get(room, 0)
            last[room] = seq
        signal_ids.append(signal_id)
        seqs.append(seq)
        outbox_ids.append(outbox_id)
        plans.append(json.dumps(plan))
    conn.execute(
        text(
            "UPDATE signals s SET stream_seq = v.seq FROM unnest(:ids, :seqs) AS v(id, seq) WHERE s.id = v.id"
        ),
        {"ids": signal_ids, "seqs": seqs},
    )
    conn.execute(
        text(
            "UPDATE outbox o SET sequenced_at = now(), rooms = v.plan "
            "FROM unnest(:ids, CAST(:plans AS jsonb[])) AS v(id, plan) WHERE o.id = v.id"
        ),
        {"ids": outbox_ids, "plans": plans},
    )
    conn.execute(COUNT_IN_STATS, {"ids": signal_ids})
    conn.execute(
        text(
            "INSERT INTO stream_rooms (room, last_seq) SELECT * FROM unnest(:rooms, :seqs) "
            "ON CONFLICT (room) DO UPDATE SET last_seq = EXCLUDED.last_seq"
        ),
        {"rooms": list(last), "seqs": list(last.values())},
    )
    conn.commit()
    return len(rows)


def emit_batch(conn: Connection) -> int:
    rows = conn.execute(
        text(
            "SELECT o.id AS outbox_id, o.rooms, s.* FROM outbox o JOIN signals s ON s.id = o.signal_id "
            "WHERE o.sequenced_at IS NOT NULL AND o.emitted_at IS NULL "
            "ORDER BY s.stream_seq LIMIT :n"
        ),
        {"n": BATCH},
    ).all()
    for row in rows:
        payload = signal_dict(row)
        for room, prev in row.rooms.items():
            broadcast.emit_signal(room, payload, prev)
    if rows:
        conn.execute(
            text("UPDATE outbox SET emitted_at = now() WHERE id = ANY(:ids)"),
            {"ids": [row.outbox_id for row in rows]},
        )
    conn.commit()
    return len(rows)
