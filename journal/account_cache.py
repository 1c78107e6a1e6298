"""The account record cached in Redis: signed, so no Redis client can forge one, never stale after a change.

Redis is shared by every process (web, worker, beat, relay), so a record read from it is only as
trustworthy as the least trusted of them. Each record carries an HMAC-SHA256 with a key derived
from SECRET_KEY, which only web processes hold, over the user id, the record and its own expiry:
a record rewritten in Redis (role "admin", another user's record, a longer life) fails the check
and is treated as a cache miss, read again from PostgreSQL. What a Redis client can still do is
put back a record it saw earlier, until that record's expiry (at most CACHE_SECONDS); a role
change or a disable also cuts every token in the database (users.tokens_valid_after).

Readers never undo an admin's change: a reader notes the account's generation before it reads the
database and stores its record only if the generation is still the same (one Lua step); a writer
bumps the generation and drops the record after its commit. A record read before the commit is
thus either refused or dropped.
"""

import hashlib
import hmac
import json
import time

from flask import current_app

from journal.extensions import get_redis

CACHE_SECONDS = 60
KEY_PURPOSE = b"journal account cache v1"

# KEYS: record, generation. ARGV: the generation the reader saw ("" for none), record, seconds.
STORE_IF_UNCHANGED = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def record_key(user_id: int) -> str:
    return f"account:{user_id}"


def generation_key(user_id: int) -> str:
    return f"account:{user_id}:gen"


def _signing_key() -> bytes | None:
    """HMAC key derived from SECRET_KEY (None in a process without it: nothing is cached there)."""
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        return None
    return hmac.new(secret.encode(), KEY_PURPOSE, hashlib.sha256).digest()


def _mac(key: bytes, user_id: int, expires: int, body: str) -> str:
    return hmac.new(key, f"{user_id}|{expires}|{body}".encode(), hashlib.sha256).hexdigest()


def seal(user_id: int, record: dict) -> str | None:
    """The signed form of `record` for Redis, or None where this process cannot sign."""
    key = _signing_key()
    if key is None:
        return None
    expires, body = int(time.time()) + CACHE_SECONDS, json.dumps(record, sort_keys=True)
    return f"{expires}.{_mac(key, user_id, expires, body)}.{body}"


def unseal(user_id: int, raw: str | None) -> dict | None:
    """The record of `user_id` if `raw` is one this deployment's web processes signed and it has not
    expired; None (a cache miss) otherwise."""
    key = _signing_key()
    if raw is None or key is None:
        return None
    try:
        expires_text, mac, body = raw.split(".", 2)
        expires = int(expires_text)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _mac(key, user_id, expires, body)) or expires < time.time():
        return None
    record = json.loads(body)
    return record if record.get("id") == user_id else None


def generation(user_id: int) -> str:
    """Read before the database: what `store` compares with."""
    return get_redis().get(generation_key(user_id)) or ""


def store(user_id: int, seen_generation: str, record: dict) -> None:
    """Cache `record` (read from the database after `generation()` answered `seen_generation`),
    unless the account changed since."""
    sealed = seal(user_id, record)
    if sealed is not None:
        keys = (record_key(user_id), generation_key(user_id))
        get_redis().eval(STORE_IF_UNCHANGED, 2, *keys, seen_generation, sealed, CACHE_SECONDS)


def invalidate(pipe: object, user_id: int) -> None:
    """Queue on a Redis pipeline (MULTI) what a writer does after its commit: a new generation, no record."""
    pipe.incr(generation_key(user_id))
    pipe.delete(record_key(user_id))
