"""The write-only Socket.IO emitter (through Redis) and the events it sends to rooms."""

from flask import current_app
from flask_socketio import SocketIO

_emitter: dict[str, SocketIO] = {}


def emitter() -> SocketIO:
    """One write-only SocketIO per process and Redis URL; web processes deliver to their clients."""
    url = current_app.config["REDIS_URL"]
    if url not in _emitter:
        _emitter[url] = SocketIO(message_queue=url, write_only=True)
    return _emitter[url]


def tier_room(tier: str) -> str:
    return f"tier:{tier}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def emit_signal(room: str, signal: dict, prev: int) -> None:
    """signal:new to one tier room; `prev` is the seq of that room's previous signal."""
    emitter().emit("signal:new", {**signal, "prev": prev}, to=room)


def emit_to_rooms(event: str, data: dict, rooms: list[str]) -> None:
    emitter().emit(event, data, to=rooms)


def emit_all(event: str, data: dict) -> None:
    emitter().emit(event, data)
