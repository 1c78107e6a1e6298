"""record_signals(): the one write path of signals, one or a batch: keys, signals, outbox and audit rows
in one statement (atomic on its own, run in autocommit: one round trip), then a nudge to the relay.

Each signal takes its dedup identity's key first (journal/stream/keys.py); a key that exists
already inserts nothing for that signal, which is then a duplicate of the stored one (the same
core values) or a conflict (other values under the same key). Signals get their id from their key
row and their created_at from the database. One audit row covers the statement's signals.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from journal.config import AUTOCOMMIT
from journal.domain import TIMEFRAME_SECONDS, grade_for
from journal.extensions import db
from journal.models import signal_dict
from journal.stream import relay
from journal.stream.keys import content_identity, key_hash

EXPIRY_CANDLES = 48  # a signal without expires_at expires after 48 candles of its timeframe
CORE_FIELDS = ("symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier")
COLUMNS = {  # column -> its PostgreSQL type, in the order of the statement's arrays
    "symbol": "text", "side": "text", "entry_price": "numeric", "stop_loss": "numeric",
    "take_profit": "numeric", "risk_tier": "text", "confidence": "smallint", "grade": "text",
    "timeframe": "text", "source": "text", "strategy": "text", "payload": "jsonb",
    "expires_at": "timestamptz", "created_by": "bigint", "dedup_key": "text",
}  # fmt: skip
ARRAYS = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in {"key_hash": "bytea", **COLUMNS}.items())
RECORD = text(
    f"WITH i AS (SELECT * FROM unnest({ARRAYS}) AS i(key_hash, {', '.join(COLUMNS)})), "  # nosec B608
    "k AS (INSERT INTO signal_keys (key_hash) SELECT key_hash FROM i "
    "ON CONFLICT (key_hash) DO NOTHING RETURNING key_hash, signal_pk), "
    f"s AS (INSERT INTO signals (id, {', '.join(COLUMNS)}) "  # nosec B608
    f"SELECT k.signal_pk, {', '.join('i.' + name for name in COLUMNS)} FROM i JOIN k USING (key_hash) "
    "ORDER BY k.signal_pk RETURNING *), "
    "o AS (INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
    "SELECT id, created_at, 'signal', risk_tier FROM s ORDER BY id), "
    "a AS (INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) "
    "SELECT :actor, 'signal.create', 'signal', "
    "CASE WHEN count(*) = 1 THEN min(signal_id::text) ELSE count(*) || ' signals' END, "
    "jsonb_build_object('source', :audit_source, 'signals', jsonb_agg(signal_id ORDER BY id)) "
    "FROM s HAVING count(*) > 0) "
    "SELECT s.*, k.key_hash FROM s JOIN k ON k.signal_pk = s.id"
)
STORED = text(
    "SELECT s.*, k.key_hash FROM signal_keys k JOIN signals s "
    "ON s.id = k.signal_pk AND s.created_at = k.signal_created_at WHERE k.key_hash = ANY(:hashes)"
)


class KeyConflict(Exception):
    """The idempotency (dedup) key was used before for a signal with other values."""


@dataclass
class Recorded:
    signal: dict  # the public form of the signal (models.signal_dict)
    created: bool


def values_of(data: dict, source: str, created_by: int | None, key: str | None) -> dict:
    """The columns of one validated signal, defaults applied; `identity` is its dedup identity."""
    values = {name: data.get(name) for name in COLUMNS}
    values["confidence"] = data.get("confidence", 50)
    values["grade"] = values["grade"] or grade_for(values["confidence"])
    values["timeframe"] = data.get("timeframe", "1h")
    values["payload"] = data.get("payload") or {}
    values["given_expiry"] = values["expires_at"].isoformat() if values["expires_at"] else None
    if values["expires_at"] is None:
        seconds = TIMEFRAME_SECONDS[values["timeframe"]] * EXPIRY_CANDLES
        values["expires_at"] = datetime.now(UTC) + timedelta(seconds=seconds)
    values.update(source=source, created_by=created_by, dedup_key=key or data.get("dedup_key"))
    values["identity"] = values["dedup_key"] or content_identity(values)
    return values


def record_signals(
    items: list[dict], *, source: str, created_by: int | None = None, keys: list[str | None] | None = None
) -> list["Recorded | KeyConflict"]:
    """Store validated signals once each, in one statement; for each item in order a Recorded, or
    a KeyConflict when its key holds a signal with other core values (none is raised).

    `keys` are the items' idempotency keys (None where none). An item whose key repeats an earlier
    item of the same call is that item's duplicate. The relay is nudged only after the commit.
    """
    if not items:
        return []
    keys = keys or [None] * len(items)
    rows = [values_of(data, source, created_by, key) for data, key in zip(items, keys, strict=True)]
    hashes = [key_hash(row["identity"]) for row in rows]
    first = {}
    for index, digest in enumerate(hashes):
        first.setdefault(digest, index)
    fresh = [index for index, digest in enumerate(hashes) if first[digest] == index]
    params = {name: [rows[i][name] for i in fresh] for name in COLUMNS}
    params["payload"] = [json.dumps(payload) for payload in params["payload"]]
    params.update(key_hash=[hashes[i] for i in fresh], actor=created_by, audit_source=source)
    with db.engines[AUTOCOMMIT].connect() as conn:
        created = {bytes(row.key_hash): row for row in conn.execute(RECORD, params)}
        missing = [hashes[i] for i in fresh if hashes[i] not in created]
        stored = {}
        if missing:
            stored = {bytes(row.key_hash): row for row in conn.execute(STORED, {"hashes": missing})}
    if created:
        relay.nudge()
    results, seen = [], set()
    for data, digest in zip(items, hashes, strict=True):
        row = created.get(digest) or stored.get(digest)
        if row is None:  # a key without its signal, written behind the API's back: refuse, never 500
            results.append(KeyConflict("key"))
        elif any(getattr(row, name) != data[name] for name in CORE_FIELDS):
            results.append(KeyConflict(row.dedup_key or "content"))
        else:
            results.append(Recorded(signal_dict(row), created=digest in created and digest not in seen))
        seen.add(digest)
    return results


def record_signal(
    data: dict, *, source: str, created_by: int | None = None, idempotency_key: str | None = None
) -> Recorded:
    """Store one validated signal once; the same key (or content) again returns the first signal
    (created=False), or raises KeyConflict when that signal had other core values."""
    (result,) = record_signals([data], source=source, created_by=created_by, keys=[idempotency_key])
    if isinstance(result, KeyConflict):
        raise result
    return result


def archive_signal(signal_uuid: str, actor_id: int) -> bool:
    """Archive an active signal as the admin role (a status change; nothing is deleted)."""
    engine = db.engines["admin"]
    with engine.begin() as conn:
        row = conn.execute(
            db.text(
                "UPDATE signals SET status = 'archived' WHERE signal_id = CAST(:sid AS uuid) "
                "RETURNING id, status"
            ),
            {"sid": signal_uuid},
        ).first()
        if row is None:
            return False
        conn.execute(
            db.text(
                "INSERT INTO audit_log (actor_id, action, entity, entity_id) "
                "VALUES (:actor, 'signal.archive', 'signal', :id)"
            ),
            {"actor": actor_id, "id": str(row.id)},
        )
    db.session.expire_all()
    return True
