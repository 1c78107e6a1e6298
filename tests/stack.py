"""Real processes for end-to-end tests: gunicorn web processes, a Celery worker and beat."""

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from journal.stream_client import StreamClient
from tests.conftest import signal_body

ROOT = Path(__file__).resolve().parent.parent
RECEIVES = {"low": {"low"}, "medium": {"low", "medium"}, "high": {"low", "medium", "high"}}
TIERS = ("low", "medium", "high")


class Stack:
    def __init__(self, logdir: Path, env: dict | None = None) -> None:
        self.logdir, self.env = logdir, env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def spawn(self, name: str, args: list[str], extra_env: dict | None = None) -> None:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        env = {**os.environ, **self.env, **(extra_env or {})}
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


class Hub:
    """An admin posting signals over HTTP and users logging in, against one web process."""

    def __init__(self, url: str, admin_app) -> None:
        self.url, self.admin_app = url, admin_app
        self.http = requests.Session()
        admin = self.user("admin", "high")
        self.http.headers["Authorization"] = f"Bearer {admin['access_token']}"
        self.posted: dict[str, tuple[str, float]] = {}

    def user(self, role: str = "user", tier: str = "low") -> dict:
        from journal.users import create_user

        email, password = f"{role}-{tier}-{uuid.uuid4().hex[:10]}@example.com", "correct-horse-battery"
        with self.admin_app.app_context():
            create_user(email, password, role, tier)
        resp = requests.post(self.url + "/api/auth/login", json={"email": email, "password": password})
        return resp.json()

    def post(self, tier: str | None = None) -> str:
        tier = tier or random.choice(TIERS)
        resp = self.http.post(self.url + "/api/admin/signals", json=signal_body(risk_tier=tier))
        assert resp.status_code == 201, resp.text
        self.posted[resp.json()["id"]] = (tier, time.time())
        return resp.json()["id"]

    def expected(self, tier: str, ids=None) -> set[str]:
        ids = self.posted if ids is None else ids
        return {sid for sid in ids if self.posted[sid][0] in RECEIVES[tier]}

    def position(self, token: str) -> int:
        resp = requests.get(
            self.url + "/api/user/signals?limit=1", headers={"Authorization": f"Bearer {token}"}
        )
        return resp.json()["stream_seq"]

    def client(self, tier: str, url: str | None = None, live_from_now: bool = True) -> StreamClient:
        token = self.user("user", tier)["access_token"]
        since = self.position(token) if live_from_now else None
        return StreamClient(url or self.url, token, since=since).connect()
