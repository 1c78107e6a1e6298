"""One user's journal (taken and noted signals) and personal statistics, from the stored log."""

from sqlalchemy import text

from journal.domain import LOSS, NOT_FILLED, WIN
from journal.extensions import db
from journal.stream.catchup import with_state

JOURNAL = text(
    "SELECT s.*, us.id AS entry_id, us.delivered_at, us.taken_at, us.journaled_at, us.notes "
    "FROM user_signals us JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at "
    "WHERE us.user_id = :uid AND (us.taken_at IS NOT NULL OR us.notes IS NOT NULL) "
    "AND (CAST(:before AS bigint) IS NULL OR us.id < :before) ORDER BY us.id DESC LIMIT :n"
)

STATS = text(
    "SELECT "  # nosec B608
    # from the roll-up the relay keeps (one row per day, tier, strategy, symbol and bucket),
    # not a scan of every signal the tier ever received
    "(SELECT coalesce(sum(t.total), 0)::bigint FROM signal_stats t JOIN signal_risk_map m "
    " ON m.signal_tier = t.risk_tier AND m.user_tier = :tier) AS received, "
    "count(*) FILTER (WHERE us.taken_at IS NOT NULL) AS taken, "
    "count(*) FILTER (WHERE us.notes IS NOT NULL) AS journaled, "
    f"count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = '{WIN}') AS wins, "
    f"count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = '{LOSS}') AS losses, "
    # taken but never filled: no trade, so out of the win rate
    f"count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = '{NOT_FILLED}') AS not_filled, "
    "count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome IS NULL) AS open "
    "FROM user_signals us JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at "
    "WHERE us.user_id = :uid"
)

DAILY = text(
    "SELECT to_char(d, 'YYYY-MM-DD') AS day, "
    "(SELECT count(*) FROM user_signals us WHERE us.user_id = :uid "
    " AND us.taken_at >= d AND us.taken_at < d + interval '1 day') AS taken "
    "FROM generate_series(date_trunc('day', now()) - interval '13 days', date_trunc('day', now()), "
    "interval '1 day') AS d ORDER BY d"
)


def journal_page(user_id: int, before: int | None, limit: int) -> tuple[list[dict], int | None]:
    rows = db.session.execute(JOURNAL, {"uid": user_id, "before": before, "n": limit}).all()
    next_cursor = rows[-1].entry_id if len(rows) == limit else None
    return [with_state(row) for row in rows], next_cursor


def personal_stats(user_id: int, tier: str) -> dict:
    data = dict(db.session.execute(STATS, {"uid": user_id, "tier": tier}).mappings().one())
    decided = data["wins"] + data["losses"]
    data["win_rate"] = round(100 * data["wins"] / decided, 2) if decided else None
    data["taken_by_day"] = [dict(row) for row in db.session.execute(DAILY, {"uid": user_id}).mappings()]
    return data
