"""One websocket's way out: written at once when the kernel takes it, else a bounded backlog in order.

A server-to-client WebSocket frame is not masked, so the same bytes can go to every socket of a
room. `Wire.write` sends them from the calling greenlet with a non-blocking send; whatever the
kernel does not take (a partial write, or a socket already waiting) joins the socket's backlog,
which a writer greenlet, started only then, drains in order and then ends. A backlog past its
bound (packets, or bytes behind the frame in flight) drops the socket: its data is discarded,
the farewell frame is queued, and the connection is shut down once the farewell is out or after
`grace` seconds, whichever is first. The client reconnects and catches up with its cursor.
"""

import socket
from collections import deque
from dataclasses import dataclass

import gevent
from geventwebsocket.websocket import Header, WebSocket


def frame(encoded: str | bytes) -> bytes:
    """An encoded engine.io packet as one unmasked WebSocket frame (text, or binary for bytes)."""
    if isinstance(encoded, str):
        payload, opcode = encoded.encode(), WebSocket.OPCODE_TEXT
    else:
        payload, opcode = bytes(encoded), WebSocket.OPCODE_BINARY
    return bytes(Header.encode_header(True, opcode, b"", len(payload), 0)) + payload


@dataclass(frozen=True)
class Bounds:
    """How much may wait for one socket before it is dropped, and what it is told."""

    packets: int
    bytes: int
    grace: float  # seconds a dropped or closed socket gets before its connection is shut down
    farewell: bytes = b""  # the frame a dropped socket gets last


class Counters:
    """What the fan-out did since the last flush (journal/fanout/manager.py publishes them)."""

    __slots__ = (
        "emits",
        "wire_writes",
        "queue_sends",
        "socket_frames",
        "backlogged",
        "dropped_slow",
    )

    def __init__(self) -> None:
        self.take()

    def take(self) -> dict[str, int]:
        """The non-zero counts, each reset to zero."""
        counts = {}
        for name in self.__slots__:
            if getattr(self, name, 0):
                counts[name] = getattr(self, name)
            setattr(self, name, 0)
        return counts


class Wire:
    """The ordered, bounded writer of one websocket connection."""

    __slots__ = ("sock", "bounds", "counters", "backlog", "backlog_bytes", "writer", "dropping", "dead")

    def __init__(self, sock: socket.socket, bounds: Bounds, counters: Counters) -> None:
        self.sock, self.bounds, self.counters = sock, bounds, counters
        self.backlog: deque[bytes] | None = None  # made when needed; [0] is being written by the writer
        self.backlog_bytes = 0
        self.writer: gevent.Greenlet | None = None
        self.dropping = False
        self.dead = False

    def write(self, data: bytes) -> None:
        """Send `data` after everything before it; never blocks, never raises."""
        if self.dead:
            return
        if self.backlog:
            self._enqueue(data)
            return
        try:
            sent = self.sock.send(data, 0, timeout=0.0)  # gevent: fail rather than wait
        except BlockingIOError:
            sent = 0
        except OSError:
            self.hang_up()
            return
        if sent < len(data):
            self._append(data[sent:])
            self.writer = gevent.spawn(self._drain)

    def _enqueue(self, data: bytes) -> None:
        if self.dropping:
            return  # the client catches up with its cursor after reconnecting
        behind = self.backlog_bytes - len(self.backlog[0])
        if len(self.backlog) >= self.bounds.packets or behind + len(data) > self.bounds.bytes:
            self._drop()
        else:
            self._append(data)

    def _append(self, data: bytes) -> None:
        if self.backlog is None:
            self.backlog = deque()
        self.backlog.append(data)
        self.backlog_bytes += len(data)
        self.counters.backlogged += 1

    def _drop(self) -> None:
        self.dropping = True
        self.counters.dropped_slow += 1
        if self.bounds.farewell:
            self._append(self.bounds.farewell)
        self.hang_up_later()

    def _drain(self) -> None:
        try:
            while self.backlog:
                data = self.backlog[0]
                self.sock.sendall(data)  # yields to other greenlets while the client is not reading
                self.backlog.popleft()
                self.backlog_bytes -= len(data)
            self.backlog = None  # most sockets never need one again
        except OSError:
            self.hang_up()
        finally:
            self.writer = None
        if self.dropping:
            self.hang_up()  # the farewell is out

    def hang_up_later(self) -> None:
        """Shut the connection down after `grace` seconds unless it ended by then."""
        gevent.spawn_later(self.bounds.grace, self.hang_up)

    def hang_up(self) -> None:
        """Discard the backlog and shut the connection down (its reader then ends the socket)."""
        if self.dead:
            return
        self.dead = True
        self.backlog, self.backlog_bytes = None, 0
        writer, self.writer = self.writer, None
        if writer is not None and writer is not gevent.getcurrent():
            writer.kill(block=False)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer
