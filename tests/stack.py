"""Real processes for end-to-end tests: gunicorn web processes, a Celery worker and beat."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


class Stack:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def spawn(self, name: str, args: list[str], extra_env: dict | None = None) -> None:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        env = {**os.environ, **(extra_env or {})}
        self.procs[name] = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self, name: str, port: int) -> str:
        self.ports[name] = port
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
        self.spawn(name, gunicorn, {"PORT": str(port), "RATELIMIT_ENABLED": "0"})
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        return url

    def start_worker(self, name: str = "worker") -> None:
        args = [sys.executable, "-m", "celery", "-A", "journal.worker", "worker", "-l", "INFO"]
        self.spawn(name, args + ["--concurrency", "2", "-n", f"{name}@%h"])

    def start_beat(self, name: str = "beat", schedule: Path | None = None) -> None:
        schedule = schedule or self.logdir / f"{name}-schedule"
        args = [sys.executable, "-m", "celery", "-A", "journal.worker", "beat", "-l", "INFO"]
        self.spawn(name, args + ["--schedule", str(schedule)])

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
