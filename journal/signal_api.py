"""View helpers shared by the signal APIs: post one signal or a batch, find one by id, list a keyset page."""

from collections.abc import Iterator
from uuid import UUID

from flask import Response, g, jsonify
from marshmallow import ValidationError
from sqlalchemy import Text, cast, func

from journal.errors import APIError, flat_messages
from journal.extensions import db
from journal.identity import current_user_id
from journal.models import PRICE_COLUMNS, Signal, signal_dict
from journal.openapi import schema_instance
from journal.schemas import SignalCreate, text_checked
from journal.stream import catchup
from journal.stream.filters import filter_conditions
from journal.stream.record import KeyConflict, record_signal, record_signals

KEY_REUSED = "already used with other values"


def client_key(key: str | None) -> str | None:
    """A client's idempotency key (the header, else the body's dedup_key) in the clients' own
    namespace, so no client can take the key of a signal the engine is about to generate."""
    return f"idem:{key}" if key else None


def post_signal(data: dict, idempotency_key: str | None):
    """Record a validated signal (201, or 200 for a repeated idempotency key)."""
    try:
        recorded = record_signal(
            data,
            source="admin",
            created_by=current_user_id(),
            idempotency_key=client_key(idempotency_key or data.get("dedup_key")),
        )
    except KeyConflict:
        raise APIError(
            409,
            "This idempotency key was used for a different signal.",
            {"Idempotency-Key": [KEY_REUSED]},
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


# A page's columns, prices and id as PostgreSQL writes them (no parsing and formatting per row).
PAGE_COLUMNS = [
    *(getattr(Signal, name) for name in ("id", "symbol", "side", "risk_tier", "confidence", "grade")),
    *(getattr(Signal, name) for name in ("timeframe", "source", "strategy", "payload", "status")),
    *(getattr(Signal, name) for name in ("outcome", "outcome_at", "expires_at", "created_at")),
    cast(Signal.signal_id, Text).label("signal_id"),
    *(cast(func.trim_scale(getattr(Signal, name)), Text).label(name) for name in PRICE_COLUMNS),
    Signal.seq.expression.label("seq"),
]


def signal_page(args: dict, *conditions: object):
    """A keyset page on id (newest or oldest first) of the signals the filters in `args` select,
    and `conditions`; ids follow created_at, so rows stored meanwhile never repeat nor shift a page."""
    newest = args["sort"] == "newest"
    query = db.select(*PAGE_COLUMNS).where(*filter_conditions(args), *conditions).limit(args["limit"])
    query = query.order_by(Signal.id.desc() if newest else Signal.id.asc())
    if args.get("cursor"):
        query = query.where(Signal.id < args["cursor"] if newest else Signal.id > args["cursor"])
    rows = db.session.execute(query).all()
    next_cursor = rows[-1].id if len(rows) == args["limit"] else None
    return jsonify({"signals": [signal_dict(row) for row in rows], "next_cursor": next_cursor})


def post_batch(items: list[dict], source: str):
    """Validate each item on its own, record the valid ones in one statement; 200 with one result
    per item, in order: created, duplicate (its key or content was stored before) or invalid."""
    results: list[dict | None] = [None] * len(items)
    valid, keys, places = [], [], []
    schema = schema_instance(SignalCreate)
    with text_checked(g.get("body_text_storable", False)):  # the whole body's text was checked once
        for place, item in enumerate(items):
            try:
                data = schema.load(item)
            except ValidationError as err:
                results[place] = {"status": "invalid", "fields": flat_messages(err.messages)}
                continue
            valid.append(data)
            keys.append(client_key(data.get("dedup_key")))
            places.append(place)
    recorded = record_signals(valid, source=source, created_by=current_user_id(), keys=keys)
    for place, outcome in zip(places, recorded, strict=True):
        if isinstance(outcome, KeyConflict):
            results[place] = {
                "status": "invalid",
                "fields": {"dedup_key": [KEY_REUSED]},
            }
        else:
            status = "created" if outcome.created else "duplicate"
            results[place] = {"status": status, "signal": outcome.signal}
    return jsonify({"results": results})


def csv_response(chunks: Iterator[bytes], filename: str) -> Response:
    """A streamed CSV download (the body is written as the database reads it). The lines need no
    request context; the server closes them when the response ends, which frees their slot."""
    response = Response(chunks, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
