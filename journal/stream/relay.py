"""The outbox relay: sequence committed events in one serialized stream, publish them, move the mark.

Every event a client must not miss (a signal's creation, its outcome) is an outbox row written in
the transaction that caused it. Here, under a session advisory lock, each row gets a gap-free
`seq` in the order rows become visible, so a reader's cursor can never jump over an event that
commits late. Each published event carries, per tier room, the seq of that room's previous event
(`prev`), so a client can tell a gap from a filter. Publishing is at-least-once and in seq order:
relay_state.emitted_upto marks what was published, and events sequenced past it (a crash between
the steps) are published again first by the next pass. An event that cannot be encoded is set
aside (failed_at, error) before it takes a seq, so no client waits for it. The same statement
that sequences a batch counts it in the statistics and chains new audit rows.

A room's events of one batch go out as one message: `signal:new` or `signal:outcome` for one,
`signals:batch` for several. Passes run in the relay process (journal/relayd.py), woken by
`nudge()` after a writer commits and at least once a second without one.
"""

import logging

import orjson
from redis.exceptions import RedisError
from sqlalchemy import Connection, text

from journal.config import AUTOCOMMIT
from journal.extensions import db, get_redis
from journal.stream import catchup, emit, events

RELAY_LOCK = 7_301_002
NUDGE_CHANNEL = "relay:nudge"
HEARTBEAT_KEY = "heartbeat:relay"  # when the relay process last ended a pass (journal/health reads it)
BATCH = 500
EVENT_NAMES = {"signal": events.SIGNAL_NEW, "outcome": events.SIGNAL_OUTCOME}
log = logging.getLogger(__name__)

STATE = text(
    "SELECT (SELECT emitted_upto FROM relay_state) AS emitted, "
    "(SELECT coalesce(max(seq), 0) FROM outbox) AS position, "
    "(SELECT coalesce(json_object_agg(room, last_seq), '{}') FROM stream_rooms) AS rooms"
)
PENDING = text(  # the events first, then their signals (journal/stream/catchup.py says why)
    f"SELECT o.id AS outbox_id, o.kind, {catchup.SIGNAL_COLUMNS} FROM (SELECT id, kind, signal_pk, "  # nosec B608
    "signal_created_at FROM outbox WHERE seq IS NULL AND failed_at IS NULL ORDER BY id LIMIT :n) o "
    f"{catchup.EVENT_SIGNAL} ORDER BY o.id"
)
UNPUBLISHED = text(
    f"SELECT o.id AS outbox_id, o.kind, o.seq, {catchup.SIGNAL_COLUMNS} FROM (SELECT id, kind, seq, "  # nosec B608
    "signal_pk, signal_created_at FROM outbox WHERE seq > :after AND seq <= :upto ORDER BY seq LIMIT :n) o "
    f"{catchup.EVENT_SIGNAL} ORDER BY o.seq"
)
ROOM_BEFORE = text(  # the last event of a tier room at or before a position
    "SELECT coalesce(max(seq), 0) FROM outbox WHERE seq <= :upto "
    "AND signal_tier IN (SELECT signal_tier FROM signal_risk_map WHERE user_tier = :tier)"
)
# One statement, atomic on its own: the batch's seqs, its signals counted in the roll-ups, the
# rooms' last positions and how many signals each was sent, the events set aside, and the audit
# rows written since chained.
SEQUENCE = text(
    "WITH ev AS (UPDATE outbox o SET seq = v.seq, sequenced_at = now() "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[])) AS v(id, seq) WHERE o.id = v.id "
    "RETURNING o.signal_pk, o.signal_created_at, o.kind), "
    "st AS (INSERT INTO signal_stats AS t (day, risk_tier, strategy, symbol, bucket, total) "
    "SELECT (s.created_at AT TIME ZONE 'UTC')::date, s.risk_tier, coalesce(s.strategy, s.source), s.symbol, "
    "least(s.confidence / 10 * 10, 90), count(*) FROM ev JOIN signals s "
    "ON s.id = ev.signal_pk AND s.created_at = ev.signal_created_at WHERE ev.kind = 'signal' "
    "GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (day, risk_tier, strategy, symbol, bucket) "
    "DO UPDATE SET total = t.total + EXCLUDED.total), "
    "tt AS (INSERT INTO signal_totals AS t (risk_tier, strategy, symbol, bucket, total) "
    "SELECT s.risk_tier, coalesce(s.strategy, s.source), s.symbol, least(s.confidence / 10 * 10, 90), "
    "count(*) FROM ev JOIN signals s ON s.id = ev.signal_pk AND s.created_at = ev.signal_created_at "
    "WHERE ev.kind = 'signal' GROUP BY 1, 2, 3, 4 ON CONFLICT (risk_tier, strategy, symbol, bucket) "
    "DO UPDATE SET total = t.total + EXCLUDED.total), "
    "ro AS (INSERT INTO stream_rooms AS r (room, last_seq, received) "
    "SELECT * FROM unnest(CAST(:rooms AS text[]), CAST(:room_seqs AS bigint[]), "
    "CAST(:received AS bigint[])) ON CONFLICT (room) DO UPDATE SET last_seq = EXCLUDED.last_seq, "
    "received = r.received + EXCLUDED.received), "
    "fa AS (UPDATE outbox o SET failed_at = now(), error = v.error "
    "FROM unnest(CAST(:aside AS bigint[]), CAST(:errors AS text[])) AS v(id, error) WHERE o.id = v.id) "
    "SELECT chain_audit_log(:audit)"
)
MARK = text("UPDATE relay_state SET emitted_upto = :upto")


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
    """One pass: publish what a crashed pass left, then sequence and publish everything pending;
    return how many events were published, or None when another relay holds the lock."""
    with db.engines[AUTOCOMMIT].connect() as conn:
        try:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": RELAY_LOCK}):
                return None
            published = Pass(conn).run()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK})
            return published
        except BaseException:
            conn.invalidate()  # closing the connection releases the session lock, whatever failed
            raise


def encodable(row: object) -> tuple[dict | None, str | None]:
    """The event's public form, or why it cannot be emitted (every reader must be able to encode it)."""
    try:
        event = catchup.event_of(row)
        orjson.dumps(event)
        return event, None
    except (ValueError, TypeError) as err:
        return None, f"{type(err).__name__}: {err}"[:500]


class Pass:
    """One relay pass on a connection holding the relay lock (every statement in autocommit)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        state = conn.execute(STATE).one()
        self.emitted, self.position, self.last = state.emitted, state.position, dict(state.rooms)
        self.routes = emit.rooms_by_signal_tier(conn)

    def run(self) -> int:
        published = self.republish() if self.emitted < self.position else 0
        while True:
            rows = self.conn.execute(PENDING, {"n": BATCH}).all()
            if rows:
                published += self.publish(self.sequence(rows))
            if len(rows) < BATCH:
                return published

    def republish(self) -> int:
        """Events sequenced but perhaps never published (a pass that died between the steps)."""
        prev = {
            room: self.conn.scalar(ROOM_BEFORE, {"upto": self.emitted, "tier": room.removeprefix("tier:")})
            for rooms in self.routes.values()
            for room in rooms
        }
        batch = []
        window = {"after": self.emitted, "upto": self.position, "n": self.position - self.emitted}
        for row in self.conn.execute(UNPUBLISHED, window):
            event, _ = encodable(row)  # it was encoded once, when it took its seq
            plan = {room: prev[room] for room in self.routes.get(row.risk_tier, [])}
            prev.update(dict.fromkeys(plan, row.seq))
            batch.append((row.kind, {**event, "seq": row.seq}, plan))
        log.warning("relay: publishing %d events again after an interrupted pass", len(batch))
        return self.publish(batch)

    def sequence(self, rows: list) -> list[tuple[str, dict, dict]]:
        """Give the rows their seqs in order (setting aside those that cannot be encoded); returns
        (kind, event, {room: prev}) for each event to publish."""
        batch, ids, seqs, aside, errors = [], [], [], [], []
        received = dict.fromkeys(self.last, 0)
        for row in rows:
            event, error = encodable(row)
            if error:
                aside.append(row.outbox_id)
                errors.append(error)
                continue
            self.position += 1
            event["seq"] = self.position
            plan = {room: self.last.get(room, 0) for room in self.routes.get(row.risk_tier, [])}
            self.last.update(dict.fromkeys(plan, self.position))
            if row.kind == "signal":
                for room in plan:
                    received[room] = received.get(room, 0) + 1
            batch.append((row.kind, event, plan))
            ids.append(row.outbox_id)
            seqs.append(self.position)
        if aside:
            log.error("relay: set aside %d events that cannot be encoded: %s", len(aside), errors)
        params = {"ids": ids, "seqs": seqs, "aside": aside, "errors": errors, "audit": BATCH * 4}
        rooms = list(self.last)
        params.update(rooms=rooms, room_seqs=[self.last[r] for r in rooms])
        params["received"] = [received.get(room, 0) for room in rooms]
        self.conn.execute(SEQUENCE, params)
        return batch

    def publish(self, batch: list[tuple[str, dict, dict]]) -> int:
        """Each room's events of the batch, in seq order, as one message; then move the mark."""
        by_room: dict[str, list[tuple[str, dict]]] = {}
        for kind, event, plan in batch:
            for room, prev in plan.items():
                by_room.setdefault(room, []).append((kind, {**event, "prev": prev}))
        with emit.publishing():
            for room, room_events in by_room.items():
                if len(room_events) == 1:
                    kind, event = room_events[0]
                    emit.emit_event(EVENT_NAMES[kind], room, event)
                else:
                    emit.emit_event(events.SIGNALS_BATCH, room, {"signals": [e for _, e in room_events]})
        if batch:
            self.emitted = self.position
            self.conn.execute(MARK, {"upto": self.emitted})
        return len(batch)
