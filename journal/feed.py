"""Reading one tier's stream of signals: snapshots, keyset pages and catch-up after a cursor."""

from sqlalchemy import TextClause, text

from journal.extensions import db
from journal.models import signal_dict

TIER_SIGNALS = (
    "SELECT s.* FROM signals s JOIN signal_risk_map m ON m.signal_tier = s.risk_tier AND m.user_tier = :tier "
)
WITH_STATE = (
    "SELECT s.*, us.delivered_at, us.taken_at, us.journaled_at, us.notes FROM signals s "
    "JOIN signal_risk_map m ON m.signal_tier = s.risk_tier AND m.user_tier = :tier "
    "LEFT JOIN user_signals us ON us.signal_id = s.id AND us.user_id = :uid "
)
POSITION = text("SELECT coalesce(max(stream_seq), 0) FROM signals")


def received_tiers(user_tier: str) -> TextClause:
    """The signal tiers a user tier receives (signal_risk_map), as a subquery for IN (...)."""
    return text("SELECT signal_tier FROM signal_risk_map WHERE user_tier = :t").bindparams(t=user_tier)


def current_seq() -> int:
    """The stream position: every signal at or below it is sequenced and visible."""
    return db.session.scalar(POSITION)


def with_state(row: object) -> dict:
    data = signal_dict(row)
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
    rows = db.session.execute(
        text(WITH_STATE + "WHERE s.stream_seq <= :upper ORDER BY s.stream_seq DESC LIMIT :n"),
        {"tier": tier, "uid": user_id, "upper": upper, "n": limit},
    ).all()
    return [with_state(row) for row in rows], position


def after(tier: str, since: int, limit: int) -> list[dict]:
    """The tier's signals with seq > since, oldest first; each carries `prev` for gap checks."""
    rows = db.session.execute(
        text(TIER_SIGNALS + "WHERE s.stream_seq > :since ORDER BY s.stream_seq LIMIT :n"),
        {"tier": tier, "since": since, "n": limit},
    ).all()
    out, prev = [], since
    for row in rows:
        out.append({**signal_dict(row), "prev": prev})
        prev = row.stream_seq
    return out
