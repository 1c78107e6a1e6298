"""gunicorn settings for the web process: one gevent-websocket worker per process."""

import importlib.util
import os
import signal
from pathlib import Path

from geventwebsocket.gunicorn.workers import GeventWebSocketWorker
from geventwebsocket.handler import WebSocketHandler

READ_BUFFER = 1024  # bytes: the read buffer each connection keeps for its whole life


class LeanWebSocketHandler(WebSocketHandler):
    """gevent-websocket's handler, keeping less per open websocket.

    A websocket keeps its read buffer as long as it is open, while what clients send on it (acks,
    pongs, renewals) is a few hundred bytes: 1 KiB instead of pywsgi's 8 KiB (a longer request is
    still read whole, in more reads). (Defined here, not in the journal package, so the master
    imports nothing before the worker monkey-patches.)
    """

    def __init__(self, sock, address, server, rfile=None) -> None:
        super().__init__(sock, address, server, rfile)
        if rfile is None:
            self.rfile = sock.makefile("rb", READ_BUFFER)

    def run_websocket(self) -> None:
        # The parsed request headers are in the environ already; the socket need not keep a copy.
        self.__dict__.pop("headers", None)
        super().run_websocket()


class LeanWebSocketWorker(GeventWebSocketWorker):
    wsgi_handler = LeanWebSocketHandler


bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '5000')}")
worker_class = LeanWebSocketWorker
workers = 1  # Flask-SocketIO needs one worker per process; scale with processes + sticky sessions
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # unset: no access log ("-" for stdout)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "journal-web"
control_socket_disable = True  # several web processes may run on one host


def post_fork(server, worker) -> None:
    """The worker dies with the master: a kill -9 of the master must not leave it serving the port,
    nor waiting out its start-up for a database that died with the stack.

    At once after the fork, before the worker loads the app. journal/startup.py is loaded from its
    file rather than imported: importing the journal package here would load Flask and SQLAlchemy
    before the worker's gevent monkey-patching (startup.py itself uses the standard library only).
    A master that died before this point is caught by die_with_parent's check.
    """
    spec = importlib.util.spec_from_file_location(
        "journal_startup", Path(__file__).parent / "journal" / "startup.py"
    )
    startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startup)
    startup.die_with_parent(signal.SIGKILL, worker.ppid)
