"""View helpers shared by the signal APIs: post a signal, find one by id, list a keyset page."""

from uuid import UUID

from flask import jsonify

from journal.errors import APIError
from journal.extensions import db
from journal.identity import current_user_id
from journal.models import Signal
from journal.stream import catchup
from journal.stream.record import KeyConflict, record_signal


def post_signal(data: dict, idempotency_key: str | None):
    """Record a validated signal (201, or 200 for a repeated idempotency key)."""
    try:
        recorded = record_signal(
            data,
            source="admin",
            created_by=current_user_id(),
            idempotency_key=f"idem:{idempotency_key}" if idempotency_key else None,
        )
    except KeyConflict:
        raise APIError(
            409,
            "This idempotency key was used for a different signal.",
            {"Idempotency-Key": ["already used with other values"]},
        ) from None
    return jsonify(recorded.signal), 201 if recorded.created else 200


def find_signal(signal_id: UUID, user_tier: str | None = None) -> Signal:
    """The signal with this public id, or 404; with `user_tier`, only one that tier receives
    (a 404 either way, so other tiers' signals are never revealed)."""
    query = db.select(Signal).where(Signal.signal_id == signal_id)
    if user_tier is not None:
        query = query.where(Signal.risk_tier.in_(catchup.received_tiers(user_tier)))
    signal = db.session.scalar(query)
    if signal is None:
        raise APIError(404, "No such signal.")
    return signal


def signal_page(args: dict, equal: tuple[str, ...], *conditions: object):
    """Newest first, keyset on id: the filters named in `equal` that `args` holds, plus `conditions`."""
    query = db.select(Signal).where(*conditions).order_by(Signal.id.desc()).limit(args["limit"])
    if args.get("cursor"):
        query = query.where(Signal.id < args.get("cursor"))
    for name in equal:
        if name in args:
            query = query.where(getattr(Signal, name) == args[name])
    rows = db.session.scalars(query).all()
    next_cursor = rows[-1].id if len(rows) == args["limit"] else None
    return jsonify({"signals": [row.to_dict() for row in rows], "next_cursor": next_cursor})
