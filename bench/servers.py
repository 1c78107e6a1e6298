"""The two servers under test, each started fresh per measurement: the hub's web process and the Node peer."""

import os
import signal
import subprocess
from pathlib import Path

import psutil

from bench.node import PEER, node
from journal.devstack import Stack, wait_http
from journal.embedded import free_port

# Room for the health checks beside the measured sockets (gunicorn's worker_connections caps a process).
SPARE_CONNECTIONS = 100


class HubServer:
    """One real gunicorn web process of the hub (gevent-websocket worker), no Celery: the feeder stands
    in for the relay. `process` is gunicorn's worker, which serves the sockets, not its master."""

    name = "hub"
    feed_format = "hub"

    def __init__(self, workdir: Path, owner_url: str) -> None:
        self.stack = Stack(workdir, owner_url=owner_url)
        self.process: psutil.Process | None = None

    def start(self, sockets: int) -> str:
        env = {"GUNICORN_WORKER_CONNECTIONS": str(sockets + SPARE_CONNECTIONS)}
        url = self.stack.start_web(self.name, free_port(), env)
        (self.process,) = psutil.Process(self.stack.procs[self.name].pid).children()
        return url

    def stop(self) -> None:
        self.stack.stop()


class NodeServer:
    """bench/peer/server.js: socket.io 4 with the Redis adapter; `process` is the node process."""

    name = "node"
    feed_format = "node"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.process: psutil.Process | None = None

    def start(self, sockets: int) -> str:
        port = free_port()
        log = open(self.workdir / "node.log", "ab")  # noqa: SIM115 - owned by the process
        env = {**os.environ, "PORT": str(port)}  # REDIS_URL and JWT_SECRET_KEY come from the environment
        self.proc = subprocess.Popen(
            [node(), "server.js"],
            cwd=PEER,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        self.process = psutil.Process(self.proc.pid)
        return url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system
