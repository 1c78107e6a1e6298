"""/api/user: the caller's feed (their tier's signals), and their taken / journal state."""

from datetime import UTC, datetime
from uuid import UUID

from flask import Blueprint, jsonify
from sqlalchemy.dialects.postgresql import insert

from journal import exports, responses, user_journal
from journal.accounts import Account
from journal.api_keys import READ
from journal.extensions import db
from journal.identity import current_account, role_required
from journal.key_routes import add_key_routes
from journal.models import Signal, UserSignal
from journal.openapi import CSV, operation
from journal.quotas import metered, usage
from journal.schemas import JournalEntry, Page
from journal.signal_api import csv_response, find_signal
from journal.stream import catchup

bp = Blueprint("user", __name__, url_prefix="/api/user")
add_key_routes(bp, READ)


def me() -> Account:
    return current_account()


@bp.get("/signals")
@metered
@role_required(key_scope=READ)
@operation(responses.FeedPage, query=Page, keys=READ)
def list_signals(query: dict):
    """The caller's tiers' signals, newest first, with the caller's own state.

    `stream_seq` is the live cursor to connect the Socket.IO stream with; pass next_cursor as cursor
    for the next page.
    """
    user = me()
    signals, position = catchup.page(user.risk_tier, user.id, query.get("cursor"), query["limit"])
    next_cursor = signals[-1]["seq"] if len(signals) == query["limit"] else None
    return jsonify({"signals": signals, "next_cursor": next_cursor, "stream_seq": position})


KEY = ["user_id", "signal_pk", "signal_created_at"]  # a user's row on a signal, in its partition


def upsert_state(user: Account, signal: Signal, keep_first: bool = False, **values: object) -> UserSignal:
    """Write the caller's own state on a signal; with keep_first, values already set are kept."""
    stmt = insert(UserSignal).values(
        user_id=user.id, signal_pk=signal.id, signal_created_at=signal.created_at, **values
    )
    table = UserSignal.__table__.c
    changes = {
        name: db.func.coalesce(table[name], stmt.excluded[name]) if keep_first else stmt.excluded[name]
        for name in values
    }
    state = db.session.scalar(
        stmt.on_conflict_do_update(index_elements=KEY, set_=changes).returning(UserSignal)
    )
    db.session.commit()
    return state


def answer(signal: Signal, state: UserSignal | None):
    return jsonify({"signal": signal.to_dict(), "mine": state.to_dict() if state else None})


@bp.get("/signals/<uuid:signal_id>")
@metered
@role_required(key_scope=READ)
@operation(responses.SignalAndMine, keys=READ)
def get_signal(signal_id: UUID):
    """One signal the caller's tier receives, with the caller's own state (null before any)."""
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    state = db.session.scalar(
        db.select(UserSignal).where(
            UserSignal.user_id == user.id,
            UserSignal.signal_pk == signal.id,
            UserSignal.signal_created_at == signal.created_at,
        )
    )
    return answer(signal, state)


@bp.post("/signals/<uuid:signal_id>/taken")
@role_required()
@operation(responses.SignalAndMine)
def mark_taken(signal_id: UUID):
    """Mark a signal taken (the first time is kept)."""
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    return answer(signal, upsert_state(user, signal, keep_first=True, taken_at=datetime.now(UTC)))


@bp.post("/signals/<uuid:signal_id>/journal")
@role_required()
@operation(responses.SignalAndMine, body=JournalEntry)
def add_to_journal(signal_id: UUID, body: dict):
    """Add a signal to the caller's journal with notes (replacing earlier notes)."""
    user = me()
    signal = find_signal(signal_id, user.risk_tier)
    return answer(signal, upsert_state(user, signal, notes=body["notes"], journaled_at=datetime.now(UTC)))


@bp.get("/journal")
@metered
@role_required(key_scope=READ)
@operation(responses.JournalPage, query=Page, keys=READ)
def journal_entries(query: dict):
    """The caller's taken or noted signals with notes and outcomes, newest entry first."""
    entries, next_cursor = user_journal.journal_page(me().id, query.get("cursor"), query["limit"])
    return jsonify({"entries": entries, "next_cursor": next_cursor})


@bp.get("/journal/export.csv")
@role_required()
@operation(CSV)
def export_journal():
    """The caller's journal (taken and noted signals, with notes) as CSV, oldest entry first."""
    return csv_response(exports.journal_csv(db.engine, me().id), "journal.csv")


@bp.get("/stats")
@metered
@role_required(key_scope=READ)
@operation(responses.PersonalStats, keys=READ)
def my_stats():
    """The caller's statistics: received, taken, wins and losses of taken signals, taken per day (14 days)."""
    user = me()
    return jsonify(user_journal.personal_stats(user.id, user.risk_tier))


@bp.get("/me")
@metered
@role_required(key_scope=READ)
@operation(responses.Me, keys=READ)
def whoami():
    """The caller, with their plan's daily allowance of API-key requests and what is left today."""
    account = me()
    return jsonify({**account.to_dict(), "quota": usage(account)})
