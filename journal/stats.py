"""Statistics derived from the signals table (never from counters kept in memory), cached in Redis."""

import json

from sqlalchemy import text

from journal import presence
from journal.extensions import db, get_redis

CACHE_KEY = "stats:summary"
CACHE_SECONDS = 1

SUMMARY = text(
    "SELECT count(*) AS total, "
    "count(*) FILTER (WHERE created_at >= date_trunc('day', now())) AS today, "
    "count(*) FILTER (WHERE status = 'active' AND outcome IS NULL) AS active, "
    "count(*) FILTER (WHERE outcome = 'WIN') AS wins, "
    "count(*) FILTER (WHERE outcome = 'LOSS') AS losses, "
    "count(*) FILTER (WHERE outcome = 'EXPIRED') AS expired, "
    "coalesce(max(stream_seq), 0) AS seq FROM signals"
)


def compute() -> dict:
    row = db.session.execute(SUMMARY).mappings().one()
    data = dict(row)
    decided = data["wins"] + data["losses"]
    data["win_rate"] = round(100 * data["wins"] / decided, 2) if decided else None
    data["connected_users"] = presence.count()
    return data


def refresh() -> dict:
    """Recompute the summary and cache it."""
    data = compute()
    get_redis().set(CACHE_KEY, json.dumps(data), ex=CACHE_SECONDS * 2)
    return data


def summary() -> dict:
    """The summary, from Redis when fresh (refreshed every second by beat), else recomputed."""
    cached = get_redis().get(CACHE_KEY)
    return json.loads(cached) if cached else refresh()
