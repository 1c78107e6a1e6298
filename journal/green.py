"""psycopg2 under gevent: wait on PostgreSQL cooperatively, so other greenlets run meanwhile."""

import psycopg2
import psycopg2.extensions
from gevent.socket import wait_read, wait_write


def gevent_wait(conn: psycopg2.extensions.connection, timeout: float | None = None) -> None:
    """psycogreen's recipe, with gevent's poll-based waits: not psycopg2.extras.wait_select, whose
    select() fails on descriptors above 1024, which a web process with thousands of sockets reaches."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            wait_read(conn.fileno(), timeout=timeout)
        elif state == psycopg2.extensions.POLL_WRITE:
            wait_write(conn.fileno(), timeout=timeout)
        else:
            raise psycopg2.OperationalError(f"bad state from poll: {state}")


def make_psycopg2_green() -> None:
    psycopg2.extensions.set_wait_callback(gevent_wait)
