"""/api/user: the caller's feed (their tier's signals), and their taken / journal state."""

import uuid
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request
from sqlalchemy.dialects.postgresql import insert

from journal import feed, personal
from journal.auth import current_user_id, role_required
from journal.errors import APIError, json_body, load
from journal.extensions import db
from journal.models import Signal, User, UserSignal
from journal.schemas import JournalEntry, Page

bp = Blueprint("user", __name__, url_prefix="/api/user")


def me() -> User:
    user = db.session.get(User, current_user_id())
    if user is None:
        raise APIError(401, "Unknown user.")
    return user


@bp.get("/signals")
@role_required()
def list_signals():
    args = load(Page(), request.args.to_dict())
    user = me()
    signals, position = feed.page(user.risk_tier, user.id, args["cursor"], args["limit"])
    next_cursor = signals[-1]["seq"] if len(signals) == args["limit"] else None
    return jsonify({"signals": signals, "next_cursor": next_cursor, "stream_seq": position})


def visible_signal(user: User, signal_id: str) -> Signal:
    """A signal the user's tier receives, or 404 (never reveals other tiers' signals)."""
    try:
        sid = uuid.UUID(signal_id)
    except ValueError:
        raise APIError(404, "No such signal.") from None
    signal = db.session.scalar(
        db.select(Signal).where(
            Signal.signal_id == sid,
            Signal.risk_tier.in_(feed.received_tiers(user.risk_tier)),
        )
    )
    if signal is None:
        raise APIError(404, "No such signal.")
    return signal


def upsert_state(user: User, signal: Signal, **values: object) -> UserSignal:
    stmt = insert(UserSignal).values(user_id=user.id, signal_id=signal.id, **values)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "signal_id"],
            set_={name: getattr(stmt.excluded, name) for name in values},
        )
    )
    db.session.commit()
    return state_of(user, signal)


def state_of(user: User, signal: Signal) -> UserSignal | None:
    return db.session.scalar(
        db.select(UserSignal).where(UserSignal.user_id == user.id, UserSignal.signal_id == signal.id)
    )


@bp.get("/signals/<signal_id>")
@role_required()
def get_signal(signal_id: str):
    user = me()
    signal = visible_signal(user, signal_id)
    state = state_of(user, signal)
    return jsonify({"signal": signal.to_dict(), "mine": state.to_dict() if state else None})


@bp.post("/signals/<signal_id>/taken")
@role_required()
def mark_taken(signal_id: str):
    user = me()
    signal = visible_signal(user, signal_id)
    existing = state_of(user, signal)
    first_taken = existing.taken_at if existing and existing.taken_at else datetime.now(UTC)
    state = upsert_state(user, signal, taken_at=first_taken)
    return jsonify({"signal": signal.to_dict(), "mine": state.to_dict()})


@bp.post("/signals/<signal_id>/journal")
@role_required()
def add_to_journal(signal_id: str):
    data = load(JournalEntry(), json_body())
    user = me()
    signal = visible_signal(user, signal_id)
    state = upsert_state(user, signal, notes=data["notes"], journaled_at=datetime.now(UTC))
    return jsonify({"signal": signal.to_dict(), "mine": state.to_dict()})


@bp.get("/journal")
@role_required()
def journal_entries():
    args = load(Page(), request.args.to_dict())
    entries, next_cursor = personal.journal_page(current_user_id(), args["cursor"], args["limit"])
    return jsonify({"entries": entries, "next_cursor": next_cursor})


@bp.get("/stats")
@role_required()
def my_stats():
    user = me()
    return jsonify(personal.personal_stats(user.id, user.risk_tier))


@bp.get("/me")
@role_required()
def whoami():
    return jsonify(me().to_dict())
