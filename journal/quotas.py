"""Plan quotas on integration requests: a daily allowance of API-key requests per user, by plan.

free 100, pro 10,000, elite unlimited (PLAN_DAILY_REQUESTS), counted by Flask-Limiter in Redis per
user, across all the user's keys and every web process; 429 with Retry-After and X-RateLimit-*
headers beyond. The dashboard's own requests (session tokens) and socket delivery are not metered
by plan; they keep the per-minute abuse limits.
"""

from flask import current_app
from limits import parse

from journal.accounts import Account
from journal.errors import APIError
from journal.extensions import limiter
from journal.identity import key_account, presented_key

SCOPE = "api-quota"


def daily_limit(account: Account) -> int | None:
    return current_app.config["PLAN_DAILY_REQUESTS"][account.plan]


def quota_key() -> str:
    return f"user:{key_account()[1].id}"


def plan_limit() -> str:
    return f"{daily_limit(key_account()[1])} per day"


def not_metered() -> bool:
    """Session requests, unlimited plans, and keys that fail (refused with 401 by the route's guard)."""
    if presented_key() is None:
        return True
    try:
        return daily_limit(key_account()[1]) is None
    except APIError:
        return True


metered = limiter.shared_limit(plan_limit, scope=SCOPE, key_func=quota_key, exempt_when=not_metered)


def usage(account: Account) -> dict:
    """The account's plan, its daily allowance of API-key requests, and what is left of it today."""
    limit = daily_limit(account)
    if limit is None or not current_app.config["RATELIMIT_ENABLED"]:  # unlimited, or limits switched off
        return {"plan": account.plan, "daily_limit": limit, "remaining": None, "resets_at": None}
    window = parse(f"{limit} per day")
    reset, remaining = limiter.limiter.get_window_stats(window, f"user:{account.id}", SCOPE)
    resets_at = int(reset) or None
    return {"plan": account.plan, "daily_limit": limit, "remaining": remaining, "resets_at": resets_at}
