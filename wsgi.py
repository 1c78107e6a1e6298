"""The web entry point: gevent monkey-patching first, then app = create_app(), then wait for its services."""

from gevent import monkey

monkey.patch_all()

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402
from gevent.socket import wait_read, wait_write  # noqa: E402


def gevent_wait(conn: psycopg2.extensions.connection, timeout: float | None = None) -> None:
    """Let other greenlets run while psycopg2 waits on PostgreSQL (psycogreen's recipe).

    Not psycopg2.extras.wait_select: select() fails on descriptors above 1024, which a web
    process with thousands of sockets reaches at once.
    """
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


psycopg2.extensions.set_wait_callback(gevent_wait)

from journal import create_app  # noqa: E402
from journal.startup import wait_for_services  # noqa: E402

app = create_app({"PROCESS_KIND": "web"})
wait_for_services(app)
