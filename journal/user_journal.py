"""One user's journal (taken and noted signals) and personal statistics, from the stored log."""

from sqlalchemy import text

from journal.extensions import db
from journal.stream.catchup import with_state

# The page of entries first (the journal index, with its LIMIT), then their signals, each in its
# own partition (journal/stream/catchup.py says why in that order).
JOURNAL = text(
    "SELECT s.*, us.id AS entry_id, us.delivered_at, us.taken_at, us.journaled_at, us.notes "
    "FROM (SELECT * FROM user_signals WHERE user_id = :uid AND (taken_at IS NOT NULL OR notes IS NOT NULL) "
    "AND (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :n) us "
    "JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at ORDER BY us.id DESC"
)

# From the roll-ups (migration 013): the tier room's count of signals sent, and the user's own
# counts among the signals they took; not a scan of a heavy user's rows.
STATS = text(
    "SELECT coalesce((SELECT received FROM stream_rooms WHERE room = 'tier:' || :tier), 0) AS received, "
    "coalesce(u.taken, 0) AS taken, coalesce(u.journaled, 0) AS journaled, coalesce(u.wins, 0) AS wins, "
    # not_filled: taken but never entered, no trade, so out of the win rate
    "coalesce(u.losses, 0) AS losses, coalesce(u.not_filled, 0) AS not_filled, "
    "coalesce(u.taken - u.settled, 0) AS open FROM (SELECT 1) one LEFT JOIN user_stats u ON u.user_id = :uid"
)

DAILY = text(
    "SELECT to_char(d, 'YYYY-MM-DD') AS day, "
    "(SELECT count(*) FROM user_signals us WHERE us.user_id = :uid AND us.taken_at IS NOT NULL "
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
