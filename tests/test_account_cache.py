"""Attacks on the account record cached in Redis: a forged or swapped record, a reader racing an admin."""

import json
from dataclasses import asdict

import pytest
import redis

from journal import account_cache
from journal.accounts import _from_user, cached_account, change_user
from journal.extensions import db
from journal.models import User


@pytest.fixture
def cache(services):
    return redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)


def headers(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_account_record_rewritten_in_redis_as_admin_does_not_grant_admin(client, make_user, login, cache):
    """Any process with Redis access (a worker, beat) could rewrite the record; only web processes
    hold the key its signature needs."""
    trader, admin = make_user("user", "low"), make_user("admin", "high")
    as_trader = headers(login(trader))
    login(admin)  # caches the admin's genuine record
    assert client.get("/api/admin/users", headers=as_trader).status_code == 403
    key = account_cache.record_key(trader["id"])
    genuine = cache.get(key)
    expires, mac, body = genuine.split(".", 2)
    record = json.loads(body)
    forgeries = {
        "plain JSON (the old format)": json.dumps({**record, "role": "admin"}),
        "the signature kept, the role changed": f"{expires}.{mac}.{json.dumps({**record, 'role': 'admin'})}",
        "an admin's genuine record": cache.get(account_cache.record_key(admin["id"])),
        "a longer life": f"{int(expires) + 3600}.{mac}.{body.replace('user', 'admin')}",
    }
    for what, forged in forgeries.items():
        cache.set(key, forged, ex=60)
        assert client.get("/api/admin/users", headers=as_trader).status_code == 403, what
        with client.application.app_context():  # the miss was read again and cached, genuine
            assert account_cache.unseal(trader["id"], cache.get(key))["role"] == "user", what


def test_forged_record_is_read_again_from_the_database(app, make_user, cache):
    trader = make_user("user", "low")
    key = account_cache.record_key(trader["id"])
    with app.app_context():
        cached_account(trader["id"])
        cache.set(key, cache.get(key).replace('"low"', '"high"'), ex=60)
        assert cached_account(trader["id"]).risk_tier == "low"  # a miss: from PostgreSQL
        assert account_cache.unseal(trader["id"], cache.get(key))["risk_tier"] == "low"  # re-cached


def test_reader_that_read_before_an_admin_change_cannot_cache_it_back(app, make_user, cache):
    """A reader reads the account, an admin commits a change and invalidates the cache, then the
    reader writes what it read: the admin's change must stand."""
    trader, admin = make_user("user", "high"), make_user("admin", "high")
    with app.app_context():
        seen = account_cache.generation(trader["id"])  # the reader, before its database read
        stale = asdict(_from_user(db.session.get(User, trader["id"])))
        db.session.rollback()
        change_user(admin["id"], trader["id"], {"risk_tier": "low"})  # commit, invalidate, re-read
        cache.delete(account_cache.record_key(trader["id"]))  # even with no record cached meanwhile
        account_cache.store(trader["id"], seen, stale)  # the reader's late write
        assert cache.get(account_cache.record_key(trader["id"])) is None
        assert cached_account(trader["id"]).risk_tier == "low"


def test_reader_that_cached_before_the_invalidation_is_dropped(app, make_user, cache):
    trader, admin = make_user("user", "high"), make_user("admin", "high")
    with app.app_context():
        seen = account_cache.generation(trader["id"])
        stale = asdict(_from_user(db.session.get(User, trader["id"])))
        db.session.rollback()
        account_cache.store(trader["id"], seen, stale)  # cached before the admin's change lands
        change_user(admin["id"], trader["id"], {"risk_tier": "low"})
        assert cached_account(trader["id"]).risk_tier == "low"
        record = account_cache.unseal(trader["id"], cache.get(account_cache.record_key(trader["id"])))
        assert record["risk_tier"] == "low"
