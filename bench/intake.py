"""Intake: single posts over HTTP into one hub web process, beside a bare insert route on the same
gunicorn worker class and PostgreSQL, both loaded by a separate process with the same bodies.

Two loads, each interleaved hub, bare, hub, bare, ... so both meet the same background load:
- throughput: wrk (Debian's package, bench/wrk/post.lua) with C connections for S seconds, every
  body distinct (no duplicate answers);
- latency at a fixed rate: an open-loop sender (bench/openloop.py, its own process) posting R/s,
  whatever the answers' latency, so a slow server cannot slow the load down.
The hub runs with its relay (which sequences and publishes what is posted) and its write rate
limit counted in Redis, set high enough not to answer 429; its figures include both.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import psycopg2

from bench.environment import Environment
from bench.servers import cpu_seconds
from journal.devstack import ROOT, Stack, signal_body, wait_http
from journal.embedded import free_port

WRK_SCRIPT = Path(__file__).parent / "wrk" / "post.lua"
HUB_PATH, BARE_PATH = "/api/admin/signals", "/bare/signals"
BARE_TABLE = """CREATE TABLE IF NOT EXISTS bench_bare (
    id bigserial PRIMARY KEY, symbol text NOT NULL, side text NOT NULL, entry_price numeric NOT NULL,
    stop_loss numeric NOT NULL, take_profit numeric NOT NULL, risk_tier text NOT NULL,
    confidence smallint NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""


def body_template() -> str:
    """The bench's signal as JSON, with %d where each request puts its own number (in the payload),
    and a nonce of this load: no body of one load repeats one of another (the hub would answer
    the repeat as a duplicate, 200, a cheaper path than storing a new signal)."""
    payload = {"n": 0, "analysis": "bench", "load": uuid.uuid4().hex}
    body = signal_body(stop_loss="30000", take_profit="130000", payload=payload)
    return json.dumps(body).replace('"n": 0', '"n": %d')


def wrk(url: str, path: str, token: str, seconds: float, connections: int) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    env = {**os.environ, "WRK_PATH": path, "WRK_TOKEN": token, "WRK_BODY": body_template()}
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(WRK_SCRIPT), url]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    raw = json.loads(line[5:])
    return {
        "requests": raw["requests"],
        "rate": raw["requests"] / (raw["duration_us"] / 1e6),
        "non2xx": raw["non2xx"] + raw["connect_errors"] + raw["timeouts"],
        "p50": raw["p50_us"] / 1000,
        "p95": raw["p95_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
    }


def open_loop(url: str, path: str, token: str, rate: float, seconds: float) -> dict:
    args = [sys.executable, "-m", "bench.openloop", url + path, token, str(rate), str(seconds)]
    args.append(body_template())
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


class Servers:
    """The hub's web process (and its relay) and the bare route, on one PostgreSQL and Redis."""

    def __init__(self, env: Environment) -> None:
        owner = env.urls["DATABASE_URL"]
        with psycopg2.connect(owner) as conn, conn.cursor() as cur:
            cur.execute(BARE_TABLE)
        self.stack = Stack(env.workdir, {"RATELIMIT_WRITE": "10000000 per minute"}, owner_url=owner)
        self.stack.start_relay()
        self.hub = self.stack.start_web("web", free_port(), {"RATELIMIT_ENABLED": "1"})
        port = free_port()
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.bare_app:app"]
        self.stack.spawn("bare", "web", gunicorn, {"PORT": str(port), "BARE_DATABASE_URL": owner})
        self.bare = f"http://127.0.0.1:{port}"
        wait_http(self.bare + "/healthz")
        self.token = env.admin_token()

    def process(self, name: str) -> psutil.Process:
        """gunicorn's worker (it serves; the master only watches)."""
        (worker,) = psutil.Process(self.stack.procs[name].pid).children()
        return worker

    def stop(self) -> None:
        self.stack.stop()


def run_pair(servers: Servers, load) -> dict:
    """`load(url, path, token)` against the hub, then the bare route; with each server's CPU."""
    figures = {}
    for name, url, path in (("hub", servers.hub, HUB_PATH), ("bare", servers.bare, BARE_PATH)):
        worker = servers.process("web" if name == "hub" else "bare")
        relay = psutil.Process(servers.stack.procs["relay"].pid)
        before = cpu_seconds(worker), cpu_seconds(relay)
        started = time.monotonic()
        result = load(url, path, servers.token if name == "hub" else "")
        elapsed = time.monotonic() - started
        result["cpu_share"] = (cpu_seconds(worker) - before[0]) / elapsed
        if name == "hub":
            result["relay_cpu_share"] = (cpu_seconds(relay) - before[1]) / elapsed
        figures[name] = result
    return figures


def median_of(runs: list[dict], server: str, key: str) -> float:
    return statistics.median(run[server][key] for run in runs)


def measure(env: Environment, options: dict) -> dict:
    """Interleaved runs of both loads; medians per server and the hub ÷ bare ratios."""
    servers = Servers(env)
    try:
        seconds, connections, rate = options["seconds"], options["connections"], options["rate"]
        warm = lambda url, path, token: wrk(url, path, token, 3, connections)  # noqa: E731
        run_pair(servers, warm)
        throughput = [
            run_pair(servers, lambda url, path, token: wrk(url, path, token, seconds, connections))
            for _ in range(options["runs"])
        ]
        fixed = [
            run_pair(servers, lambda url, path, token: open_loop(url, path, token, rate, seconds))
            for _ in range(options["runs"])
        ]
    finally:
        servers.stop()
    summary = {
        server: {
            "rate": median_of(throughput, server, "rate"),
            **{f"wrk_{q}": median_of(throughput, server, q) for q in ("p50", "p95", "p99")},
            **{f"fixed_{q}": median_of(fixed, server, q) for q in ("p50", "p95", "p99")},
            "cpu_share": median_of(throughput, server, "cpu_share"),
        }
        for server in ("hub", "bare")
    }
    summary["hub"]["relay_cpu_share"] = median_of(throughput, "hub", "relay_cpu_share")
    return {"options": options, "throughput": throughput, "fixed_rate": fixed, "summary": summary}


def table(result: dict) -> str:
    """The intake figures beside the bare route's, measured in the same run."""
    hub, bare = result["summary"]["hub"], result["summary"]["bare"]
    o = result["options"]

    def trio(side: dict, kind: str) -> str:
        return " / ".join(f"{side[f'{kind}_{q}']:.1f}" for q in ("p50", "p95", "p99")) + " ms"

    def ratios(kind: str) -> str:
        return " / ".join(f"{hub[f'{kind}_{q}'] / bare[f'{kind}_{q}']:.2f}×" for q in ("p50", "p95", "p99"))

    rows = [
        "| figure | hub `POST /api/admin/signals` | bare insert route | hub ÷ bare |",
        "| --- | --- | --- | --- |",
        f"| posts/s, wrk {o['connections']} connections | {hub['rate']:,.0f} | {bare['rate']:,.0f} "
        f"| {hub['rate'] / bare['rate']:.2f}× |",
        f"| latency p50 / p95 / p99 at {o['connections']} connections | {trio(hub, 'wrk')} | "
        f"{trio(bare, 'wrk')} | {ratios('wrk')} |",
        f"| latency p50 / p95 / p99 at {o['rate']:g} posts/s (open loop) | {trio(hub, 'fixed')} | "
        f"{trio(bare, 'fixed')} | {ratios('fixed')} |",
        f"| web process CPU at {o['connections']} connections (1 = a core) | {hub['cpu_share']:.2f} "
        f"(relay {hub['relay_cpu_share']:.2f}) | {bare['cpu_share']:.2f} | |",
    ]
    stamp = f"\nMedians of {o['runs']} interleaved runs of {o['seconds']:g} s, {time.strftime('%Y-%m-%d')}."
    return "\n".join(rows) + stamp
