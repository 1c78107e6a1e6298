"""The Socket.IO client manager of a web process: Redis pub/sub as before, emits framed once per room.

`FanoutRedisManager` is python-socketio's RedisManager with `FanoutEmit` placed between
PubSubManager and Manager in its method order, so both ways an emit reaches this process (from
Redis, and `ignore_queue=True` emits of this process) go through `FanoutEmit.emit`: the packet is
encoded and framed once, and the same bytes are written to every websocket of the room through
its Wire; long-polling sockets get the same engine.io packet through engine.io's queue. Emits
with a callback (a distinct ack id per socket) and binary attachments keep python-socketio's
per-socket path. What it did is counted in the Redis hash `metrics:fanout:<host>:<pid>` of each
web process (emits, wire_writes, queue_sends, socket_frames, backlogged, dropped_slow),
flushed every second.
"""

import logging
import os
import socket
from dataclasses import replace
from functools import partial
from importlib.util import find_spec

import redis
import socketio
from engineio import packet as eio_packet
from socketio import packet

from journal.fanout import patch
from journal.fanout.eio import Fanout, FanoutSocket
from journal.fanout.wire import Bounds, frame
from journal.stream import events
from journal.stream.pubsub import ListeningManager

# Events known to carry JSON only (python-socketio otherwise walks every value looking for bytes).
JSON_ONLY = frozenset({events.SIGNAL_NEW, events.SIGNAL_OUTCOME, events.SIGNALS_BATCH, events.STATS_UPDATE})
METRICS_PREFIX = "metrics:fanout:"  # + host:pid, one hash per web process
METRICS_EVERY = 1.0  # seconds between flushes
METRICS_TTL = 60  # seconds a hash outlives its process
log = logging.getLogger(__name__)


class FanoutEmit(socketio.Manager):
    """Manager.emit, with one frame per emit written to each websocket of the room."""

    fanout: Fanout | None = None

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if self.fanout is None or callback is not None or namespace not in self.rooms:
            return super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        participants = self.get_participants(namespace, to or room)
        recipients = [eio_sid for sid, eio_sid in participants if sid not in skip]
        if not recipients:
            return  # nothing to encode (the relay emits to every tier room, occupied or not)
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        binary = None if event not in JSON_ONLY else False  # the stream's events hold no bytes: no scan
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args], binary=binary
        )
        encoded = encoded.encode()
        if isinstance(encoded, list):  # binary attachments: several engine.io packets each
            return super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
        self._write(recipients, eio_packet.Packet(eio_packet.MESSAGE, encoded))

    def _write(self, recipients: list[str], eio_pkt: eio_packet.Packet) -> None:
        shared = frame(eio_pkt.encode())
        sockets, wired = self.server.eio.sockets, 0
        for eio_sid in recipients:
            sock = sockets.get(eio_sid)
            wire = getattr(sock, "wire", None)
            if wire is not None and not sock.closed:
                wire.write(shared)
                wired += 1
            else:  # long-polling, or not yet on its transport
                self.server._send_eio_packet(eio_sid, eio_pkt)
        counters = self.fanout.counters
        counters.emits += 1
        counters.wire_writes += wired
        counters.queue_sends += len(recipients) - wired


class FanoutRedisManager(ListeningManager, FanoutEmit):
    """The web process's listener (journal/stream/pubsub.py: fast resubscribe, canary) whose server
    writes websockets directly (gevent with gevent-websocket only)."""

    def __init__(self, url: str, bounds: Bounds, farewell: tuple[str, dict]):
        super().__init__(url)
        self.url, self.bounds, self.farewell = url, bounds, farewell

    def set_server(self, server: socketio.Server) -> None:
        super().set_server(server)
        eio = server.eio
        if eio.async_mode != "gevent" or find_spec("geventwebsocket") is None:
            return  # threading (in-process tests) or another server: python-socketio's own path
        untested = patch.untested_versions()
        if untested:
            log.warning("fan-out off, python-socketio's own send path: untested %s", ", ".join(untested))
            return
        patch.apply()
        event, data = self.farewell
        farewell_text = server.packet_class(packet.EVENT, namespace="/", data=[event, data]).encode()
        farewell = eio_packet.Packet(eio_packet.MESSAGE, farewell_text)
        self.fanout = Fanout(eio, replace(self.bounds, farewell=frame(farewell.encode())), farewell)
        eio.socket_class = partial(FanoutSocket, fanout=self.fanout)

    def initialize(self) -> None:
        super().initialize()
        if self.fanout is not None:
            self.server.start_background_task(self._publish_metrics)

    def _publish_metrics(self) -> None:
        """Add this process's counts to its Redis hash (metrics_key()), which lives while it does."""
        client, key = redis.Redis.from_url(self.url), metrics_key()
        while True:
            self.server.sleep(METRICS_EVERY)
            counts = self.fanout.counters.take()
            try:
                with client.pipeline(transaction=False) as pipe:
                    for name, count in counts.items():
                        pipe.hincrby(key, name, count)
                    pipe.expire(key, METRICS_TTL)
                    pipe.execute()
            except redis.RedisError:
                log.warning("fan-out counts not published (Redis unavailable): %s", counts)


def metrics_key(pid: int | None = None) -> str:
    """The Redis hash of one web process's fan-out counts (this process's by default)."""
    return f"{METRICS_PREFIX}{socket.gethostname()}:{pid or os.getpid()}"
