"""The open sockets of this web process, and the watcher that keeps them honest.

A socket lives only as long as its token and its account allow: the watcher (one greenlet per
process) closes a socket when its access token expires without an `auth:renew`, when its session
ends (log-out, refresh-token reuse) or its account is disabled, and moves it to its new tier room
when an admin changes the tier. It follows the auth event stream in Redis (journal/accounts.py)
within a second, moving past an event only once it is handled (an event that meets an outage is
handled again after it). Every SWEEP_SECONDS it also re-checks every session key and every
account of its sockets (tier, role, disabled) in a few batched reads, so an event lost anyway
(trimmed from the stream, announced while Redis was down) is made good within that time. It also
batches presence updates.

A socket whose outgoing backlog passes MAX_QUEUED packets, or MAX_QUEUED_BYTES waiting behind the
frame being written, is dropped by the send path itself (journal/fanout/wire.py): it gets
`session:end {reason: "slow"}` after what it already has, and its connection is shut down once
that is out or DROP_GRACE seconds later. It reconnects and catches up with its cursor.
"""

import logging
import time
from dataclasses import dataclass, field

from flask import Flask
from flask_socketio import SocketIO
from redis.exceptions import RedisError

from journal.accounts import AUTH_EVENTS, Account, load_account, load_accounts
from journal.extensions import get_redis
from journal.fanout import Bounds
from journal.socket_limits import WindowCounter
from journal.stream import events, presence
from journal.stream.emit import tier_room
from journal.tokens import issued_at, session_key

SWEEP_SECONDS = 15
PRESENCE_EVERY = 10
MAX_QUEUED = 2000  # packets waiting for one socket
MAX_QUEUED_BYTES = 1024 * 1024  # bytes waiting behind the frame being written (a replay batch may be larger)
DROP_GRACE = 5.0  # seconds a dropped socket gets to read its session:end
SLOW_SOCKET = Bounds(MAX_QUEUED, MAX_QUEUED_BYTES, DROP_GRACE)
SLOW_FAREWELL = (events.SESSION_END, {"reason": "slow"})
log = logging.getLogger(__name__)


@dataclass
class SocketSession:
    sid: str
    user_id: int
    tier: str
    fid: str
    expires: float
    issued_at: float
    role: str = "user"
    replaying: bool = False
    syncs: list[float] = field(default_factory=list)  # times of recent signals:sync requests
    acks: WindowCounter = field(default_factory=WindowCounter)  # signal:ack calls this minute


sessions: dict[str, SocketSession] = {}
sockets_of_user: dict[int, int] = {}  # how many open sockets each user has here (O(1) on disconnect)


def open_session(sid: str, claims: dict, account: Account) -> SocketSession:
    session = SocketSession(
        sid, account.id, account.risk_tier, claims["fid"], claims["exp"], issued_at(claims), account.role
    )
    sessions[sid] = session
    sockets_of_user[account.id] = sockets_of_user.get(account.id, 0) + 1
    _presence_pending.add(account.id)
    return session


def close_session(sid: str) -> None:
    session = sessions.pop(sid, None)
    if session is None:
        return
    left = sockets_of_user.pop(session.user_id, 1) - 1
    if left:
        sockets_of_user[session.user_id] = left
        return
    try:
        presence.leave(session.user_id)
    except RedisError:
        pass  # presence ages out on its own


def renew(socketio: SocketIO, sid: str, claims: dict, account: Account) -> bool:
    """Take a fresh access token for an open socket (same user); False when it is someone else's."""
    session = sessions.get(sid)
    if session is None or session.user_id != account.id:
        return False
    session.fid, session.expires, session.issued_at = claims["fid"], claims["exp"], issued_at(claims)
    session.role = account.role  # a token issued now carries the role as it is now
    follow(socketio, session, account)
    return True


def allow_sync(session: SocketSession, per_minute: int) -> bool:
    """At most `per_minute` replays requested per socket per minute."""
    now = time.time()
    session.syncs = [t for t in session.syncs if t > now - 60]
    if len(session.syncs) >= per_minute:
        return False
    session.syncs.append(now)
    return True


def end(socketio: SocketIO, sid: str, reason: str, **detail: int) -> None:
    """Tell the client why, then close its socket (this process's own socket: no pub/sub hop)."""
    socketio.emit(events.SESSION_END, {"reason": reason, **detail}, to=sid, ignore_queue=True)
    socketio.server.disconnect(sid, namespace="/", ignore_queue=True)
    close_session(sid)


def follow(socketio: SocketIO, session: SocketSession, account: Account | None) -> None:
    """Apply the account as it is now: close the socket, or move it to the account's tier room.
    A role change ends it as it ends the tokens issued before (journal/accounts.py change_user)."""
    if account is None or not account.accepts(session.issued_at) or account.role != session.role:
        end(socketio, session.sid, "disabled" if account and account.disabled else "revoked")
        return
    if account.risk_tier != session.tier:
        socketio.server.leave_room(session.sid, tier_room(session.tier), namespace="/")
        socketio.server.enter_room(session.sid, tier_room(account.risk_tier), namespace="/")
        session.tier = account.risk_tier
        update = {"risk_tier": account.risk_tier, "plan": account.plan, "role": account.role}
        socketio.emit(events.ACCOUNT_UPDATE, update, to=session.sid, ignore_queue=True)


def _on_event(socketio: SocketIO, fields: dict) -> None:
    """Apply one auth event; raises only on an outage (the event is then handled again)."""
    if fields.get("kind") == "session":
        for session in [s for s in sessions.values() if s.fid == fields.get("fid")]:
            end(socketio, session.sid, "revoked")
    elif fields.get("kind") == "user":
        if not str(fields.get("uid", "")).isdigit():
            log.warning("socket watcher: skipped a malformed auth event %r", fields)
            return
        user_id = int(fields["uid"])
        mine = [s for s in sessions.values() if s.user_id == user_id]
        if mine:
            account = load_account(user_id)
            for session in mine:
                follow(socketio, session, account)


def _expire(socketio: SocketIO, now: float) -> None:
    for session in [s for s in sessions.values() if s.expires <= now]:
        end(socketio, session.sid, "expired")


def _sweep(socketio: SocketIO) -> None:
    """Re-check every session key and every account at once, in case an auth event was missed.

    Only the sockets open when the sweep began: the Redis and database reads yield to other
    greenlets, and a socket that connects meanwhile was checked by its own connect (sweeping it
    against reads made without it ended it as revoked: 1% of 10,000 sockets connecting at once)."""
    swept = [(s, s.fid) for s in sessions.values()]
    if not swept:
        return
    fids = sorted({fid for _, fid in swept})
    values = get_redis().mget([session_key(fid) for fid in fids])
    alive = {fid for fid, value in zip(fids, values, strict=True) if value}
    accounts = load_accounts(sorted({s.user_id for s, _ in swept}))
    for session, fid in swept:
        if sessions.get(session.sid) is not session or session.fid != fid:
            continue  # closed, ended or renewed (and so checked) meanwhile
        if fid not in alive:
            end(socketio, session.sid, "revoked")
        else:
            follow(socketio, session, accounts.get(session.user_id))


_presence_pending: set[int] = set()


def _presence(now: float, last_full: float) -> float:
    if now - last_full >= PRESENCE_EVERY:
        presence.touch({s.user_id for s in sessions.values()})
        _presence_pending.clear()
        return now
    if _presence_pending:
        pending = set(_presence_pending)
        _presence_pending.clear()
        presence.touch(pending)
    return last_full


def _last_event_id() -> str:
    newest = get_redis().xrevrange(AUTH_EVENTS, count=1)
    return newest[0][0] if newest else "0-0"


def watch(socketio: SocketIO, app: Flask) -> None:
    """Start the watcher once per process (on the first connect)."""
    if app.extensions.get("socket_watcher"):
        return

    def loop() -> None:
        last_id, last_sweep, last_presence, delay = None, time.time(), 0.0, 1.0
        while True:
            try:
                with app.app_context():
                    last_id = last_id or _last_event_id()
                    for _, entries in get_redis().xread({AUTH_EVENTS: last_id}, block=1000, count=500):
                        for entry_id, fields in entries:
                            _on_event(socketio, fields)
                            last_id = entry_id  # only once handled: a failure retries this event
                    now = time.time()
                    _expire(socketio, now)
                    last_presence = _presence(now, last_presence)
                    if now - last_sweep >= SWEEP_SECONDS:
                        _sweep(socketio)
                        last_sweep = now
                delay = 1.0
            except Exception:  # the watcher must outlive any failure (Redis restarts, a bad row)
                log.exception("socket watcher: retrying in %.0f s", delay)
                socketio.sleep(delay)
                delay = min(delay * 2, 10.0)

    app.extensions["socket_watcher"] = socketio.start_background_task(loop)
