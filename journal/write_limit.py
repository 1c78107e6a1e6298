"""The rate limit on signal writes (RATELIMIT_WRITE, per user): a fixed window counted in Redis in
one round trip. Flask-Limiter, which keeps the other limits, spent a fifth of a post's CPU on it
(0.35 of 1.8 ms, measured in-process), the hottest route of the hub."""

import time
from collections.abc import Callable
from functools import cache, wraps

from flask import current_app
from limits import parse

from journal.errors import APIError
from journal.extensions import get_redis
from journal.identity import current_account


@cache
def window_of(limit: str) -> tuple[int, int]:
    """("600 per minute") -> (600, 60)."""
    item = parse(limit)
    return item.amount, item.get_expiry()


def count_write(user_id: int) -> None:
    """Count one write of the user in this window; APIError 429 with Retry-After past the limit."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    amount, seconds = window_of(config["RATELIMIT_WRITE"])
    now = time.time()
    window = int(now // seconds)
    key = f"limit:writes:{user_id}:{window}"
    with get_redis().pipeline(transaction=False) as pipe:
        used, _ = pipe.incr(key).expire(key, seconds * 2).execute()
    if used > amount:
        retry_after = max(1, int((window + 1) * seconds - now + 0.999))
        raise APIError(
            429,
            f"Too many requests: at most {config['RATELIMIT_WRITE']} signal writes per user.",
            retry_after=retry_after,
        )


def write_limited(view: Callable) -> Callable:
    """Count the request against the caller's write limit (after their token or key is checked)."""

    @wraps(view)
    def limited(*args: object, **kwargs: object) -> object:
        count_write(current_account().id)
        return view(*args, **kwargs)

    return limited
