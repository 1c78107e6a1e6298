"""OHLC cache in Redis: closed candles never change, so a restart does not refetch history."""

import json

from journal.extensions import get_redis
from journal.market import Candle, Provider

TTL_SECONDS = 7 * 86400


class CachedProvider:
    """Keeps closed candles per (symbol, timeframe) in a Redis sorted set scored by open time."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner

    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        key = f"ohlc:{symbol}:{timeframe}"
        cache = get_redis()
        cached = [Candle(*json.loads(raw)) for raw in cache.zrangebyscore(key, start or "-inf", "+inf")]
        if start is not None and cached and cached[0].ts > start + cached[0].seconds:
            cached = []  # the cache starts later than asked: fetch the whole range
        tail = cached[-1].end if cached else start
        newer = self.inner.candles(symbol, timeframe, tail, limit)
        if newer:
            cache.zadd(key, {json.dumps(c.as_list()): c.ts for c in newer})
            cache.expire(key, TTL_SECONDS)
        merged = {c.ts: c for c in cached + newer}
        rows = [merged[ts] for ts in sorted(merged)]
        return rows[-limit:] if start is None else rows[:limit]

    def price(self, symbol: str) -> float | None:
        return self.inner.price(symbol)
