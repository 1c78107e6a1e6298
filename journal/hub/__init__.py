"""/api/hub: hub-wide statistics, signal history for integrations, and manual settlement."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from marshmallow import fields, validate

from journal import feed, stats
from journal.auth import current_user_id, role_required
from journal.errors import APIError, json_body, load
from journal.extensions import db, limiter
from journal.models import Signal, User
from journal.outcomes import Outcome, record_outcome
from journal.schemas import Page, Price, StrictSchema
from journal.signal_views import find_signal, post_signal, signal_page

bp = Blueprint("hub", __name__, url_prefix="/api/hub")
RESULTS = ("WIN", "LOSS", "EXPIRED", "AMBIGUOUS", "DATA_GAP")


class HubFilter(Page):
    symbol = fields.String()
    strategy = fields.String()
    source = fields.String()
    outcome = fields.String(validate=validate.OneOf((*RESULTS, "open")))


class Settlement(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(RESULTS))
    price = Price(load_default=None)


@bp.get("/stats")
@role_required()
def hub_stats():
    return jsonify(stats.summary())


@bp.get("/signals")
@role_required()
def list_signals():
    """Signal history, newest first; an admin sees all, a user the tiers they receive."""
    args = load(HubFilter(), request.args.to_dict())
    user = db.session.get(User, current_user_id())
    conditions = []
    if user.role != "admin":
        tiers = feed.received_tiers(user.risk_tier)
        conditions += [Signal.risk_tier.in_(tiers), Signal.stream_seq.is_not(None)]
    if args.get("outcome") == "open":
        conditions.append(Signal.outcome.is_(None))
    elif "outcome" in args:
        conditions.append(Signal.outcome == args["outcome"])
    return signal_page(args, ("symbol", "strategy", "source"), *conditions)


@bp.post("/signals")
@role_required("admin")
@limiter.limit(lambda: current_app.config["RATELIMIT_WRITE"])
def create_signal():
    return post_signal()


@bp.patch("/signals/<signal_id>/outcome")
@role_required("admin")
def settle(signal_id: str):
    """Manual settlement by an admin, once; a settled signal answers 409."""
    data = load(Settlement(), json_body())
    signal = find_signal(signal_id)
    outcome = Outcome(
        data["outcome"], float(data["price"]) if data["price"] else None, datetime.now(UTC).timestamp()
    )
    settled = record_outcome(db.engines["admin"], signal.id, outcome)
    if settled is None:
        raise APIError(409, "This signal already has an outcome.", {"outcome": [signal.outcome or ""]})
    return jsonify(settled)
