"""/api/admin: post, list and archive signals (admin token)."""

from flask import Blueprint, current_app, jsonify, request

from journal.auth import current_user_id, role_required
from journal.errors import load
from journal.extensions import limiter
from journal.schemas import AdminSignalFilter
from journal.signal_views import find_signal, post_signal, signal_page
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
    return signal_page(args, ("symbol", "side", "risk_tier", "status", "source"))


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
