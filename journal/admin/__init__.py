"""/api/admin: post, list and archive signals (admin token)."""

from uuid import UUID

from flask import Blueprint, jsonify

from journal import exports, responses
from journal.api_keys import SIGNALS_WRITE
from journal.extensions import db
from journal.identity import current_user_id, role_required
from journal.key_routes import add_key_routes
from journal.openapi import CSV, operation
from journal.schemas import ExportFilter, IdempotencyHeader, SignalBatch, SignalCreate, SignalListFilter
from journal.signal_api import csv_response, find_signal, post_batch, post_signal, signal_page
from journal.stream.record import archive_signal
from journal.write_limit import write_limited

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
add_key_routes(bp, SIGNALS_WRITE, role="admin")


@bp.post("/signals")
@role_required("admin")
@write_limited
@operation(
    responses.Signal,
    status=(201, 200),
    auth="admin",
    body=SignalCreate,
    headers=IdempotencyHeader,
    errors=(409, 429),
)
def create_signal(body: dict, headers: dict):
    """Post a signal.

    201 with the stored signal; 200 with the first one when its Idempotency-Key (or dedup_key) was
    used before with the same values.
    """
    return post_signal(body, headers.get("key"))


@bp.post("/signals/batch")
@role_required("admin")
@write_limited
@operation(
    responses.BatchResults,
    auth="admin",
    body=SignalBatch,
    errors=(429,),
    max_body="MAX_BATCH_BODY_BYTES",
)
def create_signals(body: dict):
    """Post up to 1,000 signals in one request (MAX_BATCH_BODY_BYTES, 2 MiB).

    Each item is validated on its own and stored once: 200 with one result per item, in order,
    `created`, `duplicate` (its dedup_key, or the same content in the same candle, was stored
    before: the stored signal) or `invalid` (with `fields`). A batch counts as one write.
    """
    return post_batch(body["signals"], "admin")


@bp.get("/signals")
@role_required("admin")
@operation(responses.SignalPage, auth="admin", query=SignalListFilter)
def list_signals(query: dict):
    """Every signal, newest first, in keyset pages (pass next_cursor as cursor)."""
    return signal_page(query)


@bp.get("/signals/export.csv")
@role_required("admin")
@operation(CSV, auth="admin", query=ExportFilter)
def export_signals(query: dict):
    """Every signal of a time range (since, until: at most 366 days) with the list's filters, as CSV.

    Streamed from the database as it is read, oldest first; text that a spreadsheet would take for
    a formula starts with a quote.
    """
    return csv_response(exports.signals_csv(db.engines["admin"], query), "signals.csv")


@bp.get("/signals/<uuid:signal_id>")
@role_required("admin")
@operation(responses.Signal, auth="admin")
def get_signal(signal_id: UUID):
    """One signal."""
    return jsonify(find_signal(signal_id).to_dict())


@bp.post("/signals/<uuid:signal_id>/archive")
@role_required("admin")
@operation(responses.Signal, auth="admin")
def archive(signal_id: UUID):
    """Archive a signal (a status change; nothing is deleted)."""
    find_signal(signal_id)
    archive_signal(str(signal_id), current_user_id())
    return jsonify(find_signal(signal_id).to_dict())


from journal.admin import users  # noqa: E402, F401 - registers the /users routes on bp
