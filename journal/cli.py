"""The `journal` command: migrate, create-user, seed, backtest, verify, run (whole stack), worker, beat."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

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
    from journal.errors import APIError, load
    from journal.schemas import NewUser
    from journal.users import create_user, find_user

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
    from journal.users import seed_demo

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

    from journal.backtest import backtest as run_backtest
    from journal.market import provider

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


def child_env() -> dict[str, str]:
    return {**os.environ, **services()}


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
        return base + ["--concurrency", os.environ.get("CELERY_CONCURRENCY", "2")]
    return base + ["--schedule", str(ROOT / "celerybeat-schedule")]


@main.command()
def worker() -> None:
    """Run a Celery worker (as the worker database role)."""
    os.execvpe(sys.executable, celery_args("worker"), child_env())


@main.command()
def beat() -> None:
    """Run Celery beat (exactly one per deployment)."""
    os.execvpe(sys.executable, celery_args("beat"), child_env())


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Embedded services (unless configured), migrate, seed, then web + worker + beat until Ctrl-C."""
    env = child_env()
    ctx.invoke(migrate)
    click.echo("demo accounts:")
    ctx.invoke(seed)
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]
    commands = {"web": gunicorn, "worker": celery_args("worker"), "beat": celery_args("beat")}
    procs = {
        name: subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
        for name, cmd in commands.items()
    }
    click.echo(f"web on http://127.0.0.1:{os.environ.get('PORT', '5000')}  (Ctrl-C stops all)")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(p.poll() is None for p in procs.values()):
        time.sleep(0.5)
    for name, proc in procs.items():
        if proc.poll() is not None and not stopping:
            click.echo(f"{name} exited with {proc.returncode}; stopping the others", err=True)
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    click.echo("stopped")
