"""The write-only Socket.IO emitter (through Redis) and the events it sends to rooms."""

from flask import current_app
from flask_socketio import SocketIO
from sqlalchemy import Connection, text

from journal.stream.pubsub import PublishingManager

_emitter: dict[str, SocketIO] = {}


def emitter() -> SocketIO:
    """One write-only SocketIO per process and Redis URL; web processes deliver to their clients."""
    url = current_app.config["REDIS_URL"]
    if url not in _emitter:
        _emitter[url] = SocketIO(message_queue=url, client_manager=PublishingManager(url))
    return _emitter[url]


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


def emit_event(name: str, room: str, event: dict) -> None:
    """One stream event (signal:new, signal:outcome) to one tier room, carrying that room's prev."""
    emitter().emit(name, event, to=room)


def emit_all(event: str, data: dict) -> None:
    emitter().emit(event, data)
