"""Real processes of the stack (gunicorn web, the relay, Celery worker and beat) for tests and benchmarks.

Each process gets only the credentials of its kind (journal/process_env.py): the owner's
DATABASE_URL never reaches a web or worker process, nor the signing keys a worker or beat.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from journal.config import CELERY_WORKER_FLAGS
from journal.process_env import child_environ

ROOT = Path(__file__).resolve().parent.parent


def signal_body(**overrides) -> dict:
    """A valid POST /api/admin/signals body, each one a new signal (its payload carries a fresh
    `ref`: equal content within a candle is one signal); keyword arguments replace fields."""
    body = {
        "symbol": "BTCUSDT",
        "side": "buy",
        "entry_price": "65000.5",
        "stop_loss": "64000",
        "take_profit": "67000",
        "risk_tier": "low",
        "confidence": 72,
        "timeframe": "4h",
        "payload": {"analysis": "breakout above range", "ref": uuid.uuid4().hex[:12]},
    }
    body.update(overrides)
    return body


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


class Stack:
    """Starts, kills and restarts the stack's processes against one database and Redis."""

    def __init__(self, logdir: Path, env: dict | None = None, owner_url: str | None = None) -> None:
        self.logdir, self.env = logdir, env or {}
        self.owner_url = owner_url or os.environ["DATABASE_URL"]
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def spawn(self, name: str, kind: str, args: list[str], extra_env: dict | None = None) -> None:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
        env = child_environ(kind, inherited, self.owner_url)  # this stack's database, its roles only
        env.update(**self.env, **(extra_env or {}))
        self.procs[name] = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self, name: str, port: int, extra_env: dict | None = None) -> str:
        self.ports[name] = port
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
        self.spawn(name, "web", gunicorn, {"PORT": str(port), "RATELIMIT_ENABLED": "0", **(extra_env or {})})
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        return url

    def start_relay(self, name: str = "relay") -> None:
        self.spawn(name, "relay", [sys.executable, "-m", "journal.relayd"])

    def start_worker(self, name: str = "worker") -> None:
        args = [sys.executable, "-m", "celery", "-A", "journal.worker", "worker", "-l", "INFO"]
        self.spawn(name, "worker", args + ["--concurrency", "2", "-n", f"{name}@%h", *CELERY_WORKER_FLAGS])

    def start_beat(self, name: str = "beat", schedule: Path | None = None) -> None:
        schedule = schedule or self.logdir / f"{name}-schedule"
        args = [sys.executable, "-m", "celery", "-A", "journal.worker", "beat", "-l", "INFO"]
        self.spawn(name, "beat", args + ["--schedule", str(schedule)])

    def kill(self, name: str) -> None:
        """kill -9 the process and its children (gunicorn's worker, Celery's pool)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart_web(self, name: str) -> str:
        return self.start_web(name, self.ports[name])

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
