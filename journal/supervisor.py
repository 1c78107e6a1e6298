"""`journal run`'s supervisor: starts the processes in order, restarts any that exits, stops them in order.

Every child runs in its own process group, so a terminal's Ctrl-C or hang-up reaches only the
supervisor (gunicorn and Celery read SIGHUP as "reload"; they must not get it directly), and
dies with the supervisor through PR_SET_PDEATHSIG (journal/startup.py), so no kill of the
supervisor, not even kill -9, leaves one running. A child that exits is restarted after a delay
that doubles from 1 s to 30 s and starts again at 1 s once the child has stayed up for a minute;
the others keep running. Ctrl-C, SIGTERM and SIGHUP stop the children in the reverse of their
start order, each with a bounded wait before SIGKILL to its process group.
"""

import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from journal.startup import GaveUp, Program, console_logger, retry

FIRST_DELAY, MAX_DELAY, STABLE_SECONDS = 1.0, 30.0, 60.0
TICK_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
log = console_logger("journal.supervisor")
T = TypeVar("T")


class Stopping(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived during the ordered start."""


@dataclass
class Child:
    program: Program
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float = 0.0


def exited(proc: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it: its pid, and so its process group id,
    cannot be reused until we wait for it."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def describe_exit(returncode: int) -> str:
    return f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"status {returncode}"


class Supervisor:
    def __init__(self) -> None:
        self.children: dict[str, Child] = {}  # in start order
        self.stopping = False

    def run(self, start: Callable[["Supervisor"], None]) -> int:
        """Run `start` (the ordered start), heal until asked to stop, then stop in order.
        Return the exit status: 0, or 1 when a start-up step gave up."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.request_stop)
        status = 0
        try:
            start(self)
            while not self.stopping:
                self.heal()
                time.sleep(TICK_SECONDS)
        except Stopping:
            pass
        except GaveUp as err:
            log.error("%s", err)
            status = 1
        finally:
            self.stop_all()
        return status

    def request_stop(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            log.info("%s received: stopping in order", signal.Signals(signum).name)
        self.stopping = True

    def start(self, program: Program) -> None:
        self.children[program.name] = child = Child(program)
        self.spawn(child)

    def spawn(self, child: Child) -> None:
        child.proc = child.program.start()
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.program.name, child.proc.pid)

    def heal(self) -> None:
        """Restart, once its delay has passed, every child that has exited."""
        now = time.monotonic()
        for child in self.children.values():
            if child.proc is not None and exited(child.proc):
                self.schedule_restart(child, now)
            if child.proc is None and now >= child.restart_at and not self.stopping:
                self.spawn(child)

    def schedule_restart(self, child: Child, now: float) -> None:
        proc = child.proc
        try:  # what the child left in its group (a pool process, a gunicorn worker) goes with it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        status, uptime = proc.wait(), now - child.started_at
        if uptime >= STABLE_SECONDS:
            child.delay = FIRST_DELAY
        log.warning(
            "%s (pid %d) exited with %s after %.1f s; restarting in %.0f s",
            child.program.name,
            proc.pid,
            describe_exit(status),
            uptime,
            child.delay,
        )
        child.proc, child.restart_at = None, now + child.delay
        child.delay = min(child.delay * 2, MAX_DELAY)

    def wait_until(self, what: str, check: Callable[[], T], seconds: float = 60) -> T:
        """Retry `check` for up to `seconds`, healing the children in between; raise GaveUp after."""
        return retry(what, check, seconds, between=self.tick)

    def tick(self) -> None:
        if self.stopping:
            raise Stopping
        self.heal()

    def stop_all(self) -> None:
        """Stop every running child in the reverse of the start order, each with a bounded wait."""
        self.stopping = True
        for child in reversed(self.children.values()):
            program, proc = child.program, child.proc
            if proc is None:
                continue
            log.info(
                "stopping %s (pid %d): %s, then SIGKILL after %.0f s",
                program.name,
                proc.pid,
                signal.Signals(program.stop_signal).name,
                program.stop_seconds,
            )
            started = time.monotonic()
            if program.stop(proc):
                log.info(
                    "%s stopped (%s) in %.1f s",
                    program.name,
                    describe_exit(proc.returncode),
                    time.monotonic() - started,
                )
            else:
                log.warning(
                    "%s did not stop in %.0f s: killed its process group", program.name, program.stop_seconds
                )
            child.proc = None
        log.info("all stopped")


def hold_instance(instance: Path) -> IO[str]:
    """Lock `instance` for this process's lifetime (the kernel drops the lock when it dies, even by
    kill -9); exit naming the holder if another `journal run` has it."""
    instance.mkdir(parents=True, exist_ok=True)
    lock = open(instance / "run.lock", "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        raise SystemExit(f"another `journal run` (pid {lock.read().strip()}) is using {instance}") from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def wait_for_free_port(host: str, port: int, seconds: float = 5) -> None:
    """Wait a little for `host:port` to be free (the web process of a run killed a moment ago may
    still hold it); exit naming the program that holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    def bind() -> None:
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            sock.bind((host, port))

    try:
        retry(f"port {port} to be free", bind, seconds)
    except GaveUp:
        raise SystemExit(
            f"port {port} on {host} is held by {port_holder(port)}; stop it or choose another PORT"
        ) from None


def port_holder(port: int) -> str:
    """`pid N (command line)` of the process listening on `port`, found through /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return f"pid {proc.name} ({command.strip()})"
        except OSError:
            continue
    return "another program"
