"""/api/hub: the hub-wide statistics and signal API for dashboards and integrations."""

from flask import Blueprint, jsonify

from journal import stats
from journal.auth import role_required

bp = Blueprint("hub", __name__, url_prefix="/api/hub")


@bp.get("/stats")
@role_required()
def hub_stats():
    return jsonify(stats.summary())
