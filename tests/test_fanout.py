"""The fan-out end to end: gunicorn, Celery, Redis, PostgreSQL and real Socket.IO clients.

Each test is named after the fault it stops: a room framed again for every socket, long-polling
or upgraded clients left behind by the websocket path, one slow socket stalling or starving the
others, a slow socket holding memory without end or losing signals when it comes back.
"""

import json
import os
import socket
import threading
import time
import uuid

import psutil
import redis
import websocket

from journal.embedded import free_port
from journal.fanout import metrics_key
from journal.stream.client import StreamClient
from tests.stack import wait_until

GUARD = 30  # seconds: a hang guard, not a timing assertion


def big() -> dict:
    """A new signal near MAX_SIGNAL_PAYLOAD_BYTES: fills a stalled socket fast."""
    return {"payload": {"analysis": "x" * 16000, "ref": uuid.uuid4().hex}}


def counts_of(stack, name: str):
    """A reader of one web process's fan-out counters (its Redis hash, flushed every second)."""
    worker = psutil.Process(stack.procs[name].pid).children()[0].pid
    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)

    def read() -> dict[str, int]:
        return {field: int(value) for field, value in client.hgetall(metrics_key(worker)).items()}

    return read


def settled(read) -> dict[str, int]:
    """The counters once two flushes in a row bring nothing new."""
    last = read()
    deadline = time.time() + GUARD
    while time.time() < deadline:
        time.sleep(1.2)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError("the counters never settled")


def delta(after: dict, before: dict) -> dict[str, int]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in after.keys() | before.keys()}


def assert_exactly_once_in_order(client: StreamClient, ids: list[str]) -> None:
    """Every signal applied once, in order; a socket that stayed connected and asked for no replay
    was also sent none twice (one that reconnected or resynced may be sent again what its cursor
    then drops: at-least-once, which a loaded machine can cause with a missed ping)."""
    assert client.wait_for(set(ids), GUARD), f"missing {len(set(ids) - {s['id'] for s in client.applied})}"
    time.sleep(0.3)  # anything extra would arrive now
    assert [s["id"] for s in client.applied] == ids
    if client.connects == 1 and client.syncs == 0:
        assert client.duplicates == 0


def client_over(hub, tier: str, transports: list[str]) -> StreamClient:
    """A stream client of a new user on the given engine.io transports, live from now."""
    login = hub.user("user", tier)
    client = StreamClient(hub.url, login["access_token"], since=hub.position(login["access_token"]))
    client.sio.connect(hub.url, auth=client.auth, transports=transports, wait_timeout=10)
    return client


def stall(client: StreamClient) -> threading.Event:
    """Stop the client reading its websocket (a frozen tab or process) until the event is set."""
    ws = client.sio.eio.ws
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    resume, recv = threading.Event(), ws.recv

    def gated_recv():
        resume.wait()
        return recv()

    ws.recv = gated_recv
    return resume


def stuck_socket(hub) -> websocket.WebSocket:
    """A raw websocket that completes the Socket.IO handshake of a new user, then never reads again."""
    token = hub.user("user", "low")["access_token"]
    ws = websocket.create_connection(
        hub.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)],
        timeout=GUARD,
    )
    assert ws.recv().startswith("0")  # engine.io open
    ws.send("40" + json.dumps({"token": token, "since": hub.position(token)}))
    while not ws.recv().startswith("40"):
        pass
    return ws


def cut_off(ws: websocket.WebSocket) -> bool:
    """Read what the server sent; True once it ended the connection."""
    try:
        while ws.recv():
            pass
    except websocket.WebSocketConnectionClosedException:
        return True
    except websocket.WebSocketTimeoutException:
        return False
    return True


def test_a_room_emit_is_framed_once_and_the_same_frame_reaches_every_socket(hub, stack):
    url = stack.start_web("web-frames", free_port())
    clients = [hub.client("high", url=url) for _ in range(8)]
    try:
        read = counts_of(stack, "web-frames")
        assert wait_until(lambda: all(c.stats for c in clients), GUARD)  # greeted
        before = settled(read)
        ids = [hub.post("high") for _ in range(10)]  # tier:high is the only room they reach here
        for client in clients:
            assert_exactly_once_in_order(client, ids)
        done = delta(settled(read), before)
        # a relay pass sends a room several signals as one batch, and beat's statistics pushes are
        # emits too: what counts is that each reached every socket of this process as one frame
        assert done["emits"] >= 1
        # every emit went out as the one frame _write builds, written as is to each socket: none
        # through a socket's queue, none framed per socket
        assert done["wire_writes"] == len(clients) * done["emits"]
        assert done.get("queue_sends", 0) == 0
    finally:
        for client in clients:
            client.close()
        stack.kill("web-frames")


def test_polling_upgraded_and_websocket_clients_of_one_room_all_receive_everything(hub, stack):
    read = counts_of(stack, "web")
    clients = {
        "websocket": client_over(hub, "medium", ["websocket"]),
        "polling": client_over(hub, "medium", ["polling"]),
        "upgraded": client_over(hub, "medium", ["polling", "websocket"]),
    }
    try:
        assert clients["polling"].sio.transport() == "polling"
        assert clients["upgraded"].sio.transport() == "websocket"
        before = read()
        ids = [hub.post(tier) for tier in ("low", "medium", "high") * 10]
        expected = [sid for sid in ids if hub.posted[sid][0] in ("low", "medium")]
        for client in clients.values():
            assert_exactly_once_in_order(client, expected)
        done = delta(settled(read), before)
        assert done["queue_sends"] >= len(expected)  # the polling client took engine.io's queue
        assert done["wire_writes"] >= 2 * len(expected)  # the other two the shared frames
    finally:
        for client in clients.values():
            client.close()


def test_binary_attachments_reach_websocket_and_polling_sockets_of_one_room(hub, worker_app):
    from journal.stream.emit import emitter, user_room

    login = hub.user("user", "low")
    clients = {}
    for transport in ("websocket", "polling"):
        client = StreamClient(hub.url, login["access_token"], since=hub.position(login["access_token"]))
        client.blobs = []
        client.sio.on("test:blob", client.blobs.append)
        client.sio.connect(hub.url, auth=client.auth, transports=[transport], wait_timeout=10)
        clients[transport] = client
    try:
        blob = {"raw": bytes(range(256)), "n": 1}
        with worker_app.app_context():  # the relay's write-only emitter, through Redis
            emitter().emit("test:blob", blob, to=user_room(login["user"]["id"]))
        for client in clients.values():
            assert wait_until(lambda c=client: c.blobs, GUARD) == [blob]
    finally:
        for client in clients.values():
            client.close()


def test_slow_sockets_are_dropped_past_their_bound_and_come_back_while_the_room_gets_everything(hub, stack):
    read = counts_of(stack, "web")
    fast = [hub.client("low") for _ in range(3)]
    slow = hub.client("low")
    first_sid = slow.sio.get_sid()
    resume = stall(slow)
    stuck = stuck_socket(hub)
    try:
        dropped_before = read().get("dropped_slow", 0)
        ids: list[str] = []
        while read().get("dropped_slow", 0) < dropped_before + 2 and len(ids) < 1500:
            ids += [hub.post("low", **big()) for _ in range(20)]
        assert read().get("dropped_slow", 0) >= dropped_before + 2, f"no drop after {len(ids)} signals"
        resume.set()  # it reads again: what it was sent, its session:end if still in time, then it reconnects
        ids += [hub.post("low") for _ in range(5)]
        for client in [*fast, slow]:
            assert_exactly_once_in_order(client, ids)
        assert slow.sio.get_sid() != first_sid  # it was disconnected and came back with its cursor
        assert slow.ended in ([], ["slow"])
        assert all(client.ended == [] for client in fast)
        assert cut_off(stuck)  # the one that never reads again is let go
    finally:
        resume.set()
        for client in [*fast, slow]:
            client.close()
        stuck.close()
