"""The per-socket writer (journal/fanout/wire.py) over a real socket pair, and the engine.io patch.

Each test is named after the fault it stops: frames interleaved or reordered when the kernel
takes only part of them, a client that stops reading holding memory without end, a library
upgrade slipping past the patch.
"""

import socket

import engineio
import engineio.server
import gevent
import gevent.socket

from journal.fanout import patch
from journal.fanout.wire import Bounds, Counters, Wire, frame

FAREWELL = frame('42["session:end",{"reason":"slow"}]')
GUARD = 10  # seconds: a hang guard


def small_pair() -> tuple[gevent.socket.socket, gevent.socket.socket]:
    """A connected pair whose buffers are small, so a reader that stops soon stops the writer."""
    server, client = gevent.socket.socketpair()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return server, client


def read_all(sock: gevent.socket.socket) -> bytes:
    """Everything until the peer shuts the connection down."""
    received = bytearray()
    with gevent.Timeout(GUARD):
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def test_frames_written_past_a_full_socket_arrive_whole_and_in_order():
    server, client = small_pair()
    wire = Wire(server, Bounds(packets=10_000, bytes=10**8, grace=GUARD), Counters())
    frames = [frame(f"4{i:05d}" + "x" * 3000) for i in range(200)]  # far more than the buffers hold
    for data in frames:
        wire.write(data)
    assert wire.backlog, "the kernel took everything: the test did not reach the backlog"
    assert wire.counters.backlogged > 0
    reader = gevent.spawn(read_all, client)
    with gevent.Timeout(GUARD):
        while wire.backlog:
            gevent.sleep(0.01)
    wire.hang_up()
    assert reader.get() == b"".join(frames)


def test_a_reader_that_stops_is_dropped_past_its_bound_with_its_farewell_last():
    server, client = small_pair()
    bounds = Bounds(packets=20, bytes=10**8, grace=GUARD, farewell=FAREWELL)
    wire = Wire(server, bounds, Counters())
    frames = [frame(f"4{i:05d}" + "y" * 2000) for i in range(200)]
    for data in frames:
        wire.write(data)
    assert wire.dropping and wire.counters.dropped_slow == 1
    assert len(wire.backlog) <= bounds.packets + 1  # the bound, and the farewell behind it
    received = gevent.spawn(read_all, client).get()  # the client reads again: what fit, then the end
    assert received.endswith(FAREWELL)
    written = received[: -len(FAREWELL)]
    assert b"".join(frames).startswith(written), "frames were lost or reordered before the drop"
    assert wire.dead


def test_a_reader_that_never_reads_again_is_cut_off_after_the_grace():
    server, client = small_pair()
    wire = Wire(server, Bounds(packets=5, bytes=10**8, grace=0.2, farewell=FAREWELL), Counters())
    for i in range(200):
        wire.write(frame(f"4{i:05d}" + "z" * 2000))
    assert wire.dropping
    with gevent.Timeout(GUARD):
        while not wire.dead:
            gevent.sleep(0.05)
    assert wire.backlog is None and wire.backlog_bytes == 0  # its memory is let go
    read_all(client)  # the connection ends for the client too


def test_bytes_bound_counts_what_waits_behind_the_frame_in_flight():
    server, client = small_pair()
    wire = Wire(server, Bounds(packets=1000, bytes=64 * 1024, grace=GUARD, farewell=FAREWELL), Counters())
    wire.write(frame("4" + "b" * 1_000_000))  # one replay batch larger than the byte bound
    wire.write(frame("4live"))  # a live signal behind it is still within the bound
    assert not wire.dropping
    for _ in range(40):
        wire.write(frame("4" + "c" * 2000))
    assert wire.dropping  # 80 KB behind the batch is not
    wire.hang_up()


def test_engineio_server_without_a_socket_class_still_builds_its_own_sockets():
    patch.apply()
    patch.apply()  # idempotent
    server = engineio.Server(async_mode="threading")
    assert type(engineio.server.socket.Socket(server, "a")) is engineio.socket.Socket
    server.socket_class = lambda srv, sid: ("chosen", srv, sid)
    assert engineio.server.socket.Socket(server, "b") == ("chosen", server, "b")
    assert engineio.server.socket.packet is engineio.socket.packet  # the rest of the module is engine.io's


def test_an_upgraded_library_is_caught_before_the_patch_runs_untested():
    assert patch.untested_versions() == [], "retest journal/fanout against these versions, then update TESTED"
