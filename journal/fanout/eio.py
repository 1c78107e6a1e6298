"""The engine.io socket of a web process: websockets written through a Wire, one ping clock for all.

`FanoutSocket` subclasses engineio.socket.Socket (python-engineio 4.15.1) and replaces, for
websocket connections, the queue and the writer greenlet engine.io keeps per socket:

- `_websocket_handler`: the same transport (the upgrade probe, then a read loop handing packets
  to `receive`), but the socket's packets go out through a `Wire` (journal/fanout/wire.py): no
  writer greenlet while the client keeps up, and gevent-websocket's own frames (pong, close) go
  through it too, so nothing overtakes anything. The engine.io queue is dropped once emptied.
- `send`: one frame per packet through the wire; a long-polling socket keeps engine.io's queue,
  bounded like a wire (past it: the farewell, then the socket is closed).
- `schedule_ping`: one `PingClock` greenlet per process instead of a greenlet per socket that
  sleeps `ping_interval`.
- `close`: engine.io's close, minus handing the end to the writer greenlet and joining its queue.
"""

import logging
import time
from collections import deque

import engineio
import engineio.socket
from engineio import exceptions, packet
from gevent.ssl import SSLSocket
from geventwebsocket.websocket import WebSocket

from journal.fanout.wire import Bounds, Counters, Wire, frame

PING_FRAME = frame(packet.Packet(packet.PING).encode())
log = logging.getLogger(__name__)


class PingClock:
    """Every socket's next ping in due order, served by one greenlet.

    All sockets of a server share one ping interval, so appending (due, socket) keeps the deque in
    due order; an entry whose socket was rescheduled or closed since is skipped.
    """

    def __init__(self, server: engineio.Server) -> None:
        self.server = server
        self.due: deque[tuple[float, FanoutSocket]] = deque()
        self.task = None

    def schedule(self, sock: "FanoutSocket") -> None:
        sock.ping_at = time.monotonic() + self.server.ping_interval
        self.due.append((sock.ping_at, sock))
        if self.task is None:
            self.task = self.server.start_background_task(self._run)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            while self.due and self.due[0][0] <= now:
                at, sock = self.due.popleft()
                if sock.ping_at == at:
                    try:
                        sock.ping()
                    except Exception:  # one socket's failure must not stop everyone's pings
                        log.exception("ping of %s failed", sock.sid)
            self.server.sleep(self.due[0][0] - now if self.due else self.server.ping_interval)


class Fanout:
    """What the sockets of one engine.io server share."""

    def __init__(self, server: engineio.Server, bounds: Bounds, farewell: packet.Packet) -> None:
        self.bounds, self.farewell = bounds, farewell
        self.counters = Counters()
        self.pings = PingClock(server)


class FanoutSocket(engineio.socket.Socket):
    """An engine.io socket whose websocket is written through a Wire (see the module docstring)."""

    def __init__(self, server: engineio.Server, sid: str, fanout: Fanout) -> None:
        super().__init__(server, sid)
        self.fanout = fanout
        self.wire: Wire | None = None
        self.websocket: WebSocket | None = None
        self.ping_at = 0.0
        self.dropping = False

    def send(self, pkt: packet.Packet) -> None:
        if self.wire is None:
            self._enqueue(pkt)
        elif self.check_ping_timeout():
            self.fanout.counters.socket_frames += 1
            # Binary data as is, not through encode(): it caches its result, and a long-polling
            # socket sent the same packet needs it in base64 (python-engineio 4.15 then fails).
            self.wire.write(frame(pkt.data if pkt.binary else pkt.encode()))

    def _enqueue(self, pkt: packet.Packet) -> None:
        """engine.io's queue (long-polling, or before the transport runs), bounded like a wire."""
        if self.queue.qsize() < self.fanout.bounds.packets:
            super().send(pkt)
        elif not self.dropping:
            self.dropping = True
            self.fanout.counters.dropped_slow += 1
            self.queue.put(self.fanout.farewell)
            reason = self.server.reason.TRANSPORT_ERROR  # the client reconnects, as after a network error
            self.server.start_background_task(self.close, wait=False, abort=True, reason=reason)

    def schedule_ping(self) -> None:
        if self.last_ping:  # as engine.io: only once the previous ping was answered
            self.last_ping = None
            self.fanout.pings.schedule(self)

    def ping(self) -> None:
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        if self.wire is None:
            self.send(packet.Packet(packet.PING))
        else:
            self.wire.write(PING_FRAME)

    def close(self, wait: bool = True, abort: bool = False, reason: str | None = None) -> None:
        if self.wire is None:
            super().close(wait=wait, abort=abort, reason=reason)
            return
        if self.closed or self.closing:
            return
        self.closing = True
        reason = reason or self.server.reason.SERVER_DISCONNECT
        self.server._trigger_event("disconnect", self.sid, reason, run_async=False)
        if not abort:
            self.send(packet.Packet(packet.CLOSE))
        self.closed = True
        self.websocket.close()  # the close frame, after everything queued before it
        self.wire.hang_up_later()  # in case the client never answers it

    def _websocket_handler(self, ws: object) -> list:
        """engine.io's websocket transport (`ws` is engine.io's gevent adapter around gevent-websocket)."""
        if isinstance(ws.environ["wsgi.websocket"].handler.socket, SSLSocket):
            # TLS served by gunicorn itself: gevent's SSL send waits even when told not to, so this
            # socket keeps engine.io's queue and writer (the nginx sample terminates TLS instead).
            return super()._websocket_handler(ws)
        if self.closed or (self.connected and not self._probe(ws)):
            return []
        self.connected = self.upgraded = True
        self._take_wire(ws.environ["wsgi.websocket"])
        try:
            while self._receive_next(ws):
                pass
        finally:
            self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            self.wire.hang_up()
        return []

    def _probe(self, ws: object) -> bool:
        """An upgrade from long-polling: engine.io's probe handshake (then the same transport)."""
        self.upgrading = True  # sends wait in the queue meanwhile
        try:
            probe = _next_packet(ws, self.server.max_http_buffer_size)
            if probe is None or probe.packet_type != packet.PING or probe.data != "probe":
                return False
            ws.send(packet.Packet(packet.PONG, data="probe").encode())
            self.queue.put(packet.Packet(packet.NOOP))  # ends the pending long-poll
            upgrade = _next_packet(ws, self.server.max_http_buffer_size)
            return upgrade is not None and upgrade.packet_type == packet.UPGRADE
        finally:
            self.upgrading = False

    def _take_wire(self, websocket: WebSocket) -> None:
        """Send through a wire from now on: first what waits in the queue, in order."""
        wire = Wire(websocket.handler.socket, self.fanout.bounds, self.fanout.counters)
        websocket.raw_write = wire.write  # gevent-websocket's own frames (pong, close) keep their place
        waiting = []
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
            self.queue.task_done()
        self.wire, self.websocket, self.queue = wire, websocket, None
        for pkt in waiting:
            if pkt is not None and not self.closed:
                self.send(pkt)

    def _receive_next(self, ws: object) -> bool:
        """Hand the next packet to engine.io's `receive`; False once the connection is over.

        (One packet per call, so nothing received stays referenced while the next is awaited.)
        """
        try:
            pkt = _next_packet(ws, self.server.max_http_buffer_size)
        except Exception as err:  # a broken connection, a protocol error, a frame too large
            if not self.closed:
                self.server.logger.info("%s: websocket ended: %s", self.sid, err)
            return False
        if pkt is None:
            return False  # closed by the client
        try:
            self.receive(pkt)
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return False
        except Exception:  # as engine.io: log it and end the connection
            self.server.logger.exception("Unknown receive error")
            return False
        return True


def _next_packet(ws: object, max_size: int) -> packet.Packet | None:
    message = ws.wait()
    if message is None:
        return None
    if len(message) > max_size:
        raise ValueError("packet is too large")
    return packet.Packet(encoded_packet=message)
