"""The `journal` command: migrate, create-user, seed, backtest, verify, run (whole stack) and its parts."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from journal.config import CELERY_WORKER_FLAGS
from journal.embedded import ensure_services

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("JOURNAL_INSTANCE", ROOT / "instance"))


def services() -> dict[str, str]:
    return ensure_services(INSTANCE)


def role_app(role: str = "admin"):
    """The app connected as one of the roles (admin for accounts, worker for checks)."""
    from journal import create_app

    services()
    return create_app({"DB_ROLE": role})


@click.group()
def main() -> None:
    """Signal hub of a trading journal."""


@main.command()
def migrate() -> None:
    """Apply database_migrations/*.sql as the owner (DATABASE_URL)."""
    from journal.migrate import migrate as apply

    ran = apply(services()["DATABASE_URL"])
    click.echo(f"applied: {', '.join(ran) if ran else 'nothing new'}")


@main.command("create-user")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "user"]), default="user")
@click.option("--risk-tier", type=click.Choice(["low", "medium", "high"]), default="low")
@click.option("--plan", type=click.Choice(["free", "pro", "elite"]), default="free")
def create_user_command(email: str, password: str, role: str, risk_tier: str, plan: str) -> None:
    """Create a user (admin or trader)."""
    from journal.accounts import create_user, find_user
    from journal.errors import APIError, load
    from journal.schemas import NewUser

    app = role_app()
    with app.app_context():
        try:
            data = load(
                NewUser(),
                {"email": email, "password": password, "role": role, "risk_tier": risk_tier},
            )
        except APIError as err:
            raise click.UsageError(str(err.fields)) from None
        if find_user(email):
            raise click.UsageError(f"{email} exists already")
        user = create_user(**data | {"plan": plan})
        click.echo(f"created {user.email} ({user.role}, tier {user.risk_tier}, plan {user.plan})")


@main.command()
def seed() -> None:
    """Create the demo accounts (idempotent) and print them."""
    from journal.accounts import seed_demo

    if os.environ.get("JOURNAL_ENV", "development") != "development":
        raise click.UsageError("demo accounts are for development only (JOURNAL_ENV is not development)")
    with role_app().app_context():
        for email, password, role, tier in seed_demo():
            click.echo(f"  {role:5}  {email:22} password: {password:18} tier: {tier}")


@main.command()
@click.argument("symbol")
@click.option("--timeframe", default="5m", show_default=True)
@click.option("--candles", "count", default=2000, show_default=True, type=click.IntRange(200, 20000))
@click.option("--min-confidence", default=60, show_default=True, type=click.IntRange(0, 100))
def backtest(symbol: str, timeframe: str, count: int, min_confidence: int) -> None:
    """Run the strategies over the configured market's history; print the outcomes as JSON."""
    import json

    from journal.engine.backtest import backtest as run_backtest
    from journal.engine.market import provider

    with role_app().app_context():
        click.echo(json.dumps(run_backtest(provider(), symbol, timeframe, count, min_confidence), indent=2))


@main.command()
def verify() -> None:
    """Check the audit chain, the statistics roll-up and the outbox; exit 1 on a problem."""
    from journal.verify import verify as run_verify

    with role_app("worker").app_context():
        problems = run_verify()
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ok: audit chain, statistics roll-up and outbox agree")


def child_env(kind: str, urls: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a web, worker or beat process (journal/process_env.py): its roles' database
    URLs, never the owner's nor another kind's, and the signing keys for web only. Without `urls`,
    an operator's DATABASE_URL_<ROLE> and REDIS_URL are passed on as they are (no owner URL needed);
    what is missing comes from the owner's DATABASE_URL, else the embedded servers."""
    from journal.config import PROCESS_ROLES, role_url_var
    from journal.process_env import child_environ

    if urls is None:
        given = all(os.environ.get(role_url_var(role)) for role in PROCESS_ROLES[kind])
        urls = dict(os.environ) if given and os.environ.get("REDIS_URL") else services()
    env = child_environ(kind, os.environ, urls.get("DATABASE_URL"))
    return {**env, "REDIS_URL": urls["REDIS_URL"]}


RELAY_ARGS = [sys.executable, "-m", "journal.relayd"]


def celery_args(kind: str) -> list[str]:
    base = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "journal.worker",
        kind,
        "--loglevel",
        os.environ.get("CELERY_LOGLEVEL", "WARNING"),
    ]
    if kind == "worker":
        return base + ["--concurrency", os.environ.get("CELERY_CONCURRENCY", "2"), *CELERY_WORKER_FLAGS]
    return base + ["--schedule", str(ROOT / "celerybeat-schedule")]


@main.command()
def worker() -> None:
    """Run a Celery worker (as the worker database role)."""
    os.execvpe(sys.executable, celery_args("worker"), child_env("worker"))


@main.command()
def relay() -> None:
    """Run the outbox relay (as the worker database role; one is active at a time)."""
    os.execvpe(sys.executable, RELAY_ARGS, child_env("relay"))


@main.command()
def beat() -> None:
    """Run Celery beat (exactly one per deployment)."""
    os.execvpe(sys.executable, celery_args("beat"), child_env("beat"))


def web_address() -> tuple[str, int | None]:
    """Where gunicorn.conf.py binds the (first) web process (no port for a Unix socket)."""
    bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '5000')}")
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() and not bind.startswith("unix:") else None


def web_ports() -> list[int]:
    """The ports of the web processes `journal run` starts: WEB_PROCESSES of them (one per core by
    default) on PORT, PORT + 1, ...; one process where GUNICORN_BIND names the address itself.
    Each is a whole hub (HTTP and Socket.IO); docs/nginx.conf spreads clients over them, sticky by
    address, on one port."""
    _, port = web_address()
    if port is None or os.environ.get("GUNICORN_BIND"):
        return [port] if port else []
    count = int(os.environ.get("WEB_PROCESSES") or os.cpu_count() or 1)
    return [port + n for n in range(max(1, count))]


@main.command()
def run() -> None:
    """Embedded services (unless configured), migrate, seed, then worker, relay, beat and web, supervised:
    a process that exits is restarted; Ctrl-C, SIGTERM or SIGHUP stop everything in order."""
    from journal.supervisor import Supervisor, hold_instance, wait_for_free_port

    instance = INSTANCE.resolve()
    lock = hold_instance(instance)
    host, _ = web_address()
    for port in web_ports():
        wait_for_free_port(host, port)
    status = Supervisor().run(lambda supervisor: start_stack(supervisor, instance))
    lock.close()
    raise SystemExit(status)


def start_stack(supervisor, instance: Path) -> None:
    """The ordered start: PostgreSQL and Redis answering, migrations, demo accounts, then the processes."""
    from journal.config import env
    from journal.migrate import migrate as apply
    from journal.startup import Program, spawn_bound
    from journal.supervisor import log

    urls = {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or supervise_postgres(supervisor, instance / "pgdata"),
        "REDIS_URL": os.environ.get("REDIS_URL") or supervise_redis(supervisor, instance / "redis"),
    }
    os.environ.update(urls)  # for the seed step below, which runs as the owner like migrate
    ran = supervisor.wait_until("migrations", lambda: apply(urls["DATABASE_URL"]))
    log.info("migrations applied: %s", ", ".join(ran) if ran else "nothing new")
    if env("JOURNAL_ENV", "development") == "development":
        log.info("demo accounts:")
        seed_args = [sys.executable, "-m", "journal.cli", "seed"]
        supervisor.wait_until("demo accounts", lambda: check_exit(spawn_bound(seed_args, signal.SIGKILL)))
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT)]
    commands = {"worker": celery_args("worker"), "relay": RELAY_ARGS, "beat": celery_args("beat")}
    # Stop: gunicorn's quick shutdown (sockets reconnect and catch up); beat releases its lock in
    # Redis; the worker finishes its tasks. A death with the supervisor is SIGKILL: each is
    # crash-safe (the outbox, idempotent acks_late tasks).
    stops = {
        "worker": (signal.SIGTERM, 20),
        "relay": (signal.SIGTERM, 5),
        "beat": (signal.SIGTERM, 10),
        "web": (signal.SIGINT, 10),
    }
    for kind, args in commands.items():
        stop_signal, stop_seconds = stops[kind]
        supervisor.start(
            Program(kind, args, child_env(kind, urls), signal.SIGKILL, stop_signal, stop_seconds)
        )
    ports = web_ports() or [None]
    for n, port in enumerate(ports):
        env = child_env("web", urls) | ({"PORT": str(port)} if port and len(ports) > 1 else {})
        name = "web" if n == 0 else f"web-{n + 1}"
        supervisor.start(Program(name, gunicorn + ["wsgi:app"], env, signal.SIGKILL, *stops["web"]))
    host, _ = web_address()
    log.info("web on %s (Ctrl-C stops all)", ", ".join(f"http://{host}:{port}" for port in ports))


def check_exit(proc: subprocess.Popen) -> None:
    if proc.wait() != 0:
        raise RuntimeError(f"exited with {proc.returncode}")


def supervise_postgres(supervisor, datadir: Path) -> str:
    """The embedded PostgreSQL as a supervised child; its owner URL once it answers."""
    import psycopg2

    from journal import embedded
    from journal.supervisor import log

    stray = embedded.stop_stray_postgres(datadir)
    if stray:
        log.warning("stopped a PostgreSQL left running on %s (pid %d)", datadir, stray)
    embedded.init_postgres(datadir)
    sockets = embedded.socket_dir(datadir)
    supervisor.start(embedded.postgres_program(datadir, sockets))
    maintenance = embedded.postgres_url(sockets, "postgres")
    supervisor.wait_until("PostgreSQL", lambda: psycopg2.connect(maintenance, connect_timeout=2).close())
    supervisor.wait_until("the journal database", lambda: embedded.create_database(maintenance, "journal"))
    return embedded.postgres_url(sockets, "journal")


def supervise_redis(supervisor, datadir: Path) -> str:
    """The embedded Redis as a supervised child, on one port across restarts; its URL once it answers."""
    import redis

    from journal import embedded
    from journal.supervisor import log

    stray = embedded.stop_stray_redis(datadir)
    if stray:
        log.warning("shut down a Redis left running on %s (%s)", datadir, stray)
    port = embedded.free_port()  # kept for every restart: the other processes hold this URL
    url = embedded.redis_url(port)
    supervisor.start(embedded.redis_program(datadir, port))
    supervisor.wait_until("Redis", redis.Redis.from_url(url, socket_timeout=2).ping)
    (datadir / "url").write_text(url)  # one-off commands join this Redis through it
    return url


if __name__ == "__main__":
    main()
