"""Fan-out of a web process: one frame per emit written to every websocket of a room, bounded per socket.

What python-socketio 5.18 / python-engineio 4.15 do per recipient (a queue hand-off, a writer
greenlet woken, a timer per `queue.get(timeout)`, the same text framed again for every socket, and
a greenlet per socket per ping cycle) is replaced through their extension points:

- manager.py: `FanoutRedisManager`, a subclass of socketio.RedisManager (the Redis message queue
  the web processes share), passed to Flask-SocketIO as its `client_manager`: an emit is encoded
  and framed once and written to each websocket of the room.
- eio.py: `FanoutSocket`, a subclass of engineio.socket.Socket: a websocket's packets go out
  through its Wire, there is no writer greenlet while the client keeps up, and one ping clock
  serves every socket of the process. Long-polling sockets keep engine.io's own path.
- wire.py: the per-connection writer: a non-blocking send from the emitting greenlet, else a
  backlog in order, drained by a greenlet that exists only while there is one; past its bound
  the socket is dropped (`session:end {reason: "slow"}`, then the connection is shut down) and
  the client reconnects with its cursor.
- patch.py: the one patch, a `socket_class` hook on engine.io's server (engine.io has no socket
  factory), applied only when every library is at the version it was tested with (TESTED there,
  pinned in requirements.txt); otherwise the fan-out stays off and python-socketio's path runs.

Only a gevent server with gevent-websocket (gunicorn.conf.py's worker) takes this path; the
threading mode of in-process tests keeps python-socketio's own. `pending()` tells the replay how
much still waits for a socket.
"""

from dataclasses import dataclass

import socketio

from journal.fanout.manager import FanoutRedisManager, metrics_key
from journal.fanout.wire import Bounds

__all__ = ["Bounds", "FanoutRedisManager", "Pending", "metrics_key", "pending"]


@dataclass(frozen=True)
class Pending:
    """What waits to be written to one socket (bytes: 0 where engine.io's queue holds packets)."""

    packets: int
    bytes: int


def pending(server: socketio.Server, sid: str, namespace: str = "/") -> Pending | None:
    """What waits for the Socket.IO socket `sid` of this process; None once it is gone."""
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace)
    sock = server.eio.sockets.get(eio_sid) if eio_sid else None
    if sock is None or sock.closed:
        return None
    wire = getattr(sock, "wire", None)
    if wire is not None:
        return Pending(len(wire.backlog or ()), wire.backlog_bytes)
    return Pending(sock.queue.qsize(), 0)
