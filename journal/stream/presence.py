"""Who is connected: each web process refreshes its users in a Redis sorted set; stale ones age out."""

import time

from journal.extensions import get_redis

KEY = "presence:users"
FRESH_SECONDS = 30


def touch(user_ids: set[int]) -> None:
    if user_ids:
        now = time.time()
        get_redis().zadd(KEY, {str(uid): now for uid in user_ids})


def leave(user_id: int) -> None:
    get_redis().zrem(KEY, str(user_id))


def count() -> int:
    cache = get_redis()
    cache.zremrangebyscore(KEY, 0, time.time() - FRESH_SECONDS)
    return cache.zcard(KEY)
