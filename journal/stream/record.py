"""record_signal(): the one write path of a signal (signal + outbox row + audit row, one statement)."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from journal.config import AUTOCOMMIT
from journal.domain import TIMEFRAME_SECONDS, grade_for
from journal.extensions import db
from journal.models import Signal, signal_dict
from journal.stream import relay

EXPIRY_CANDLES = 48  # a signal without expires_at expires after 48 candles of its timeframe
CORE_FIELDS = ("symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier")
INSERTED = (
    "symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier", "confidence", "grade",
    "timeframe", "source", "strategy", "payload", "expires_at", "created_by", "dedup_key",
)  # fmt: skip
# The signal, its outbox event and its audit row in one round trip and one transaction; a repeated
# dedup key inserts nothing (the caller then reads the first signal).
RECORD = text(
    "WITH s AS (INSERT INTO signals ("  # nosec B608
    + ", ".join(INSERTED)
    + ") VALUES ("  # nosec B608
    + ", ".join("CAST(:payload AS jsonb)" if c == "payload" else f":{c}" for c in INSERTED)
    + ") ON CONFLICT (dedup_key) DO NOTHING RETURNING *), "  # nosec B608
    "o AS (INSERT INTO outbox (signal_pk, kind, signal_tier) SELECT id, 'signal', risk_tier FROM s), "
    "a AS (INSERT INTO audit_log (actor_id, action, entity, entity_id, detail) "
    "SELECT created_by, 'signal.create', 'signal', id::text, "
    "jsonb_build_object('source', source, 'dedup_key', dedup_key) FROM s) "
    "SELECT * FROM s"
)


class KeyConflict(Exception):
    """The idempotency (dedup) key was used before for a signal with other values."""


@dataclass
class Recorded:
    signal: dict  # the public form of the signal (models.signal_dict)
    created: bool


def record_signal(
    data: dict,
    *,
    source: str,
    created_by: int | None = None,
    idempotency_key: str | None = None,
) -> Recorded:
    """Store a validated signal once; the same dedup key returns the first signal (created=False),
    or raises KeyConflict when that signal had other core values.

    The relay is nudged only after commit, so nothing is emitted for a rolled-back signal.
    """
    values = {name: data.get(name) for name in INSERTED}
    values["grade"] = values["grade"] or grade_for(data.get("confidence", 50))
    values["confidence"] = data.get("confidence", 50)
    values["timeframe"] = data.get("timeframe", "1h")
    if values["expires_at"] is None:
        seconds = TIMEFRAME_SECONDS[values["timeframe"]] * EXPIRY_CANDLES
        values["expires_at"] = datetime.now(UTC) + timedelta(seconds=seconds)
    values["payload"] = json.dumps(data.get("payload") or {})
    values.update(source=source, created_by=created_by)
    values["dedup_key"] = idempotency_key or data.get("dedup_key") or f"uuid:{uuid.uuid4()}"
    # One statement, atomic on its own: in autocommit it costs one round trip, not three.
    with db.engines[AUTOCOMMIT].connect() as conn:
        row = conn.execute(RECORD, values).first()
    if row is None:
        existing = db.session.scalar(db.select(Signal).where(Signal.dedup_key == values["dedup_key"]))
        if any(getattr(existing, name) != data[name] for name in CORE_FIELDS):
            raise KeyConflict(values["dedup_key"])
        return Recorded(existing.to_dict(), created=False)
    relay.nudge()
    return Recorded(signal_dict(row), created=True)


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
