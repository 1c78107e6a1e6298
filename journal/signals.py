"""record_signal(): the one write path of a signal (signal + outbox row + audit row, one transaction)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert

from journal import outbox
from journal.errors import APIError
from journal.extensions import db
from journal.market import TIMEFRAME_SECONDS
from journal.models import AuditLog, Outbox, Signal, signal_dict
from journal.schemas import grade_for

EXPIRY_CANDLES = 48  # a signal without expires_at expires after 48 candles of its timeframe
CORE_FIELDS = ("symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier")


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
    """Store a validated signal once; the same dedup key returns the first signal (created=False).

    The relay is nudged only after commit, so nothing is emitted for a rolled-back signal.
    """
    fields = {k: v for k, v in data.items() if k != "dedup_key"}
    fields.setdefault("grade", grade_for(fields.get("confidence", 50)))
    if fields.get("expires_at") is None:
        seconds = TIMEFRAME_SECONDS[fields.get("timeframe", "1h")] * EXPIRY_CANDLES
        fields["expires_at"] = datetime.now(UTC) + timedelta(seconds=seconds)
    dedup_key = idempotency_key or data.get("dedup_key") or f"uuid:{uuid.uuid4()}"
    stmt = (
        insert(Signal)
        .values(**fields, source=source, created_by=created_by, dedup_key=dedup_key)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(*Signal.__table__.columns)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        db.session.rollback()
        existing = db.session.scalar(db.select(Signal).where(Signal.dedup_key == dedup_key))
        if any(getattr(existing, name) != fields[name] for name in CORE_FIELDS):
            raise APIError(
                409,
                "This idempotency key was used for a different signal.",
                {"Idempotency-Key": ["already used with other values"]},
            )
        return Recorded(existing.to_dict(), created=False)
    new_id = row.id
    db.session.add(Outbox(signal_id=new_id))
    db.session.add(
        AuditLog(
            actor_id=created_by,
            action="signal.create",
            entity="signal",
            entity_id=str(new_id),
            detail={"source": source, "dedup_key": dedup_key},
        )
    )
    db.session.commit()
    outbox.nudge()
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
