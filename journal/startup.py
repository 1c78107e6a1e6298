"""How a process of the stack starts: bound to its parent's life, then waiting for what it needs.

Every child of `journal run` (and the embedded servers of tests and one-off commands) asks the
kernel to signal it when its parent dies (PR_SET_PDEATHSIG), so no kill of a parent leaves it
running. Web, worker and beat then wait, with bounded retries and a log line per attempt, until
their own database role reaches a migrated schema and Redis answers; a process that gives up
exits with STARTUP_FAILED and its supervisor restarts it later.
"""

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PR_SET_PDEATHSIG = 1
STARTUP_FAILED = 3  # gunicorn halts on a worker exiting 3, so `journal run` sees it and backs off
WAIT_SECONDS = 20.0  # below gunicorn's 30 s worker timeout, which would kill a worker still waiting
T = TypeVar("T")
LIBC = ctypes.CDLL(None, use_errno=True)  # loaded once here, not in a child between fork and exec


def console_logger(name: str) -> logging.Logger:
    """A logger writing `time name[pid]: message` to stderr, whatever the host process configured."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s[%(process)d]: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


log = console_logger("journal.startup")


def die_with_parent(death_signal: int, parent_pid: int) -> None:
    """Have the kernel send `death_signal` to this process when its parent dies.

    The kernel clears the setting on a change of user, so call it after any setuid (subprocess
    runs preexec_fn after switching to `user`). A parent that died before the call cannot signal
    any more: then exit at once. The parent is the thread that forked, so fork from the main thread.
    """
    if LIBC.prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


def spawn_bound(args: list[str], death_signal: int, **popen: object) -> subprocess.Popen:
    """Start a child in its own process group (a terminal's SIGINT/SIGHUP reaches only its parent)
    that dies with this process."""
    parent = os.getpid()
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        process_group=0,
        preexec_fn=lambda: die_with_parent(death_signal, parent),
        **popen,
    )


@dataclass
class Program:
    """A long-running child: what to run, the signal it dies by when its parent dies, how it stops."""

    name: str
    args: list[str]
    env: dict[str, str] | None = None
    death_signal: int = signal.SIGKILL
    stop_signal: int = signal.SIGTERM
    stop_seconds: float = 10.0
    user: str | None = None
    log: Path | None = None  # appended to; None: the parent's own output
    prepare: Callable[[], None] | None = None  # before every start (a stale lock file, say)

    def start(self) -> subprocess.Popen:
        if self.prepare:
            self.prepare()
        out = open(self.log, "ab") if self.log else None  # noqa: SIM115 - the child keeps its own copy
        try:
            return spawn_bound(
                self.args,
                self.death_signal,
                env=self.env,
                user=self.user,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
            )
        finally:
            if out:
                out.close()

    def stop(self, proc: subprocess.Popen) -> bool:
        """Send the stop signal, wait up to stop_seconds, then SIGKILL the process group.
        Return whether it stopped by itself."""
        if proc.poll() is not None:
            return True
        proc.send_signal(self.stop_signal)
        try:
            proc.wait(self.stop_seconds)
            return True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the leader is not reaped yet, so the group is its own
            proc.wait()
            return False


class GaveUp(RuntimeError):
    """A start-up condition still failed when its time was up."""


def retry(
    what: str, attempt: Callable[[], T], seconds: float, between: Callable[[], None] = lambda: None
) -> T:
    """Call `attempt` until it returns, pausing 0.1 s doubling to 1 s; raise GaveUp after `seconds`.

    Failures are logged from the second on (a server that is just starting fails once).
    `between` runs before every attempt (a supervisor heals its children there).
    """
    started, tries = time.monotonic(), 0
    while True:
        between()
        tries += 1
        try:
            result = attempt()
        except Exception as err:  # any failure of a start-up check is retried, then reported
            waited = time.monotonic() - started
            if waited >= seconds:
                raise GaveUp(f"gave up waiting for {what} after {waited:.0f} s: {describe(err)}") from err
            if tries > 1:
                log.warning("waiting for %s (attempt %d, %.0f s): %s", what, tries, waited, describe(err))
            time.sleep(min(0.1 * 2 ** (tries - 1), 1.0, max(seconds - waited, 0.01)))
            continue
        if tries > 2:
            log.info("%s ready after %d attempts", what, tries)
        return result


def describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"


def missing_schema() -> list[str]:
    """The tables and columns the models map that the database lacks (empty once migrated)."""
    from sqlalchemy import text

    from journal.extensions import db

    rows = db.session.execute(
        text(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped"
        )
    ).all()
    db.session.rollback()
    present = {(table, column) for table, column in rows}
    return [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        for column in table.columns
        if (table.name, column.name) not in present
    ]


def check_database() -> None:
    """Every database role of this process connects, and the schema has every mapped column."""
    from sqlalchemy import text

    from journal.extensions import db

    for engine in db.engines.values():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    missing = missing_schema()
    if missing:
        raise RuntimeError(f"not migrated yet (missing {', '.join(missing[:3])})")


def wait_for_services(app, seconds: float = WAIT_SECONDS) -> None:
    """Block until this process's database roles reach a migrated schema and Redis answers;
    exit with STARTUP_FAILED after `seconds`."""
    role = app.config["DB_ROLE"]

    def check() -> None:
        check_database()
        app.extensions["redis"].ping()

    try:
        with app.app_context():
            retry(f"the database (as the {role} role) and Redis", check, seconds)
    except GaveUp as err:
        log.error("%s; exiting", err)
        raise SystemExit(STARTUP_FAILED) from None
    log.info("database (as the %s role) and Redis ready", role)
