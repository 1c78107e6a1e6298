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
    """Real gunicorn web processes of the hub (gevent-websocket worker, one by default), no Celery: the
    feeder stands in for the relay. `processes` are gunicorn's workers, which serve the sockets, not
    their masters; with several, each harness process connects to one of them in turn."""

    feed_format = "hub"

    def __init__(self, workdir: Path, owner_url: str, web_processes: int = 1) -> None:
        self.stack = Stack(workdir, owner_url=owner_url)
        self.web_processes = web_processes
        self.name = "hub" if web_processes == 1 else f"hub×{web_processes}"
        self.processes: list[psutil.Process] = []

    def start(self, sockets: int) -> list[str]:
        env = {"GUNICORN_WORKER_CONNECTIONS": str(sockets + SPARE_CONNECTIONS)}
        urls = []
        for k in range(self.web_processes):
            name = f"web-{k + 1}"
            urls.append(self.stack.start_web(name, free_port(), env))
            self.processes += psutil.Process(self.stack.procs[name].pid).children()
        return urls

    def stop(self) -> None:
        self.stack.stop()
        self.processes = []


class NodeServer:
    """bench/peer/server.js: socket.io 4 with the Redis adapter; `process` is the node process."""

    name = "node"
    feed_format = "node"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.processes: list[psutil.Process] = []

    def start(self, sockets: int) -> list[str]:
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
        self.processes = [psutil.Process(self.proc.pid)]
        return [url]

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


def server_cpu(server: "HubServer | NodeServer") -> float:
    """CPU seconds of the processes serving the sockets."""
    return sum(cpu_seconds(process) for process in server.processes)
