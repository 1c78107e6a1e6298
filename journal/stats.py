"""Statistics derived from the stored log: the trigger-kept roll-up plus a 24 h window; cached in Redis."""

import json
import time

from sqlalchemy import text

from journal.domain import OUTCOME_COLUMNS
from journal.extensions import db, get_redis
from journal.stream import catchup, presence

CACHE_KEY = "stats:summary"
PUSHED_KEY = "stats:last_pushed"
CACHE_SECONDS = 1
LAST_KEY = "stats:summary:last"  # the last summary computed, for callers while one recomputes
LAST_SECONDS = 3600
REFRESH_LOCK = "stats:summary:refreshing"
REFRESH_LOCK_SECONDS = 10  # a refresher that dies holding it delays the next one at most this long
STARTED_KEY = "hub:running_since"
COUNTS = "sum(total) AS total, " + ", ".join(f"sum({name}) AS {name}" for name in OUTCOME_COLUMNS)
WINDOW_COUNTS = "count(*) AS total, " + ", ".join(
    f"count(*) FILTER (WHERE outcome = '{value}') AS {name}" for name, value in OUTCOME_COLUMNS.items()
)
DIMENSIONS = {
    "by_tier": "risk_tier",
    "by_strategy": "strategy",
    "by_symbol": "symbol",
    "by_confidence": "bucket",
}


def rates(row: dict) -> dict:
    data = {key: int(value or 0) for key, value in row.items()}
    decided = data["wins"] + data["losses"]  # NOT_FILLED, EXPIRED, ... are no decided trade
    data["win_rate"] = round(100 * data["wins"] / decided, 2) if decided else None
    return data


def breakdown(column: str) -> dict:
    rows = db.session.execute(
        # the names interpolated are this module's constants (DIMENSIONS, COUNTS, WINDOW_COUNTS)
        text(f"SELECT {column} AS key, {COUNTS} FROM signal_totals GROUP BY {column} ORDER BY {column}")  # nosec B608
    ).mappings()
    out = {}
    for row in rows:
        row = dict(row)
        key = row.pop("key")
        out[f"{key}-{key + 9}" if column == "bucket" else key] = rates(row)
    return out


def compute() -> dict:
    totals = text(f"SELECT {COUNTS} FROM signal_totals")  # nosec B608
    data = rates(dict(db.session.execute(totals).mappings().one()))
    data["today"] = int(
        db.session.scalar(
            text(
                "SELECT coalesce(sum(total), 0) FROM signal_stats "
                "WHERE day = (now() AT TIME ZONE 'UTC')::date"
            )
        )
    )
    data["active"] = db.session.scalar(
        text("SELECT count(*) FROM signals WHERE outcome IS NULL AND status = 'active'")
    )
    data["seq"] = catchup.current_seq()
    window = db.session.execute(
        text(f"SELECT {WINDOW_COUNTS} FROM signals WHERE created_at >= now() - interval '24 hours'")  # nosec B608
    ).mappings()
    data["last_24h"] = rates(dict(window.one()))
    for name, column in DIMENSIONS.items():
        data[name] = breakdown(column)
    db.session.commit()
    cache = get_redis()
    cache.set(STARTED_KEY, time.time(), nx=True)
    data["running_since"] = float(cache.get(STARTED_KEY))
    data["uptime_seconds"] = round(time.time() - data["running_since"])
    data["connected_users"] = presence.count()
    return data


def refresh() -> dict:
    """Recompute the summary and cache it (fresh for two seconds; the last one kept an hour)."""
    data = compute()
    encoded = json.dumps(data)
    get_redis().pipeline(transaction=False).set(CACHE_KEY, encoded, ex=CACHE_SECONDS * 2).set(
        LAST_KEY, encoded, ex=LAST_SECONDS
    ).execute()
    return data


def changed(data: dict) -> bool:
    """Whether the figures differ from the last pushed ones (uptime excepted: clients count it on)."""
    figures = json.dumps({k: v for k, v in data.items() if k != "uptime_seconds"}, sort_keys=True)
    return get_redis().getset(PUSHED_KEY, figures) != figures


def summary() -> dict:
    """The summary, from Redis when fresh (refreshed every second by beat), else recomputed by one
    caller at a time: while one does, the others (every socket of a reconnect storm greets with
    it) take the last summary instead of each running the same queries."""
    cache = get_redis()
    fresh = cache.get(CACHE_KEY)
    if fresh:
        return json.loads(fresh)
    last = cache.get(LAST_KEY)
    if last is None:  # the first summary ever: nothing to fall back on
        return refresh()
    if not cache.set(REFRESH_LOCK, "1", nx=True, ex=REFRESH_LOCK_SECONDS):
        return json.loads(last)
    try:
        return refresh()
    finally:
        cache.delete(REFRESH_LOCK)
