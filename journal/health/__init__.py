"""Liveness (/healthz) and the symbol universe (/api/symbols)."""

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/api/symbols")
def symbols():
    return jsonify({"symbols": list(current_app.config["SYMBOLS"])})
