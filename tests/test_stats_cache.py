"""The statistics cache under a connect storm: when the fresh summary has expired (beat late or
down), one caller recomputes it and every other caller meanwhile takes the last one, instead of
each socket's greeting running the same queries (18% of a web process's time in a 3,000-socket
connect storm before)."""

import json

from journal import stats
from journal.extensions import get_redis


def test_callers_while_one_recomputes_the_statistics_take_the_last_summary(app):
    with app.app_context():
        cache = get_redis()
        cache.delete(stats.CACHE_KEY)
        cache.set(stats.LAST_KEY, json.dumps({"total": -1, "marker": "last"}))
        cache.set(stats.REFRESH_LOCK, "1", ex=30)  # another process is recomputing
        try:
            assert stats.summary()["marker"] == "last"  # no second computation meanwhile
        finally:
            cache.delete(stats.REFRESH_LOCK)
        fresh = stats.summary()  # nobody recomputing: this caller does, and caches it
        assert "marker" not in fresh and fresh["total"] >= 0
        assert json.loads(cache.get(stats.CACHE_KEY)) == fresh == json.loads(cache.get(stats.LAST_KEY))
        assert cache.get(stats.REFRESH_LOCK) is None


def test_the_first_summary_ever_is_computed_even_while_another_caller_holds_the_lock(app):
    with app.app_context():
        cache = get_redis()
        cache.delete(stats.CACHE_KEY, stats.LAST_KEY)
        cache.set(stats.REFRESH_LOCK, "1", ex=30)
        try:
            assert stats.summary()["total"] >= 0  # nothing to fall back on: compute it
            assert cache.get(stats.REFRESH_LOCK) == "1"  # and leave the other caller's lock alone
        finally:
            cache.delete(stats.REFRESH_LOCK)
