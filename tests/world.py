"""A stack on a PostgreSQL and a Redis of its own, which fault tests may stop, restart and poison.

The session's servers are shared by every other test; these are not, so restarting them or
leaving a poisoned event in them touches nothing else.
"""

import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import redis
import requests

from journal import create_app
from journal.devstack import Stack, signal_body
from journal.embedded import (
    create_database,
    free_port,
    init_postgres,
    postgres_program,
    postgres_url,
    redis_program,
    redis_url,
    socket_dir,
    wait_ready,
)
from journal.migrate import migrate
from tests.stack import Hub


class Servers:
    """One PostgreSQL and one Redis under `base`, started, stopped and restarted on demand."""

    def __init__(self, base: Path) -> None:
        pgdata = base / "pgdata"
        init_postgres(pgdata)
        self.pg = postgres_program(pgdata, socket_dir(pgdata))
        self.sockets = Path(self.pg.args[self.pg.args.index("-k") + 1])
        self.redis = redis_program(base / "redis", free_port())
        self.redis_url = redis_url(int(self.redis.args[self.redis.args.index("--port") + 1]))
        self.pg_proc = self.start_postgres()
        self.redis_proc = self.start_redis()
        create_database(postgres_url(self.sockets, "postgres"), "journal")
        self.owner_url = postgres_url(self.sockets, "journal")

    def start_postgres(self) -> subprocess.Popen:
        proc = self.pg.start()
        wait_ready(self.pg, proc, lambda: psycopg2.connect(postgres_url(self.sockets, "postgres")).close())
        return proc

    def start_redis(self) -> subprocess.Popen:
        proc = self.redis.start()
        wait_ready(self.redis, proc, redis.Redis.from_url(self.redis_url).ping)
        return proc

    def stop_redis(self) -> None:
        self.redis.stop(self.redis_proc)  # SIGTERM: the append-only file is flushed

    def stop_postgres_immediately(self) -> None:
        """SIGQUIT: PostgreSQL's immediate shutdown, the nearest thing to a crash that restarts cleanly."""
        self.pg_proc.send_signal(signal.SIGQUIT)
        self.pg_proc.wait(30)

    def stop(self) -> None:
        self.redis.stop(self.redis_proc)
        self.pg.stop(self.pg_proc)


class World:
    """Servers, the stack's processes on them, an admin app and a Hub, for one test module."""

    def __init__(self, base: Path, web_processes: int = 2, env: dict | None = None) -> None:
        self.servers = Servers(base)
        migrate(self.servers.owner_url)
        config = {"DATABASE_URL": self.servers.owner_url, "REDIS_URL": self.servers.redis_url}
        self.admin_app = create_app({"DB_ROLE": "admin", "SOCKETIO_ASYNC_MODE": "threading", **config})
        env = {"REDIS_URL": self.servers.redis_url, "GENERATION_SECONDS": "86400", **(env or {})}
        self.stack = Stack(base, env, owner_url=self.servers.owner_url)
        self.stack.start_worker()
        self.stack.start_relay()
        self.stack.start_beat()
        self.urls = [self.stack.start_web(f"web{i}", free_port()) for i in range(web_processes)]
        self.hub = Hub(self.urls[0], self.admin_app)

    def owner(self):
        conn = psycopg2.connect(self.servers.owner_url)
        conn.autocommit = True
        return conn

    def post_until_stored(self, tier: str, statuses: list[int], deadline: float = 60) -> str:
        """Post one signal as the admin form does (one Idempotency-Key, retried through 503s and lost
        connections) until it is stored; record every status seen."""
        key, give_up = uuid.uuid4().hex, time.monotonic() + deadline
        while True:
            try:
                resp = self.hub.http.post(
                    self.hub.url + "/api/admin/signals",
                    json=signal_body(risk_tier=tier, stop_loss="30000", take_profit="130000"),
                    headers={"Idempotency-Key": key},
                    timeout=10,
                )
                statuses.append(resp.status_code)
                if resp.status_code in (200, 201):
                    self.hub.posted[resp.json()["id"]] = (tier, time.time())
                    return resp.json()["id"]
            except requests.RequestException:
                statuses.append(0)
            assert time.monotonic() < give_up, f"a signal was not stored within {deadline} s: {statuses[-5:]}"
            time.sleep(0.2)

    def ready(self, url: str) -> bool:
        try:
            return requests.get(url + "/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.stack.stop()
        self.servers.stop()
