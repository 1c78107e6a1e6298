"""/api/admin: post, list and archive signals (admin token)."""

from flask import Blueprint, current_app, jsonify, request

from journal.auth import current_user_id, role_required
from journal.errors import load
from journal.extensions import db, limiter
from journal.models import Signal
from journal.schemas import AdminSignalFilter
from journal.signal_views import find_signal, post_signal
from journal.signals import archive_signal

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


@bp.post("/signals")
@role_required("admin")
@limiter.limit(lambda: current_app.config["RATELIMIT_WRITE"])
def create_signal():
    return post_signal()


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
