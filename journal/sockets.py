"""Socket.IO: authenticate in connect(auth), join rooms, send the snapshot or replay, take acks."""

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room

from journal import feed, presence, receipts, stats
from journal.auth import claims_of
from journal.broadcast import tier_room, user_room
from journal.errors import APIError
from journal.extensions import db
from journal.models import User

SNAPSHOT_SIZE = 50
PRESENCE_EVERY = 10
# sid -> (user id, tier) for the sockets of this process.
connected: dict[str, tuple[int, str]] = {}
refresher: list = []


def keep_presence(socketio: SocketIO) -> None:
    """Once per process: refresh the presence of this process's users every few seconds."""
    if refresher:
        return
    app = current_app._get_current_object()

    def loop() -> None:
        while True:
            socketio.sleep(PRESENCE_EVERY)
            with app.app_context():
                presence.touch({user_id for user_id, _ in connected.values()})

    refresher.append(socketio.start_background_task(loop))


def parse_since(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConnectionRefusedError("since must be null or a non-negative integer")
    return value


def replay(tier: str, since: int) -> int:
    """Emit every signal of the tier after `since`, in seq order, to the requesting socket."""
    batch = current_app.config["REPLAY_BATCH"]
    sent = 0
    while True:
        signals = feed.after(tier, since, batch)
        for signal in signals:
            emit("signal:new", signal)
        sent += len(signals)
        if len(signals) < batch:
            return sent
        since = signals[-1]["seq"]


def init_app(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def on_connect(auth: dict | None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        if not isinstance(token, str):
            raise ConnectionRefusedError("auth.token is required")
        try:
            claims = claims_of(token)
        except APIError as err:
            raise ConnectionRefusedError(err.message) from None
        since = parse_since(auth.get("since"))
        user = db.session.get(User, int(claims["sub"]))
        if user is None:
            raise ConnectionRefusedError("unknown user")
        connected[request.sid] = (user.id, user.risk_tier)
        presence.touch({user.id})
        keep_presence(socketio)
        join_room(tier_room(user.risk_tier))
        join_room(user_room(user.id))
        emit("stats:initial", stats.summary())
        if since is None:
            signals, position = feed.page(user.risk_tier, user.id, None, SNAPSHOT_SIZE)
            emit("signals:initial", {"signals": signals, "seq": position})
        else:
            replay(user.risk_tier, since)

    @socketio.on("disconnect")
    def on_disconnect(*_: object) -> None:
        user_id, _ = connected.pop(request.sid, (None, None))
        if user_id is not None and all(uid != user_id for uid, _ in connected.values()):
            presence.leave(user_id)

    @socketio.on("signals:sync")
    def on_sync(data: dict | None = None) -> dict:
        """Replay after the client's cursor (used when it sees a gap in `prev`)."""
        user_id, tier = connected.get(request.sid, (None, None))
        since = data.get("since") if isinstance(data, dict) else None
        if user_id is None:
            return {"error": "not connected"}
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            return {"error": "since must be a non-negative integer"}
        return {"sent": replay(tier, since)}

    @socketio.on("signal:ack")
    def on_ack(data: dict | None = None) -> dict:
        user_id, _ = connected.get(request.sid, (None, None))
        ids = data.get("ids") if isinstance(data, dict) else None
        if user_id is None:
            return {"error": "not connected"}
        if not isinstance(ids, list):
            return {"error": "ids must be a list of signal ids"}
        return {"queued": receipts.record(user_id, ids)}
