"""/api/user: the caller's feed (their tier's signals), and their taken / journal state."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request
from sqlalchemy.dialects.postgresql import insert

from journal import feed, personal
from journal.auth import current_user_id, role_required
from journal.errors import APIError, json_body, load
from journal.extensions import db
from journal.models import Signal, User, UserSignal
from journal.schemas import JournalEntry, Page
from journal.signal_views import find_signal

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


def upsert_state(user: User, signal: Signal, keep_first: bool = False, **values: object) -> dict:
    """Write the caller's own state on a signal; with keep_first, values already set are kept."""
    stmt = insert(UserSignal).values(user_id=user.id, signal_id=signal.id, **values)
    table = UserSignal.__table__.c
    changes = {
        name: db.func.coalesce(table[name], stmt.excluded[name]) if keep_first else stmt.excluded[name]
        for name in values
    }
    state = db.session.scalar(
        stmt.on_conflict_do_update(index_elements=["user_id", "signal_id"], set_=changes).returning(
            UserSignal
        )
    )
    db.session.commit()
    return state


def answer(signal: Signal, state: UserSignal | None):
    return jsonify({"signal": signal.to_dict(), "mine": state.to_dict() if state else None})


@bp.get("/signals/<signal_id>")
@role_required()
def get_signal(signal_id: str):
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    state = db.session.scalar(
        db.select(UserSignal).where(UserSignal.user_id == user.id, UserSignal.signal_id == signal.id)
    )
    return answer(signal, state.to_dict() if state else None)


@bp.post("/signals/<signal_id>/taken")
@role_required()
def mark_taken(signal_id: str):
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    return answer(signal, upsert_state(user, signal, keep_first=True, taken_at=datetime.now(UTC)))


@bp.post("/signals/<signal_id>/journal")
@role_required()
def add_to_journal(signal_id: str):
    data = load(JournalEntry(), json_body())
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    return answer(signal, upsert_state(user, signal, notes=data["notes"], journaled_at=datetime.now(UTC)))


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
