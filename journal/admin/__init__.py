"""/api/admin: post, list and archive signals (admin token)."""

import uuid

from flask import Blueprint, current_app, jsonify, request

from journal.auth import current_user_id, role_required
from journal.errors import APIError, json_body, load
from journal.extensions import db, limiter
from journal.models import Signal
from journal.schemas import AdminSignalFilter, SignalCreate
from journal.signals import archive_signal, record_signal

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


@bp.post("/signals")
@role_required("admin")
@limiter.limit(lambda: current_app.config["RATELIMIT_WRITE"])
def create_signal():
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
    return jsonify(recorded.signal.to_dict()), 201 if recorded.created else 200


@bp.get("/signals")
@role_required("admin")
def list_signals():
    args = load(AdminSignalFilter(), request.args.to_dict())
    query = db.select(Signal).order_by(Signal.id.desc()).limit(args["limit"])
    if args["cursor"]:
        query = query.where(Signal.id < args["cursor"])
    for name in ("symbol", "side", "risk_tier", "status", "source"):
        if name in args:
            query = query.where(getattr(Signal, name) == args[name])
    rows = db.session.scalars(query).all()
    next_cursor = rows[-1].id if len(rows) == args["limit"] else None
    return jsonify({"signals": [row.to_dict() for row in rows], "next_cursor": next_cursor})


def find_signal(signal_id: str) -> Signal:
    try:
        sid = uuid.UUID(signal_id)
    except ValueError:
        raise APIError(404, "No such signal.") from None
    signal = db.session.scalar(db.select(Signal).where(Signal.signal_id == sid))
    if signal is None:
        raise APIError(404, "No such signal.")
    return signal


@bp.get("/signals/<signal_id>")
@role_required("admin")
def get_signal(signal_id: str):
    return jsonify(find_signal(signal_id).to_dict())


@bp.post("/signals/<signal_id>/archive")
@role_required("admin")
def archive(signal_id: str):
    find_signal(signal_id)
    archive_signal(signal_id, current_user_id())
    return jsonify(find_signal(signal_id).to_dict())
