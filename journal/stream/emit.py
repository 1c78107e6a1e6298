"""The write-only Socket.IO emitter (through Redis) and the events it sends to rooms."""

from contextlib import AbstractContextManager

from flask import current_app
from flask_socketio import SocketIO
from sqlalchemy import Connection, text

from journal.stream.pubsub import PublishingManager

_emitters: dict[str, tuple[SocketIO, PublishingManager]] = {}


def _emitter_and_manager() -> tuple[SocketIO, PublishingManager]:
    url = current_app.config["REDIS_URL"]
    if url not in _emitters:
        manager = PublishingManager(url)
        _emitters[url] = SocketIO(message_queue=url, client_manager=manager), manager
    return _emitters[url]


def emitter() -> SocketIO:
    """One write-only SocketIO per process and Redis URL; web processes deliver to their clients."""
    return _emitter_and_manager()[0]


def tier_room(tier: str) -> str:
    return f"tier:{tier}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def rooms_by_signal_tier(conn: Connection) -> dict[str, list[str]]:
    """signal tier -> the tier rooms that receive it, from signal_risk_map."""
    result: dict[str, list[str]] = {}
    for user_tier, signal_tier in conn.execute(
        text("SELECT user_tier, signal_tier FROM signal_risk_map ORDER BY user_tier")
    ):
        result.setdefault(signal_tier, []).append(tier_room(user_tier))
    return result


def publishing() -> AbstractContextManager[None]:
    """Hold this block's emits and publish them together, in order, in one round trip."""
    return _emitter_and_manager()[1].batch()


def emit_event(name: str, room: str, event: dict) -> None:
    """One stream event (signal:new, signal:outcome) to one tier room, carrying that room's prev."""
    emitter().emit(name, event, to=room)


def emit_all(event: str, data: dict) -> None:
    emitter().emit(event, data)
