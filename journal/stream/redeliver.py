"""What a web process's listener missed while it was not subscribed, delivered again to its own rooms.

Redis pub/sub keeps nothing for a subscriber that is away: what the relay published while this
process was reconnecting (Redis restarted, or dropped it as a slow subscriber) never arrives, and
a client hears of the gap only with the next event of its room, which may be long in coming.
So once the listener's subscription is confirmed again, each local tier room gets, from this
process only, every event after the position the listener last heard for it, up to what
stream_rooms holds, as `signals:batch` frames. Clients drop what they applied already (by seq), so
a redelivery is never applied twice. The first subscription only seeds the listener's positions.
"""

import logging
import time

from flask import Flask, current_app
from flask_socketio import SocketIO

from journal.domain import TIERS
from journal.extensions import db
from journal.stream import catchup, events
from journal.stream.emit import tier_room

RETRY_SECONDS, GIVE_UP_SECONDS = 1.0, 120.0
log = logging.getLogger(__name__)


def on_subscribed(socketio: SocketIO, app: Flask, reconnect: bool) -> None:
    """Seed the listener's positions; after a reconnect, first redeliver what each room missed.
    Retried while the database is unavailable too (both may restart together)."""
    listener = socketio.server.manager
    give_up = time.monotonic() + GIVE_UP_SECONDS
    while True:
        try:
            with app.app_context():
                latest = catchup.room_positions()
                db.session.remove()
                heard = dict(listener.positions or {})
                if reconnect and listener.positions is not None:
                    sent = sum(redeliver(socketio, tier, heard.get(tier_room(tier), 0)) for tier in TIERS)
                    log.warning("message queue back: %d missed events sent to this process's rooms", sent)
                rooms = {*latest, *heard}
                listener.positions = {room: max(latest.get(room, 0), heard.get(room, 0)) for room in rooms}
            return
        except Exception as err:  # the database may be restarting too: try again, then report
            if time.monotonic() > give_up:
                log.error("missed events not redelivered (clients catch up at their next gap): %s", err)
                return
            log.warning("redelivery after reconnect failed (%s); again in %.0f s", err, RETRY_SECONDS)
            socketio.sleep(RETRY_SECONDS)


def redeliver(socketio: SocketIO, tier: str, heard: int) -> int:
    """The tier room's events after `heard` to this process's sockets in it; returns how many."""
    room = tier_room(tier)
    if not socketio.server.manager.rooms.get("/", {}).get(room):
        return 0
    batch, sent = current_app.config["REPLAY_BATCH"], 0
    while True:
        signals = catchup.after(tier, heard, batch)
        db.session.remove()
        if signals:
            socketio.emit(events.SIGNALS_BATCH, {"signals": signals}, to=room, ignore_queue=True)
            sent += len(signals)
            heard = signals[-1]["seq"]
        if len(signals) < batch:
            return sent
