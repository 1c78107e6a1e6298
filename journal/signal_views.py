"""View helpers shared by the signal APIs: post a signal, find one by id, list a keyset page."""

import uuid

from flask import jsonify, request

from journal import feed
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


def find_signal(signal_id: str, user_tier: str | None = None) -> Signal:
    """The signal with this public id, or 404; with `user_tier`, only one that tier receives
    (a 404 either way, so other tiers' signals are never revealed)."""
    try:
        query = db.select(Signal).where(Signal.signal_id == uuid.UUID(signal_id))
    except ValueError:
        raise APIError(404, "No such signal.") from None
    if user_tier is not None:
        query = query.where(Signal.risk_tier.in_(feed.received_tiers(user_tier)))
    signal = db.session.scalar(query)
    if signal is None:
        raise APIError(404, "No such signal.")
    return signal


def signal_page(args: dict, equal: tuple[str, ...], *conditions: object):
    """Newest first, keyset on id: the filters named in `equal` that `args` holds, plus `conditions`."""
    query = db.select(Signal).where(*conditions).order_by(Signal.id.desc()).limit(args["limit"])
    if args["cursor"]:
        query = query.where(Signal.id < args["cursor"])
    for name in equal:
        if name in args:
            query = query.where(getattr(Signal, name) == args[name])
    rows = db.session.scalars(query).all()
    next_cursor = rows[-1].id if len(rows) == args["limit"] else None
    return jsonify({"signals": [row.to_dict() for row in rows], "next_cursor": next_cursor})
