"""A Python client of the stream that applies every event of its tier once, in seq order.

Each event (`signal:new`, and `signal:outcome` with `kind: "outcome"`) carries `seq` and `prev` (the
seq of the previous event in the client's tier room). An event whose `prev` is beyond the last
applied seq means one was missed: it is held back and the client asks the server to replay from its
cursor (`signals:sync`). Seqs at or below the cursor are duplicates of at-least-once delivery and
are dropped. New signals go to `applied`, outcomes to `outcomes`. On reconnect the cursor goes
in `auth.since`, so the server replays what was missed while the client was away, in
`signals:batch` frames applied by the same rules. `renew(token)` hands the socket a fresh access
token (`auth:renew`) before the old one expires; the server closes a socket whose token expired
or whose session ended, after a `session:end` event naming the reason. After `session:end
{reason: "busy", retry_after}` (too many replays for this user) it reconnects with its cursor once
`retry_after` seconds have passed.
"""

import threading
import time

import socketio

from journal import fastjson
from journal.stream import events


class StreamClient:
    def __init__(self, url: str, token: str, since: int | None = None, ack_interval: float = 0.5):
        self.url, self.token, self.last = url, token, since
        self.applied: list[dict] = []
        self.received_at: dict[str, float] = {}
        self.pending: dict[int, dict] = {}
        self.snapshot: list[dict] = []
        self.stats: dict = {}
        self.outcomes: list[dict] = []
        self.account_updates: list[dict] = []
        self.ended: list[str] = []  # reasons the server gave when it closed the socket
        self.duplicates = 0
        self.connects = 0  # connections made, reconnects included
        self.syncs = 0  # signals:sync requests sent (after a gap)
        self.syncing = False
        self.lock = threading.RLock()
        self.unacked: list[str] = []
        self.ack_interval = ack_interval
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_delay=0.2,
            reconnection_delay_max=2,
            json=fastjson,
            # websocket-client checks UTF-8 in pure Python, most of a replay's time at the client:
            # the text is decoded as UTF-8 right after, which refuses what the check would
            websocket_extra_options={"skip_utf8_validation": True},
        )
        self.sio.on(events.SIGNAL_NEW, self.on_signal)
        self.sio.on(events.SIGNALS_BATCH, self.on_batch)
        self.sio.on(events.ACCOUNT_UPDATE, self.account_updates.append)
        self.sio.on(events.SESSION_END, self.on_end)
        self.sio.on(events.SIGNALS_INITIAL, self.on_initial)
        self.sio.on(events.STATS_INITIAL, self.on_stats)
        self.sio.on(events.STATS_UPDATE, self.on_stats)
        self.sio.on(events.SIGNAL_OUTCOME, self.on_signal)
        self.sio.on("connect", self.on_connect)
        self.acker: threading.Thread | None = None
        self.closed = False

    def auth(self) -> dict:
        with self.lock:
            return {"token": self.token, "since": self.last}

    def connect(self, timeout: float = 10) -> "StreamClient":
        self.sio.connect(self.url, auth=self.auth, transports=["websocket"], wait_timeout=timeout)
        if self.acker is None:
            self.acker = threading.Thread(target=self.ack_loop, daemon=True)
            self.acker.start()
        return self

    def on_connect(self) -> None:
        self.connects += 1

    def disconnect(self) -> None:
        self.sio.disconnect()

    def close(self) -> None:
        self.closed = True
        self.sio.disconnect()

    def on_end(self, data: dict) -> None:
        self.ended.append(data["reason"])
        if data["reason"] == "busy":
            threading.Timer(data.get("retry_after", 5), self.come_back).start()

    def come_back(self) -> None:
        """Reconnect with the cursor after a `busy` end, retrying each second while refused."""
        if self.closed or self.sio.connected:
            return
        try:
            self.connect()
        except socketio.exceptions.ConnectionError:
            threading.Timer(1.0, self.come_back).start()

    def on_stats(self, data: dict) -> None:
        self.stats = data

    def on_initial(self, data: dict) -> None:
        with self.lock:
            self.snapshot = data["signals"]
            if self.last is None:
                self.last = data["seq"]
            self.drain()

    def renew(self, token: str) -> dict:
        """Give the open socket a fresh access token; the next reconnect uses it too."""
        with self.lock:
            self.token = token
        return self.sio.call(events.AUTH_RENEW, {"token": token}, timeout=10)

    def on_batch(self, data: dict) -> None:
        for signal in data["signals"]:
            self.on_signal(signal)

    def on_signal(self, signal: dict) -> None:
        with self.lock:
            self.received_at.setdefault(signal["id"], time.time())
            if self.last is not None and signal["seq"] <= self.last:
                self.duplicates += 1
                return
            self.pending[signal["seq"]] = signal
            self.drain()

    def drain(self) -> None:
        """Apply held signals while they follow on; ask for a replay when one is missing."""
        if self.last is None:
            return
        while self.pending:
            seq = min(self.pending)
            signal = self.pending[seq]
            if seq <= self.last:
                del self.pending[seq]
                self.duplicates += 1
            elif signal["prev"] <= self.last:
                del self.pending[seq]
                self.last = seq
                if signal.get("kind") == "outcome":
                    self.outcomes.append(signal)
                else:
                    self.applied.append(signal)
                    self.unacked.append(signal["id"])
            else:
                self.request_sync()
                return

    def request_sync(self) -> None:
        if self.syncing or not self.sio.connected:
            return
        self.syncing = True
        self.syncs += 1
        self.sio.emit(events.SIGNALS_SYNC, {"since": self.last}, callback=self.synced)

    def synced(self, answer: dict | None = None) -> None:
        if isinstance(answer, dict) and answer.get("retry"):  # a replay is running, or too many syncs
            threading.Timer(1.0, self.synced).start()
            return
        with self.lock:
            self.syncing = False
            self.drain()

    def ack_loop(self) -> None:
        while not self.closed:
            time.sleep(self.ack_interval)
            with self.lock:
                ids, self.unacked = self.unacked, []
            if ids and self.sio.connected:
                try:
                    self.sio.emit(events.SIGNAL_ACK, {"ids": ids})
                except socketio.exceptions.BadNamespaceError:
                    with self.lock:
                        self.unacked = ids + self.unacked

    def wait_for(self, ids: set[str], timeout: float = 30) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if ids <= {s["id"] for s in self.applied}:
                    return True
            time.sleep(0.05)
        return False
