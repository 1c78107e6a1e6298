"""The outbox relay: sequence committed events in one serialized stream, emit them, mark them.

Every event a client must not miss (a signal's creation, its outcome) is an outbox row written in
the transaction that caused it. Here, under a session advisory lock, each row gets a gap-free
`seq` in the order rows become visible, so a reader's cursor can never jump over an event that
commits late. Each emission carries, per tier room, the seq of that room's previous event (`prev`),
so a client can tell a gap from a filter. Emission is at-least-once and in seq order: rows
sequenced but not yet emitted (a crash between the two steps) are emitted again first by the next
relay. An event that cannot be encoded is set aside (failed_at, error) before it takes a seq, so
the stream goes on without a hole that clients would wait on. The same pass chains new audit rows.

Passes run in the relay process (journal/relayd.py), woken by `nudge()` after a writer commits
and at least once a second without one.
"""

import json
import logging

from redis.exceptions import RedisError
from sqlalchemy import Connection, text

from journal.extensions import db, get_redis
from journal.stream import catchup, emit, events

RELAY_LOCK = 7_301_002
NUDGE_CHANNEL = "relay:nudge"
HEARTBEAT_KEY = "heartbeat:relay"  # when the relay process last ended a pass (journal/health reads it)
BATCH = 500
EVENT_NAMES = {"signal": events.SIGNAL_NEW, "outcome": events.SIGNAL_OUTCOME}
log = logging.getLogger(__name__)


def nudge() -> None:
    """Wake the relay process now (a Redis message; without it the relay looks within a second).

    Called after a commit: a failure here must not turn a stored event into an error answer, so
    any trouble is only logged.
    """
    try:
        get_redis().publish(NUDGE_CHANNEL, "1")
    except (RedisError, OSError) as err:
        log.warning("relay nudge failed (the relay looks again within a second): %s", err)


def relay() -> int | None:
    """One pass: sequence and emit everything pending; return how many events were emitted, or
    None when another relay holds the lock (it will see the same rows)."""
    with db.engine.connect() as conn:
        try:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK}):
                conn.rollback()
                return None
            conn.commit()
            emitted = drain(conn)
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK})
            conn.commit()
            return emitted
        except BaseException:
            conn.invalidate()  # closing the connection releases the session lock, whatever failed
            raise


def drain(conn: Connection) -> int:
    emitted = publish(conn, leftovers(conn))
    while True:
        batch, taken = sequence_batch(conn)
        emitted += publish(conn, batch)
        if taken < BATCH:
            return emitted


PENDING = text(
    f"SELECT o.id AS outbox_id, o.kind, {catchup.SIGNAL_COLUMNS} FROM outbox o "  # nosec B608
    "JOIN signals s ON s.id = o.signal_pk WHERE o.seq IS NULL AND o.failed_at IS NULL "
    "ORDER BY o.id LIMIT :n FOR UPDATE OF o"
)
LEFTOVERS = text(
    f"SELECT o.id AS outbox_id, o.kind, o.seq, o.rooms, {catchup.SIGNAL_COLUMNS} FROM outbox o "  # nosec B608
    "JOIN signals s ON s.id = o.signal_pk WHERE o.seq IS NOT NULL AND o.emitted_at IS NULL ORDER BY o.seq"
)
SET_SIGNAL_SEQ = text(
    "UPDATE signals s SET stream_seq = v.seq FROM unnest(:ids, :seqs) AS v(id, seq) WHERE s.id = v.id"
)
SET_EVENT_SEQ = text(
    "UPDATE outbox o SET seq = v.seq, sequenced_at = now(), rooms = v.plan "
    "FROM unnest(:ids, :seqs, CAST(:plans AS jsonb[])) AS v(id, seq, plan) WHERE o.id = v.id"
)
SET_ASIDE = text(
    "UPDATE outbox o SET failed_at = now(), error = v.error "
    "FROM unnest(:ids, CAST(:errors AS text[])) AS v(id, error) WHERE o.id = v.id"
)
COUNT_IN_STATS = text(
    "INSERT INTO signal_stats AS t (day, risk_tier, strategy, symbol, bucket, total) "
    "SELECT (created_at AT TIME ZONE 'UTC')::date, risk_tier, coalesce(strategy, source), symbol, "
    "least(confidence / 10 * 10, 90), count(*) FROM signals WHERE id = ANY(:ids) "
    "GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (day, risk_tier, strategy, symbol, bucket) "
    "DO UPDATE SET total = t.total + EXCLUDED.total"
)
SAVE_ROOMS = text(
    "INSERT INTO stream_rooms (room, last_seq) SELECT * FROM unnest(:rooms, :seqs) "
    "ON CONFLICT (room) DO UPDATE SET last_seq = EXCLUDED.last_seq"
)
CHAIN_AUDIT = text("SELECT chain_audit_log(:n)")


def encodable(row: object) -> tuple[dict | None, str | None]:
    """The event's public form, or why it cannot be emitted (every reader must be able to encode it)."""
    try:
        event = catchup.event_of(row)
        json.dumps(event, allow_nan=False)  # what browsers' JSON.parse accepts
        return event, None
    except (ValueError, TypeError, RecursionError) as err:
        return None, f"{type(err).__name__}: {err}"[:500]


def sequence_batch(conn: Connection) -> tuple[list[tuple[int, str, dict, dict]], int]:
    """Give the next visible events their seqs; returns (events to emit, rows taken)."""
    rows = conn.execute(PENDING, {"n": BATCH}).all()
    conn.execute(CHAIN_AUDIT, {"n": BATCH * 4})
    if not rows:
        conn.commit()
        return [], 0
    routes = emit.rooms_by_signal_tier(conn)
    last = dict(conn.execute(text("SELECT room, last_seq FROM stream_rooms")).all())
    seq = conn.scalar(catchup.POSITION)
    batch, set_aside, created = [], [], []
    for row in rows:
        event, error = encodable(row)
        if error:
            set_aside.append((row.outbox_id, error))
            continue
        seq += 1
        event["seq"] = seq
        plan = {}
        for room in routes.get(row.risk_tier, []):
            plan[room] = last.get(room, 0)
            last[room] = seq
        batch.append((row.outbox_id, row.kind, event, plan))
        if row.kind == "signal":
            created.append((row.id, seq))
    if batch:
        ids, seqs, plans = zip(*[(o, e["seq"], json.dumps(p)) for o, _, e, p in batch], strict=True)
        conn.execute(SET_EVENT_SEQ, {"ids": list(ids), "seqs": list(seqs), "plans": list(plans)})
    if created:
        conn.execute(SET_SIGNAL_SEQ, {"ids": [i for i, _ in created], "seqs": [s for _, s in created]})
        conn.execute(COUNT_IN_STATS, {"ids": [i for i, _ in created]})
    if set_aside:
        log.error("relay: set aside %d events that cannot be encoded: %s", len(set_aside), set_aside)
        conn.execute(SET_ASIDE, {"ids": [i for i, _ in set_aside], "errors": [e for _, e in set_aside]})
    conn.execute(SAVE_ROOMS, {"rooms": list(last), "seqs": list(last.values())})
    conn.commit()
    return batch, len(rows)


def leftovers(conn: Connection) -> list[tuple[int, str, dict, dict]]:
    """Events sequenced but never marked emitted (a crash between the steps), in seq order."""
    batch = []
    for row in conn.execute(LEFTOVERS).all():
        event, _ = encodable(row)
        event["seq"] = row.seq
        batch.append((row.outbox_id, row.kind, event, row.rooms))
    conn.commit()
    return batch


def publish(conn: Connection, batch: list[tuple[int, str, dict, dict]]) -> int:
    """Emit each event to its rooms with that room's prev, in seq order; then mark them emitted."""
    for _, kind, event, plan in batch:
        for room, prev in plan.items():
            emit.emit_event(EVENT_NAMES[kind], room, {**event, "prev": prev})
    if batch:
        conn.execute(
            text("UPDATE outbox SET emitted_at = now() WHERE id = ANY(:ids)"), {"ids": [b[0] for b in batch]}
        )
        conn.commit()
    return len(batch)
