"""View helpers shared by the admin and hub APIs: post a signal from a request, find one by id."""

import uuid

from flask import jsonify, request

from journal.auth import current_user_id
from journal.errors import APIError, json_body, load
from journal.extensions import db
from journal.models import Signal
from journal.schemas import SignalCreate
from journal.signals import record_signal


def post_signal():
    """Validate the JSON body and record it (201, or 200 for a repeated idempotency key)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise APIError(400, "Bad Idempotency-Key.", {"Idempotency-Key": ["1 to 200 characters"]})
    data = load(SignalCreate(), json_body())
    recorded = record_signal(
        data,
        source="admin",
        created_by=current_user_id(),
        idempotency_key=f"idem:{key}" if key else None,
    )
    return jsonify(recorded.signal), 201 if recorded.created else 200


def find_signal(signal_id: str) -> Signal:
    try:
        sid = uuid.UUID(signal_id)
    except ValueError:
        raise APIError(404, "No such signal.") from None
    signal = db.session.scalar(db.select(Signal).where(Signal.signal_id == sid))
    if signal is None:
        raise APIError(404, "No such signal.")
    return signal
