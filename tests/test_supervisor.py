"""`journal run` as a supervisor, with real processes on their own instance directory and port: a kill
of the supervisor or a hang-up of its terminal leaves no process behind, and a killed web, relay, worker or
beat is restarted while clients of every tier lose nothing."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy.engine import make_url

from journal.accounts import DEMO_ACCOUNTS
from journal.devstack import ROOT, Stack, signal_body, wait_http
from journal.embedded import free_port
from journal.migrate import migrate
from journal.stream import events
from journal.stream.client import StreamClient
from tests.conftest import create_database, drop_database
from tests.stack import TIERS, Hub, assert_exact, assert_outcomes

# The stack runs under this small process, a child subreaper: whatever the stack leaves behind when
# its supervisor dies is reparented here instead of to init, so "no process left" is checked exactly
# (PostgreSQL backends and Redis rewrite their command lines and environments, which a scan of /proc
# by name alone would miss). The supervisor gets SIGTERM if this process dies (a test run killed).
REAPER = r"""
import ctypes, os, signal, subprocess, sys, time
libc = ctypes.CDLL(None)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the test
with open(sys.argv[1], "ab") as log:
    run = subprocess.Popen(
        sys.argv[2:], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0,
        preexec_fn=lambda: libc.prctl(1, signal.SIGTERM, 0, 0, 0),
    )
print(run.pid, flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.05)
"""
TASK_RUNS_KEY = "metrics:task_runs"  # journal.worker's; importing it would start a Celery app here
ROLE_PASSWORDS = {f"DB_{role}_PASSWORD": f"{role}-{uuid.uuid4().hex}" for role in ("APP", "WORKER", "ADMIN")}
SIGNING_KEYS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("SECRET_KEY", "JWT_SECRET_KEY")}


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int, table: dict[int, tuple[int, str]]) -> set[int]:
    """The live (not zombie) descendants of `pid`."""
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return {child for child in found if table[child][1] != "Z"}


class RunStack:
    """`journal run` on its own instance directory and port, under the reaper."""

    def __init__(self, instance: Path, log: Path) -> None:
        self.instance, self.port, self.log = instance, free_port(), log
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = ("DATABASE_URL", "REDIS_URL", "XDG_RUNTIME_DIR", "JOURNAL_")  # the test run's own
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        self.env |= {"JOURNAL_INSTANCE": str(self.instance), "PORT": str(self.port)}
        self.env |= {"GENERATION_SECONDS": "86400", "RATELIMIT_ENABLED": "0"}
        self.env |= ROLE_PASSWORDS  # migrate sets them; each child must hold only its own roles' URLs
        self.env |= SIGNING_KEYS  # for web only
        self.reaper: subprocess.Popen | None = None

    def start(self) -> float:
        """Start `journal run`; return the seconds until its web process answers."""
        if self.reaper:  # of a run that is gone
            self.reaper.kill()
            self.reaper.wait()
        started = time.monotonic()
        journal = str(Path(sys.executable).parent / "journal")
        args = [sys.executable, "-c", REAPER, str(self.log), journal, "run"]
        self.reaper = subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=subprocess.PIPE)
        self.supervisor = int(self.reaper.stdout.readline())
        self.reaper.stdout.close()
        wait_http(self.url + "/healthz", timeout=120)
        return time.monotonic() - started

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url((self.instance / "redis" / "url").read_text(), decode_responses=True)

    def pid_of(self, name: str) -> int:
        """The pid of the latest start of `name`, from the supervisor's log."""
        return int(re.findall(rf"started {name} \(pid (\d+)\)", self.log.read_text())[-1])

    def leftovers(self) -> set[int]:
        """Live processes of this stack: the reaper's descendants, and any process whose command line
        or environment names the instance directory or the port."""
        table = process_table()
        found = descendants(self.reaper.pid, table)
        marks = (str(self.instance).encode(), f"\0PORT={self.port}\0".encode())
        for pid, (_, state) in table.items():
            if pid in (self.reaper.pid, os.getpid()) or state == "Z":
                continue
            try:
                text = (
                    Path(f"/proc/{pid}/cmdline").read_bytes()
                    + b"\0"
                    + Path(f"/proc/{pid}/environ").read_bytes()
                )
            except OSError:
                continue
            if any(mark in b"\0" + text + b"\0" for mark in marks):
                found.add(pid)
        return found

    def wait_gone(self, guard: float = 15) -> float:
        """Seconds until no process of the stack is left (hang guard `guard`)."""
        started = time.monotonic()
        while left := self.leftovers():
            if time.monotonic() - started > guard:
                raise AssertionError(f"still running after {guard} s: {describe(left)}")
            time.sleep(0.05)
        return time.monotonic() - started

    def close(self) -> None:
        """Stop whatever a test left: SIGTERM to the supervisor, then SIGKILL to anything remaining."""
        if self.reaper is None:
            return
        if self.supervisor in descendants(self.reaper.pid, process_table()):
            os.kill(self.supervisor, signal.SIGTERM)
            try:
                self.wait_gone(60)
            except AssertionError:
                pass
        for pid in self.leftovers():
            os.kill(pid, signal.SIGKILL)
        self.reaper.kill()
        self.reaper.wait()


def describe(pids: set[int]) -> str:
    lines = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            command = "(gone)"
        lines.append(f"{pid}: {command}")
    return "; ".join(lines)


class DemoHub(Hub):
    """The admin and traders of `journal run`'s demo accounts (seeded in development)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, admin_app=None)

    def user(self, role: str = "user", tier: str = "low", url: str | None = None) -> dict:
        email, password = next(
            (email, password)
            for email, password, account_role, account_tier in DEMO_ACCOUNTS
            if account_role == role and (role == "admin" or account_tier == tier)
        )
        body = {"email": email, "password": password}
        login = requests.post((url or self.url) + "/api/auth/login", json=body)
        return {**login.json(), "password": password}

    def post_until_stored(self, tier: str) -> str:
        """Post one signal with an Idempotency-Key, retrying through a web restart until it is stored."""
        headers, deadline = {"Idempotency-Key": uuid.uuid4().hex}, time.monotonic() + 30
        while True:
            try:
                resp = self.http.post(
                    self.url + "/api/admin/signals",
                    json=signal_body(risk_tier=tier),
                    headers=headers,
                    timeout=5,
                )
                if resp.status_code in (200, 201):  # 200: the same key answered again
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "a signal was not stored within 30 s"
            time.sleep(0.1)
        self.posted[resp.json()["id"]] = (tier, time.time())
        return resp.json()["id"]


@pytest.fixture
def run_stack(tmp_path):
    # The instance lives outside pytest's base directory: running as root, PostgreSQL runs as
    # pgserver's user, and every pytest session starting on this machine resets that directory
    # to mode 0700, which would lock that user out in the middle of an initdb.
    instance = Path(tempfile.mkdtemp(prefix="journal-run-")) / "instance"
    stack = RunStack(instance, tmp_path / "run.log")
    yield stack
    stack.close()
    shutil.rmtree(instance.parent)


def test_kill_9_of_supervisor_leaves_no_process_and_restarts_with_all_data(run_stack, capsys):
    run_stack.start()
    hub = DemoHub(run_stack.url)
    before = hub.post_until_stored("low")
    assert len(run_stack.leftovers()) > 10  # the check sees the stack: servers, backends, children

    os.kill(run_stack.supervisor, signal.SIGKILL)
    to_nothing_left = run_stack.wait_gone(guard=15)
    to_serving = run_stack.start()

    hub = DemoHub(run_stack.url)
    assert hub.http.get(f"{run_stack.url}/api/admin/signals/{before}").status_code == 200
    client = StreamClient(run_stack.url, hub.user("user", "low")["access_token"], since=0).connect()
    assert_exact(client, {before})
    client.close()
    with capsys.disabled():
        print(f"\nkill -9 of journal run -> no process left: {to_nothing_left:.2f} s")
        print(f"journal run again -> web answering: {to_serving:.2f} s")


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def assert_each_child_holds_only_its_own(run_stack) -> None:
    """Web: the app and admin roles' URLs and the signing keys; worker, relay and beat: the worker
    role's URL only. None gets the owner's URL or any DB_*_PASSWORD."""
    own = {"web": ("APP", "ADMIN"), "worker": ("WORKER",), "relay": ("WORKER",), "beat": ("WORKER",)}
    log = run_stack.log.read_text()
    for name, roles in own.items():
        if f"started {name} (pid" not in log:
            continue  # a kind this stack does not run
        env = environ_of(run_stack.pid_of(name))
        assert {k for k in env if k.startswith("DATABASE_URL")} == {f"DATABASE_URL_{r}" for r in roles}, name
        assert not set(ROLE_PASSWORDS) & set(env), name
        held = "\0".join(env.values())
        for role in ("APP", "WORKER", "ADMIN"):  # another role's password appears nowhere
            assert (ROLE_PASSWORDS[f"DB_{role}_PASSWORD"] in held) == (role in roles), (name, role)
        keys = {key: env[key] for key in SIGNING_KEYS if key in env}
        assert keys == (SIGNING_KEYS if name == "web" else {}), name


# How an operator stops it: closing the terminal (SIGHUP to its foreground job), Ctrl-C (SIGINT to
# the job), or a service manager's SIGTERM to the process.
STOPS = {
    "hangup": (os.killpg, signal.SIGHUP),
    "ctrl-c": (os.killpg, signal.SIGINT),
    "term": (os.kill, signal.SIGTERM),
}


@pytest.mark.parametrize("how", STOPS)
def test_hangup_ctrl_c_or_term_stops_everything_in_order(run_stack, how):
    run_stack.start()
    if how == "hangup":
        assert_each_child_holds_only_its_own(run_stack)
    send, signum = STOPS[how]
    send(run_stack.supervisor, signum)
    run_stack.wait_gone(guard=60)  # the bounded stop of each child, in turn
    log = run_stack.log.read_text()
    assert f"{signal.Signals(signum).name} received: stopping in order" in log
    stopped = re.findall(r"stopping ([\w-]+) \(pid", log)
    webs = stopped[: len(stopped) - 5]  # one web process per core, the last started first
    assert webs[-1] == "web" and all(name.startswith("web-") for name in webs[:-1])
    assert stopped[len(webs) :] == ["beat", "relay", "worker", "redis", "postgres"]
    assert "did not stop" not in log and "all stopped" in log
    assert "restarting" not in log  # the children got no SIGHUP of their own


def test_kill_9_of_web_relay_worker_and_beat_restarts_each_and_clients_lose_nothing(run_stack, capsys):
    run_stack.start()
    hub = DemoHub(run_stack.url)
    clients = {tier: hub.client(tier) for tier in TIERS}
    stats_runs = lambda: int(run_stack.redis().hget(TASK_RUNS_KEY, events.PUSH_STATS) or 0)  # noqa: E731
    ids: list[str] = []
    stop = threading.Event()

    def post_steadily() -> None:
        while not stop.is_set():
            ids.append(hub.post_until_stored(random.choice(TIERS)))
            if len(ids) % 5 == 0:  # outcomes travel the same stream: settle one of the open ones
                hub.settle(random.choice([sid for sid in ids if sid not in hub.settled]))
            time.sleep(0.05)

    def delivered_after(moment: float) -> bool:
        return any(hub.posted[s["id"]][1] > moment for s in clients["high"].applied if s["id"] in hub.posted)

    def serving_again(name: str, killed_at: float, runs: int) -> bool:
        if name == "web":
            return requests.get(run_stack.url + "/healthz", timeout=1).ok
        if name == "relay":
            return delivered_after(killed_at)
        return stats_runs() > runs  # push_stats is scheduled by beat and run by the worker

    poster = threading.Thread(target=post_steadily)
    poster.start()
    timings, killed = {}, {}
    try:
        for name in ("web", "relay", "worker", "beat"):
            time.sleep(2)
            pid = killed[name] = run_stack.pid_of(name)
            its_processes = {pid} | descendants(pid, process_table())
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: run_stack.pid_of(name) != pid, f"{name} restarted", 30)  # noqa: B023
            timings[f"{name} restarted"] = time.time() - killed_at
            runs = stats_runs()
            wait_for(lambda: serving_again(name, killed_at, runs), f"{name} serving again", 30)  # noqa: B023
            timings[f"{name} serving again"] = time.time() - killed_at
            assert not its_processes & descendants(run_stack.reaper.pid, process_table())
    finally:
        stop.set()
        poster.join()
    for tier, client in clients.items():
        assert_exact(client, hub.expected(tier, ids))
        assert_outcomes(client, hub.expected_outcomes(tier), only=False)  # the demo engine settles too
        client.close()
    log = run_stack.log.read_text()
    for name, pid in killed.items():
        assert re.search(
            rf"{name} \(pid {pid}\) exited with signal SIGKILL after [\d.]+ s; restarting in 1 s", log
        )
    with capsys.disabled():
        print(f"\n{len(ids)} signals posted through the kills; each tier applied its set once, in order")
        for what, seconds in timings.items():
            print(f"kill -9 of {what}: {seconds:.2f} s")


def wait_for(condition, what: str, guard: float) -> None:
    deadline = time.monotonic() + guard
    while True:
        try:
            if condition():
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"no {what} within {guard} s"
        time.sleep(0.05)


def test_a_process_started_before_its_database_is_migrated_waits_then_serves(services, tmp_path):
    # The ordered start of each process, whoever starts it: the relay's database is reachable but
    # not migrated yet; it must log that it waits (bounded retries), then serve once migrated.
    owner = make_url(services["DATABASE_URL"])
    name = f"journal_late_{uuid.uuid4().hex[:8]}"
    create_database(owner.set(database="postgres").render_as_string(hide_password=False), name)
    late = owner.set(database=name).render_as_string(hide_password=False)
    log = tmp_path / "relay.log"
    stack = Stack(tmp_path, owner_url=late)
    try:
        stack.start_relay()
        wait_for(lambda: "not migrated yet" in log.read_text(), "a waiting log line", 30)
        migrate(late)
        wait_for(lambda: "database (as the worker role) and Redis ready" in log.read_text(), "ready", 30)
        assert stack.procs["relay"].poll() is None
    finally:
        stack.stop()
        drop_database(late)
