"""API keys: create (shown once), list, revoke, and check one on a request (cached in Redis).

A key is `jk_` and 43 characters of base64url (256 random bits); only its SHA-256 is stored. A
checked key's record is cached for KEY_CACHE_SECONDS, written only where no entry is (SET NX); a
revoke overwrites the entry with a tombstone after it commits, so a reader that read the row just
before the commit cannot cache it alive afterwards: a revoked key stops working on the next request
in every web process. `last_used_at` is written after an answer below 400, at most once a minute.
"""

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import text

from journal.extensions import db, get_redis

KEY_PREFIX = "jk_"
KEY_CACHE_SECONDS = 60
# A revoke's tombstone outlives by far any reader's pause between reading the row and caching it.
REVOKED_MARK_SECONDS = 24 * 3600
USED_EVERY_SECONDS = 60
MAX_ACTIVE_KEYS = 10
READ, SIGNALS_WRITE = "read", "signals:write"


class KeyLimitReached(Exception):
    """The user has MAX_ACTIVE_KEYS keys already."""


@dataclass(frozen=True)
class KeyRecord:
    id: int
    user_id: int
    scope: str


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def cache_key(digest: str) -> str:
    return f"apikey:{digest}"


def create_key(user_id: int, name: str, scope: str) -> dict:
    """A new key for the user: its listing and, this once, the key itself."""
    active = db.session.scalar(
        text("SELECT count(*) FROM api_keys WHERE user_id = :u AND revoked_at IS NULL"), {"u": user_id}
    )
    if active >= MAX_ACTIVE_KEYS:
        db.session.rollback()
        raise KeyLimitReached()
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    row = db.session.execute(
        text(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, scope) "
            "VALUES (:u, :name, :prefix, :hash, :scope) "
            "RETURNING id, name, prefix, scope, created_at, last_used_at, revoked_at"
        ),
        {"u": user_id, "name": name, "prefix": raw[:10], "hash": key_hash(raw), "scope": scope},
    ).one()
    db.session.commit()
    return {**listing(row), "key": raw}


def listing(row: object) -> dict:
    def iso(value):  # noqa: ANN001, ANN202 - a datetime or None
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scope": row.scope,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


def list_keys(user_id: int, scope: str) -> list[dict]:
    rows = db.session.execute(
        text(
            "SELECT id, name, prefix, scope, created_at, last_used_at, revoked_at FROM api_keys "
            "WHERE user_id = :u AND scope = :scope ORDER BY id DESC"
        ),
        {"u": user_id, "scope": scope},
    ).all()
    return [listing(row) for row in rows]


def revoke_key(user_id: int, key_id: int, scope: str) -> bool:
    """Revoke one of the user's keys (of that scope); False when there is no such key."""
    row = db.session.execute(
        text(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE id = :id AND user_id = :u AND scope = :scope RETURNING key_hash"
        ),
        {"id": key_id, "u": user_id, "scope": scope},
    ).first()
    db.session.commit()
    if row is None:
        return False
    get_redis().set(cache_key(row.key_hash), "", ex=REVOKED_MARK_SECONDS)  # overwrites a live entry
    return True


def check_key(raw: str) -> KeyRecord | None:
    """The live key's record, or None for an unknown or revoked key."""
    digest = key_hash(raw)
    cached = get_redis().get(cache_key(digest))
    if cached is not None:
        return cached_record(cached)
    return remember(digest, read_key(digest))


def read_key(digest: str) -> KeyRecord | None:
    row = db.session.execute(
        text("SELECT id, user_id, scope FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"),
        {"h": digest},
    ).first()
    return KeyRecord(row.id, row.user_id, row.scope) if row else None


def remember(digest: str, record: KeyRecord | None) -> KeyRecord | None:
    """Cache what the database answered, unless an entry appeared meanwhile (another reader's, or a
    revoke's tombstone written after its commit): then that entry is the answer."""
    cache = get_redis()
    encoded = json.dumps(asdict(record)) if record else ""
    if cache.set(cache_key(digest), encoded, nx=True, ex=KEY_CACHE_SECONDS):
        return record
    cached = cache.get(cache_key(digest))
    return record if cached is None else cached_record(cached)


def cached_record(cached: str) -> KeyRecord | None:
    return KeyRecord(**json.loads(cached)) if cached else None


def record_use(key_id: int) -> None:
    """Stamp the key's last use (at most once per USED_EVERY_SECONDS), in a transaction of its own."""
    if not get_redis().set(f"apikey:used:{key_id}", "1", nx=True, ex=USED_EVERY_SECONDS):
        return
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET last_used_at = now() WHERE id = :id"), {"id": key_id})
