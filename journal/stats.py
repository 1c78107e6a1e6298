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
    """Recompute the summary and cache it."""
    data = compute()
    get_redis().set(CACHE_KEY, json.dumps(data), ex=CACHE_SECONDS * 2)
    return data


def changed(data: dict) -> bool:
    """Whether the figures differ from the last pushed ones (uptime excepted: clients count it on)."""
    figures = json.dumps({k: v for k, v in data.items() if k != "uptime_seconds"}, sort_keys=True)
    return get_redis().getset(PUSHED_KEY, figures) != figures


def summary() -> dict:
    """The summary, from Redis when fresh (refreshed every second by beat), else recomputed."""
    cached = get_redis().get(CACHE_KEY)
    return json.loads(cached) if cached else refresh()
