"""/api/hub: hub-wide statistics, signal history for integrations, and manual settlement."""

from datetime import UTC, datetime
from uuid import UUID

from flask import Blueprint, jsonify

from journal import responses, stats
from journal.api_keys import READ, SIGNALS_WRITE
from journal.engine.evaluate import Outcome
from journal.engine.outcomes import record_outcome
from journal.errors import APIError
from journal.extensions import db
from journal.identity import current_account, role_required
from journal.models import Signal
from journal.openapi import operation
from journal.quotas import metered
from journal.schemas import IdempotencyHeader, Settlement, SignalBatch, SignalCreate, SignalListFilter
from journal.signal_api import find_signal, post_batch, post_signal, signal_page
from journal.stream import catchup
from journal.write_limit import write_limited

bp = Blueprint("hub", __name__, url_prefix="/api/hub")


@bp.get("/stats")
@metered
@role_required(key_scope=READ)
@operation(responses.HubStats, keys=READ)
def hub_stats():
    """Hub-wide statistics (also pushed as stats:update every second)."""
    return jsonify(stats.summary())


@bp.get("/signals")
@metered
@role_required(key_scope=READ)
@operation(responses.SignalPage, query=SignalListFilter, keys=READ)
def list_signals(query: dict):
    """Signal history, newest first; an admin sees all, a user the tiers they receive."""
    user = current_account()
    conditions = []
    if user.role != "admin":
        tiers = catchup.received_tiers(user.risk_tier)
        conditions += [Signal.risk_tier.in_(tiers), Signal.seq.is_not(None)]
    return signal_page(query, *conditions)


@bp.post("/signals")
@metered
@role_required("admin", key_scope=SIGNALS_WRITE)
@write_limited
@operation(
    responses.Signal,
    status=(201, 200),
    auth="admin",
    body=SignalCreate,
    headers=IdempotencyHeader,
    errors=(409, 429),
    keys=SIGNALS_WRITE,
)
def create_signal(body: dict, headers: dict):
    """Post a signal (as POST /api/admin/signals, for services: an admin's service key works here)."""
    return post_signal(body, headers.get("key"))


@bp.post("/signals/batch")
@metered
@role_required("admin", key_scope=SIGNALS_WRITE)
@write_limited
@operation(
    responses.BatchResults,
    auth="admin",
    body=SignalBatch,
    errors=(429,),
    keys=SIGNALS_WRITE,
    max_body="MAX_BATCH_BODY_BYTES",
)
def create_signals(body: dict):
    """Post up to 1,000 signals (as POST /api/admin/signals/batch; an admin's service key works here)."""
    return post_batch(body["signals"], "admin")


@bp.patch("/signals/<uuid:signal_id>/outcome")
@role_required("admin")
@operation(responses.Signal, auth="admin", body=Settlement, errors=(409,))
def settle(signal_id: UUID, body: dict):
    """Settle a signal by hand, once; a settled signal answers 409."""
    signal = find_signal(signal_id)
    outcome = Outcome(
        body["outcome"], float(body["price"]) if body["price"] else None, datetime.now(UTC).timestamp()
    )
    settled = record_outcome(db.engines["admin"], signal.id, signal.created_at, outcome)
    if settled is None:
        raise APIError(409, "This signal already has an outcome.", {"outcome": [signal.outcome or ""]})
    return jsonify(settled)
