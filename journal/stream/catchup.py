"""Reading one tier's stream: snapshots and keyset pages of signals, and the events after a cursor."""

import orjson
from sqlalchemy import TextClause, text

from journal.extensions import db
from journal.models import PRICE_COLUMNS, signal_dict

# A signal's columns for events, with the payload as text: the relay parses it itself, so one
# payload that cannot be parsed or encoded is set aside instead of failing the whole batch.
# Prices and the public id as PostgreSQL writes them, which saves Python parsing and formatting
# them again for every event.
SIGNAL_COLUMNS = ", ".join(
    [
        "s.id, s.signal_id::text AS signal_id, s.symbol, s.side, s.risk_tier, s.confidence, s.grade",
        "s.timeframe, s.source, s.strategy, s.payload::text AS payload, s.status, s.outcome",
        "s.outcome_at, s.expires_at, s.created_at",
        *(f"trim_scale(s.{name})::text AS {name}" for name in PRICE_COLUMNS),
    ]
)
# Reading the log: the events are picked first, along the seq index and with their LIMIT (a
# subquery the planner keeps as it is), then joined to their signals in their own partitions;
# written as one join, the planner misjudged the (id, created_at) join and sorted the whole log.
EVENT_SIGNAL = "JOIN signals s ON s.id = o.signal_pk AND s.created_at = o.signal_created_at"
TIER_RECEIVES = "ARRAY(SELECT signal_tier FROM signal_risk_map WHERE user_tier = :tier)"
EVENTS_AFTER = text(
    f"SELECT o.seq, o.kind, {SIGNAL_COLUMNS} FROM (SELECT seq, kind, signal_pk, signal_created_at "  # nosec B608
    f"FROM outbox WHERE seq > :since AND signal_tier = ANY({TIER_RECEIVES}) ORDER BY seq LIMIT :n) o "
    f"{EVENT_SIGNAL} ORDER BY o.seq"
)
# A tier's signals newest first with one user's state: the log's signal events, walked back from
# a position, joined to their signals and the user's row in the same partition.
FEED = text(
    f"SELECT {SIGNAL_COLUMNS}, o.seq, us.delivered_at, us.taken_at, us.journaled_at, us.notes FROM "  # nosec B608
    "(SELECT seq, signal_pk, signal_created_at FROM outbox WHERE kind = 'signal' AND seq <= :upper "
    f"AND signal_tier = ANY({TIER_RECEIVES}) ORDER BY seq DESC LIMIT :n) o {EVENT_SIGNAL} "
    "LEFT JOIN user_signals us ON us.signal_pk = s.id AND us.signal_created_at = s.created_at "
    "AND us.user_id = :uid ORDER BY o.seq DESC"
)
POSITION = text("SELECT coalesce(max(seq), 0) FROM outbox")


def received_tiers(user_tier: str) -> TextClause:
    """The signal tiers a user tier receives (signal_risk_map), as a subquery for IN (...)."""
    return text("SELECT signal_tier FROM signal_risk_map WHERE user_tier = :t").bindparams(t=user_tier)


def room_positions() -> dict[str, int]:
    """Each tier room's last stream position (what the relay last sequenced for it)."""
    return dict(db.session.execute(text("SELECT room, last_seq FROM stream_rooms")).all())


def current_seq() -> int:
    """The stream position: every event at or below it is sequenced and visible."""
    return db.session.scalar(POSITION)


def with_state(row: object) -> dict:
    data = signal_dict(row)
    if isinstance(data["payload"], str):  # read as text (SIGNAL_COLUMNS)
        data["payload"] = orjson.loads(data["payload"])
    data["mine"] = {
        "delivered_at": row.delivered_at and row.delivered_at.isoformat(),
        "taken_at": row.taken_at and row.taken_at.isoformat(),
        "journaled_at": row.journaled_at and row.journaled_at.isoformat(),
        "notes": row.notes,
    }
    return data


def page(tier: str, user_id: int, before: int | None, limit: int) -> tuple[list[dict], int]:
    """Newest first, keyset on seq; returns (signals, stream position at the time of reading)."""
    position = current_seq()
    upper = min(before - 1, position) if before else position
    rows = db.session.execute(FEED, {"tier": tier, "uid": user_id, "upper": upper, "n": limit}).all()
    return [with_state(row) for row in rows], position


def event_of(row: object) -> dict:
    """A stream event: the signal's public form with the event's `seq` and `kind` ("signal" for its
    creation, "outcome" for its outcome); `prev` is added per room by whoever sends it. The payload,
    selected as text, is parsed by orjson, which refuses what some client could not read back:
    numbers past a double's range (PostgreSQL keeps 1e400 as 401 digits) and nesting past 1,024
    levels. An integer past 64 bits within that range comes back as the nearest double (the API
    stores none: payload numbers stay within 2^53)."""
    event = signal_dict(row)
    event["payload"] = orjson.loads(event["payload"])
    event["kind"] = row.kind
    if hasattr(row, "seq"):
        event["seq"] = row.seq
    return event


def after(tier: str, since: int, limit: int) -> list[dict]:
    """The tier's events with seq > since, oldest first; each carries `prev` for gap checks."""
    rows = db.session.execute(EVENTS_AFTER, {"tier": tier, "since": since, "n": limit}).all()
    out, prev = [], since
    for row in rows:
        out.append({**event_of(row), "prev": prev})
        prev = row.seq
    return out
