"""The Socket.IO message queue in Redis: the web processes' listener and the relay's publisher.

Both subclass python-socketio's RedisManager (tested with python-socketio 5.18):
- `ListeningManager` (web processes) resubscribes within a second of Redis coming back (the
  library backs off up to 60 s), and hears a canary: every CANARY_SECONDS the process publishes a
  message addressed to itself and notes when it comes back through the subscription, so /readyz can
  tell a process that stopped hearing the queue (a deaf process delivers nothing) from a healthy one.
- `PublishingManager` (the relay's write-only emitter) raises when Redis does not take a message,
  instead of logging and dropping it, so the relay leaves the event unmarked and emits it again.

The listener also notes, per tier room, the highest stream position it has heard (`positions`),
seeded from stream_rooms once subscribed: a socket that reconnects with a cursor at or past it has
missed nothing this process knows of, so it needs no catch-up query (what commits later arrives
live). What was published while the listener was not subscribed (Redis restarted, or dropped a
slow subscriber) never reaches it; journal/stream/redeliver.py sends that to its rooms again.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import socketio
from redis.exceptions import RedisError

from journal import fastjson
from journal.stream import events

CHANNEL = "flask-socketio"  # Flask-SocketIO's default; the benchmark's feeder publishes there too
CANARY_SECONDS = 2
DEAF_AFTER_SECONDS = 10
REDIS_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 2, "health_check_interval": 10}
log = logging.getLogger(__name__)


STREAM_EVENTS = (events.SIGNAL_NEW, events.SIGNAL_OUTCOME, events.SIGNALS_BATCH)


class ListeningManager(socketio.RedisManager):
    def __init__(self, url: str, **kwargs: object) -> None:
        super().__init__(url, channel=CHANNEL, redis_options=dict(REDIS_OPTIONS), **kwargs)
        self.canary_room = f"{events.CANARY}:{self.host_id}"
        self.canary_heard: float | None = None  # None: no canary kept (not a web process)
        self.positions: dict[str, int] | None = None  # room -> highest seq heard; None until seeded
        self.subscribed: Callable[[bool], None] | None = None  # called with whether it is a reconnect

    def _handle_emit(self, message: dict) -> None:
        event = message.get("event")
        if event == events.CANARY:
            if message.get("room") == self.canary_room:
                self.canary_heard = time.time()
            return
        if event in STREAM_EVENTS and self.positions is not None:
            data = message["data"][0]
            seq = data["signals"][-1]["seq"] if event == events.SIGNALS_BATCH else data.get("seq", 0)
            room = message.get("room")
            self.positions[room] = max(self.positions.get(room, 0), seq)
        super()._handle_emit(message)

    def room_position(self, room: str, seed: Callable[[], dict[str, int]]) -> int:
        """The highest stream position this process knows for `room` (`seed` reads stream_rooms once)."""
        if self.positions is None:
            self.positions = seed()
        return self.positions.get(room, 0)

    def send_canary(self) -> None:
        """A message to this process only, through Redis (the sender's host id is not ours, so the
        listener does not skip it as its own)."""
        self._publish(
            {"method": "emit", "event": events.CANARY, "data": [], "namespace": "/", "room": self.canary_room,
             "skip_sid": None, "callback": None, "host_id": "canary"}
        )  # fmt: skip

    def deaf_for(self) -> float:
        """Seconds since the canary was last heard beyond the allowed silence (0 while hearing)."""
        if self.canary_heard is None:
            return 0.0
        return max(0.0, time.time() - self.canary_heard - DEAF_AFTER_SECONDS)

    def _redis_listen_with_retries(self):  # noqa: ANN202 - the library's generator
        """The library's loop, with the reconnect delay capped at one second; `subscribed` runs as a
        background task once each subscription is confirmed (what was published before then is in
        the database by then, what comes after arrives here)."""
        reconnect = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.ignore_subscribe_messages = False  # the confirmation is the cue
                self.pubsub.subscribe(self.channel)
                for message in self.pubsub.listen():
                    if message.get("type") == "subscribe" and self.subscribed is not None:
                        self.server.start_background_task(self.subscribed, reconnect)
                    yield message
            except Exception as err:  # any failure of the connection: reconnect
                log.warning("Socket.IO message queue: %s; resubscribing in 1 s", err)
                reconnect = True
                time.sleep(1)


class PublishingManager(socketio.RedisManager):
    """python-socketio's write-only manager whose publishes raise instead of being dropped, and can
    be held and sent together in one round trip (`batch`)."""

    def __init__(self, url: str, **kwargs: object) -> None:
        super().__init__(
            url, channel=CHANNEL, write_only=True, redis_options=dict(REDIS_OPTIONS), json=fastjson, **kwargs
        )
        self.held: list[str] | None = None

    def _publish(self, data: dict) -> int:
        if self.held is not None:
            self.held.append(self.json.dumps(data))
            return 0
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except RedisError:
            self.connected = False
            raise

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within: emits are held; at the end they are published in order, in one pipeline."""
        self.held = []
        try:
            yield
            if self.held:
                if not self.connected:
                    self._redis_connect()
                with self.redis.pipeline(transaction=False) as pipe:
                    for message in self.held:
                        pipe.publish(self.channel, message)
                    pipe.execute()
        except RedisError:
            self.connected = False
            raise
        finally:
            self.held = None


def keep_canary(server: socketio.Server) -> None:
    """Listen to the queue from the start, and send the canary every CANARY_SECONDS for as long as
    the process lives (a background task of each web process)."""
    if not server.manager_initialized:  # python-socketio starts listening at the first connection
        server.manager_initialized = True
        server.manager.initialize()
    manager = server.manager
    manager.canary_heard = time.time()  # a grace period from start
    while True:
        server.sleep(CANARY_SECONDS)
        try:
            manager.send_canary()
        except Exception as err:  # Redis down: the silence shows on /readyz
            log.warning("canary not sent: %s", err)
