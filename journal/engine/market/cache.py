"""OHLC cache in Redis: closed candles never change, so a restart does not refetch recent history.

Each (symbol, timeframe) series is one contiguous run of candles in a sorted set scored by open
time. Every write trims it to its newest CACHE_CANDLES candles, and a series no one writes expires
after TTL_SECONDS, so Redis holds at most symbols x timeframes x CACHE_CANDLES candles however
long the hub runs (measured: about 0.6 MB per full series, some 60 MB for 50 symbols on two
timeframes). Older ranges (a long backtest, a signal catching up after its progress was lost)
are read from the provider again and not kept. Reads return only contiguous candles, so a hole in the set (two
writers racing) costs a refetch, never a false gap.
"""

import json

from journal.engine.market import EPSILON, Candle, Provider
from journal.extensions import get_redis

CACHE_CANDLES = 2880  # two days of 1m candles, ten of 5m
TTL_SECONDS = 7 * 86400


def decode(raw: str) -> Candle:
    return Candle(*json.loads(raw))


def cut_at_hole(rows: list[Candle]) -> list[Candle]:
    """The leading run of `rows` without a missing candle."""
    for i in range(1, len(rows)):
        if rows[i].ts > rows[i - 1].end + EPSILON:
            return rows[:i]
    return rows


def latest_run(rows: list[Candle]) -> list[Candle]:
    """The trailing run of `rows` without a missing candle."""
    for i in range(len(rows) - 1, 0, -1):
        if rows[i].ts > rows[i - 1].end + EPSILON:
            return rows[i:]
    return rows


class CachedProvider:
    """Keeps the newest closed candles per (symbol, timeframe) in Redis; fetches only what is missing."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner

    def candles(self, symbol: str, timeframe: str, start: float | None, limit: int) -> list[Candle]:
        key = f"ohlc:{symbol}:{timeframe}"
        cached = self.cached(key, start, limit)
        if start is not None and len(cached) == limit:
            return cached
        tail = cached[-1].end if cached else start
        newer = self.inner.candles(symbol, timeframe, tail, limit)
        if start is None and cached and len(newer) >= limit:  # the cached run is too old to reach now
            cached, newer = [], self.inner.candles(symbol, timeframe, None, limit)
        self.store(key, newer)
        merged = {c.ts: c for c in cached + newer}
        rows = [merged[ts] for ts in sorted(merged)]
        return rows[-limit:] if start is None else rows[:limit]

    def cached(self, key: str, start: float | None, limit: int) -> list[Candle]:
        """The cached candles that answer the request, contiguous (empty when the cache cannot help)."""
        cache = get_redis()
        if start is None:
            return latest_run([decode(raw) for raw in cache.zrange(key, -limit, -1)])
        rows = [decode(raw) for raw in cache.zrangebyscore(key, start, "+inf", start=0, num=limit)]
        if rows and rows[0].ts > start + rows[0].seconds:
            return []  # the cache starts later than asked: read the range from the provider
        return cut_at_hole(rows)

    def store(self, key: str, candles: list[Candle]) -> None:
        """Extend the cached run with newer candles (after a hole: a new run); older ones are dropped."""
        if not candles:
            return
        cache = get_redis()
        newest = cache.zrange(key, -1, -1)
        pipe = cache.pipeline()
        if newest:
            end = decode(newest[0]).end
            candles = [c for c in candles if c.ts >= end - EPSILON]
            if not candles:
                return
            if candles[0].ts > end + EPSILON:
                pipe.delete(key)
        pipe.zadd(key, {json.dumps(c.as_list()): c.ts for c in candles})
        pipe.zremrangebyrank(key, 0, -CACHE_CANDLES - 1)
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()

    def price(self, symbol: str) -> float | None:
        return self.inner.price(symbol)
