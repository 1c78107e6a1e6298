"""Socket.IO: authenticate in connect(auth), join rooms, then snapshot or replay; sync, ack, renew.

The connect handler does the least it can (the token checked locally and against its session and
account in one Redis round trip, two rooms joined); the snapshot or the replay after the client's
cursor follows right after the connection is acknowledged, in `signals:batch` frames of up to
REPLAY_BATCH signals, sent only to that socket and paced by how fast it drains. One replay runs at
a time per socket, `signals:sync` is rate limited per socket, and every replay (on connect or by
`signals:sync`) counts toward its user's limit in Redis (journal/socket_limits.py): a connect over
it gets `session:end {reason: "busy", retry_after}` and is closed, to come back with its cursor.
`signal:ack` is rate limited per socket.
"""

import logging

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from journal import fanout, socket_limits, socket_sessions, stats
from journal.accounts import cached_account
from journal.errors import APIError
from journal.extensions import db
from journal.identity import socket_claims
from journal.stream import catchup, events, receipts
from journal.stream.emit import tier_room, user_room
from journal.stream.pubsub import ListeningManager

SNAPSHOT_SIZE = 50
OUTAGES = (RedisError, OperationalError)
SYNCS_PER_MINUTE = 12
DRAINED_BELOW = 64  # packets queued for a socket before the next replay batch is sent
DRAINED_BELOW_BYTES = 256 * 1024  # and bytes (a batch is one packet of up to REPLAY_BATCH signals)
log = logging.getLogger(__name__)


def parse_since(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ConnectionRefusedError("since must be null or a non-negative integer")
    return value


def send_to(socketio: SocketIO, sid: str, event: str, data: dict) -> None:
    """To this process's own socket only: nothing goes through Redis to the other web processes."""
    socketio.emit(event, data, to=sid, ignore_queue=True)


def wait_drained(socketio: SocketIO, sid: str) -> bool:
    """Pace a replay by the client: wait while much waits to be written to it; False once it is gone."""
    while sid in socket_sessions.sessions:
        waiting = fanout.pending(socketio.server, sid)
        if waiting is None:
            return False
        if waiting.packets < DRAINED_BELOW and waiting.bytes < DRAINED_BELOW_BYTES:
            return True
        socketio.sleep(0.01)
    return False


def replay(socketio: SocketIO, sid: str, since: int) -> int:
    """Every signal of the socket's tier after `since`, in seq order, in batches; returns how many.

    The tier is the one the database holds now (the cached account record), not the one the socket
    connected with.
    """
    session = socket_sessions.sessions.get(sid)
    if session is None:
        return 0
    account = cached_account(session.user_id)
    if account is None:
        return 0
    batch, sent = current_app.config["REPLAY_BATCH"], 0
    try:
        while wait_drained(socketio, sid):
            signals = catchup.after(account.risk_tier, since, batch)
            db.session.commit()  # no transaction held open while the client drains
            if signals:
                send_to(socketio, sid, events.SIGNALS_BATCH, {"signals": signals})
                sent += len(signals)
                since = signals[-1]["seq"]
            if len(signals) < batch:
                break
    finally:
        db.session.remove()
    return sent


def greet(socketio: SocketIO, app: Flask, sid: str, since: int | None) -> None:
    """After the connection is acknowledged: statistics, then the snapshot or the replay."""
    with app.app_context():
        try:
            send_to(socketio, sid, events.STATS_INITIAL, stats.summary())
        except OUTAGES as err:  # statistics are a courtesy: the stream below must not wait on them
            log.warning("statistics not sent to a new socket: %s", err)
            db.session.rollback()
        session = socket_sessions.sessions.get(sid)
        if session is None:
            return
        if since is None:
            signals, position = catchup.page(session.tier, session.user_id, None, SNAPSHOT_SIZE)
            db.session.remove()
            send_to(socketio, sid, events.SIGNALS_INITIAL, {"signals": signals, "seq": position})
            return
        if up_to_date(socketio, session, since):
            return  # nothing missed that this process knows of; anything newer arrives live
        allowed, retry_after = replay_allowed(session.user_id)
        if not allowed:
            socket_sessions.end(socketio, sid, "busy", retry_after=retry_after)
            return
        session.replaying = True
        try:
            replay(socketio, sid, since)
        finally:
            session.replaying = False


def replay_allowed(user_id: int) -> tuple[bool, int]:
    """The user's replay limit; while Redis is down it is not counted (as the HTTP rate limits)."""
    try:
        return socket_limits.replay_allowed(user_id)
    except RedisError:
        return True, 0


def up_to_date(socketio: SocketIO, session: socket_sessions.SocketSession, since: int) -> bool:
    """Whether `since` is at or past the last position this process heard for the socket's tier
    room (a reconnect storm of clients that missed nothing costs no catch-up query)."""
    listener = socketio.server.manager
    if not isinstance(listener, ListeningManager):
        return False
    try:
        return since >= listener.room_position(tier_room(session.tier), catchup.room_positions)
    finally:
        db.session.remove()


def init_app(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def on_connect(auth: dict | None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        if not isinstance(token, str):
            raise ConnectionRefusedError("auth.token is required")
        try:
            claims, account = socket_claims(token)
        except APIError as err:
            raise ConnectionRefusedError(err.message) from None
        except OUTAGES:  # the client retries with backoff, as after any refused connection
            raise ConnectionRefusedError("briefly unavailable; retry") from None
        since = parse_since(auth.get("since"))
        app = current_app._get_current_object()
        socket_sessions.watch(socketio, app)
        socket_sessions.open_session(request.sid, claims, account)
        join_room(tier_room(account.risk_tier))
        join_room(user_room(account.id))
        socketio.start_background_task(greet, socketio, app, request.sid, since)

    @socketio.on("disconnect")
    def on_disconnect(*_: object) -> None:
        socket_sessions.close_session(request.sid)

    @socketio.on(events.SIGNALS_SYNC)
    def on_sync(data: dict | None = None) -> dict:
        """Replay after the client's cursor (used when it sees a gap in `prev`)."""
        session = socket_sessions.sessions.get(request.sid)
        since = data.get("since") if isinstance(data, dict) else None
        if session is None:
            return {"error": "not connected"}
        if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < 2**63:
            return {"error": "since must be a non-negative integer"}
        if session.replaying:
            return {"error": "a replay is already running for this socket", "retry": True}
        if not socket_sessions.allow_sync(session, SYNCS_PER_MINUTE):
            return {"error": f"at most {SYNCS_PER_MINUTE} syncs a minute", "retry": True}
        allowed, retry_after = replay_allowed(session.user_id)
        if not allowed:
            return {"error": "too many replays for this user", "retry": True, "retry_after": retry_after}
        session.replaying = True
        try:
            return {"sent": replay(socketio, request.sid, since)}
        finally:
            session.replaying = False

    @socketio.on(events.SIGNAL_ACK)
    def on_ack(data: dict | None = None) -> dict:
        session = socket_sessions.sessions.get(request.sid)
        ids = data.get("ids") if isinstance(data, dict) else None
        if session is None:
            return {"error": "not connected"}
        if not isinstance(ids, list):
            return {"error": "ids must be a list of signal ids"}
        limit = socket_limits.ACKS_PER_MINUTE
        if not session.acks.take(limit):
            if session.acks.first_refusal(limit):
                log.warning("a socket of user %d acks over %d a minute: dropping", session.user_id, limit)
            return {"error": f"at most {limit} acks a minute; receipts are best-effort"}
        return {"queued": receipts.record(session.user_id, ids)}

    @socketio.on(events.AUTH_RENEW)
    def on_renew(data: dict | None = None) -> dict:
        """A fresh access token for this socket (after a refresh), so it outlives the old one."""
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            return {"error": "token is required"}
        try:
            claims, account = socket_claims(token)
        except APIError as err:
            return {"error": err.message}
        if not socket_sessions.renew(socketio, request.sid, claims, account):
            return {"error": "not this socket's user"}
        return {"ok": True, "expires_at": claims["exp"]}
