"""Where each active signal's check stopped: its evaluator Progress in one Redis hash.

A cache, never the truth: candles are deterministic (simulated) or cached and refetchable, so a
lost entry is rebuilt by walking the signal again from its creation, and an outcome is still
recorded once (the database writes it only where none is stored). The worker role writes it
with one round trip per pass; entries of signals that are no longer active are dropped.
"""

import json

import redis
from sqlalchemy import text

from journal.engine.evaluate import Progress
from journal.extensions import db

PROGRESS_KEY = "outcomes:progress"
STILL_ACTIVE = text("SELECT id FROM signals WHERE id = ANY(:ids) AND outcome IS NULL AND status = 'active'")


def load(cache: redis.Redis, signal_pks: list[int]) -> dict[int, Progress]:
    """The stored progress of these signals (absent: never checked, or lost)."""
    if not signal_pks:
        return {}
    raw = cache.hmget(PROGRESS_KEY, signal_pks)
    return {pk: Progress(*json.loads(value)) for pk, value in zip(signal_pks, raw, strict=True) if value}


def save(cache: redis.Redis, changed: dict[int, Progress], settled: list[int]) -> None:
    """Store what advanced and forget what was settled, in one round trip."""
    pipe = cache.pipeline(transaction=False)
    if changed:
        pipe.hset(
            PROGRESS_KEY,
            mapping={pk: json.dumps([p.until, p.fill_price, p.last_close]) for pk, p in changed.items()},
        )
    if settled:
        pipe.hdel(PROGRESS_KEY, *settled)
    pipe.execute()


def prune(cache: redis.Redis, checked: set[int]) -> int:
    """Drop entries of signals that stopped being active elsewhere (archived, settled by hand)."""
    others = [int(pk) for pk in cache.hkeys(PROGRESS_KEY) if int(pk) not in checked]
    if not others:
        return 0
    active = set(db.session.scalars(STILL_ACTIVE, {"ids": others}))
    db.session.commit()
    stale = [pk for pk in others if pk not in active]
    if stale:
        cache.hdel(PROGRESS_KEY, *stale)
    return len(stale)
