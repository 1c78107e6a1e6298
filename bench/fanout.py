"""Fan-out, the hub's web process beside socket.io on Node: one harness, one feeder, one Redis, interleaved.

For each scenario (N sockets, R signals/s) and each run, each server in turn (hub, then node) gets a
fresh process and: N sockets connect (time; RSS after); a short warm-up; the steady phase (latency
percentiles, server CPU per delivery); a back-to-back burst (deliveries/s). Figures are medians of runs.
"""

import math
import os
import time
from dataclasses import asdict, dataclass

import psutil

from bench.environment import Environment, signal_template
from bench.figures import median, percentiles, spread
from bench.node import Feeder, Harness
from bench.servers import HubServer, NodeServer, server_cpu
from journal.domain import TIERS

WARMUP_SECONDS = 2.0  # first deliveries of a fresh process (imports, JIT) stay out of the figures
SETTLE_SECONDS = 2.0  # after the last connect, before RSS is read
Server = HubServer | NodeServer


@dataclass(frozen=True)
class Scenario:
    sockets: int
    rate: float  # signals per second in the steady phase

    @property
    def label(self) -> str:
        return f"{self.sockets:,} sockets, {self.rate:g} signals/s"


@dataclass(frozen=True)
class Settings:
    runs: int
    seconds: float  # of the steady phase
    burst_deliveries: int  # about this many deliveries per burst
    client_procs: int
    window: int  # connection handshakes in flight per harness process


def expected(gets: dict[str, int], count: int) -> int:
    """Deliveries owed for `count` signals fed with the tiers in turn (as feeder.js does)."""
    return sum(gets[TIERS[n % len(TIERS)]] for n in range(count))


def phase(
    harness: Harness, server: Server, feeder: Feeder, gets: dict, mode: str, count: int, rate: float = 0.0
) -> dict:
    """Feed `count` signals, wait for them, and read the figures of this phase alone."""
    harness.reset()
    cpu_before = server_cpu(server)
    fed = feeder.feed(mode, count, rate)
    want = expected(gets, count)
    harness.drain(want)
    cpu = server_cpu(server) - cpu_before
    got = harness.report()
    latencies = got.pop("latencies")
    # From the first publish to the last delivery: the time the server had work.
    seconds = (got["last_at"] - fed["started_at"]) / 1000
    delivered = got["delivered"]
    return {
        **got,
        **percentiles(latencies),
        "signals": count,
        "expected": want,
        "server_cpu_us": cpu / delivered * 1e6 if delivered else None,
        "server_cpu_share": cpu / seconds if delivered and seconds > 0 else None,
        "deliveries_per_s": delivered / seconds if delivered and seconds > 0 else None,
        "publish_seconds": (fed["ended_at"] - fed["started_at"]) / 1000,
    }


def measure(server: Server, env: Environment, scenario: Scenario, settings: Settings, template: dict) -> dict:
    """One run against fresh server processes."""
    sockets = env.sockets(scenario.sockets)  # users and tokens first, while no server is measured
    result: dict = {"load_before": os.getloadavg()[0]}
    urls = server.start(scenario.sockets)
    harness = None
    try:
        harness = Harness(env.workdir, urls, sockets, settings.client_procs, window=settings.window)
        cpu_before = server_cpu(server)
        result["connect"] = harness.connect()
        connected = max(1, result["connect"]["connected"])
        result["connect"]["server_cpu_ms"] = (server_cpu(server) - cpu_before) / connected * 1000
        time.sleep(SETTLE_SECONDS)
        result["rss_mb"] = sum(process.memory_info().rss for process in server.processes) / 2**20
        gets = env.receivers(result["connect"]["by_room"])
        feeder = Feeder(env.workdir, env.urls["REDIS_URL"], server.feed_format, env.routes, template)
        warmup = max(len(TIERS), round(scenario.rate * WARMUP_SECONDS))
        feeder.feed("steady", warmup, scenario.rate)
        harness.drain(expected(gets, warmup))
        steady_count = round(scenario.rate * settings.seconds)
        result["steady"] = phase(harness, server, feeder, gets, "steady", steady_count, scenario.rate)
        # Whole rounds of the tiers, about burst_deliveries in all.
        rounds = max(1, math.ceil(settings.burst_deliveries / max(1, sum(gets.values()))))
        result["burst"] = phase(harness, server, feeder, gets, "burst", rounds * len(TIERS))
    except psutil.NoSuchProcess:
        result["failed"] = f"the {server.name} serving process exited during the run"
    finally:
        if harness is not None:
            harness.close()
        server.stop()
    result["load_after"] = os.getloadavg()[0]
    return result


def figures_of(run: dict) -> dict:
    """The headline figures of one run (None where the run did not get that far)."""
    steady, burst, connect = run.get("steady", {}), run.get("burst", {}), run.get("connect", {})
    return {
        "connect_s": connect.get("seconds"),
        "connect_cpu_ms": connect.get("server_cpu_ms"),
        "client_cpu_connect": connect.get("client_cpu"),
        "rss_mb": run.get("rss_mb"),
        "burst_per_s": burst.get("deliveries_per_s"),
        "p50_ms": steady.get("p50"),
        "p95_ms": steady.get("p95"),
        "p99_ms": steady.get("p99"),
        "cpu_us": steady.get("server_cpu_us"),
        "burst_cpu_us": burst.get("server_cpu_us"),
        "server_cpu_steady": steady.get("server_cpu_share"),
        "server_cpu_burst": burst.get("server_cpu_share"),
        "client_cpu_steady": steady.get("client_cpu"),
        "client_cpu_burst": burst.get("client_cpu"),
    }


def summarize(runs: list[dict]) -> dict:
    """Medians and ranges over runs, and totals of what was owed and what arrived."""
    per_run = [figures_of(run) for run in runs]
    summary = {name: median([f[name] for f in per_run]) for name in per_run[0]}
    summary["range"] = {name: spread([f[name] for f in per_run]) for name in per_run[0]}
    totals = {"connected": 0, "sockets_failed": 0, "delivered": 0, "expected": 0, "duplicates": 0, "gaps": 0}
    totals |= {"dropped": 0, "drop_reasons": {}}
    for run in runs:
        connect = run.get("connect", {})
        totals["connected"] += connect.get("connected", 0)
        totals["sockets_failed"] += sum(connect.get("errors", {}).values())
        last = run.get("burst") or run.get("steady") or {}  # the harness counts drops since connect
        totals["dropped"] += last.get("dropped", 0)
        for reason, n in last.get("drop_reasons", {}).items():
            totals["drop_reasons"][reason] = totals["drop_reasons"].get(reason, 0) + n
        for name in ("steady", "burst"):
            for key in ("delivered", "expected", "duplicates", "gaps"):
                totals[key] += run.get(name, {}).get(key, 0)
    summary["totals"] = totals
    summary["failed_runs"] = sum(1 for run in runs if "failed" in run)
    return summary


def run(
    env: Environment, scenarios: list[Scenario], settings: Settings, web_processes: tuple[int, ...] = (1,)
) -> dict:
    """Every scenario, `runs` times, the hub (with each number of web processes) then node each time;
    returns per-run results and medians."""
    template = signal_template()
    owner = env.urls["DATABASE_URL"]
    servers = (*(HubServer(env.workdir, owner, n) for n in web_processes), NodeServer(env.workdir))
    results = []
    for scenario in scenarios:
        runs: dict[str, list[dict]] = {server.name: [] for server in servers}
        for n in range(settings.runs):
            for server in servers:
                print(f"fanout: {scenario.label}, run {n + 1}/{settings.runs}: {server.name}", flush=True)
                runs[server.name].append(measure(server, env, scenario, settings, template))
                print(f"  {figures_of(runs[server.name][-1])}", flush=True)
        summary = {name: summarize(server_runs) for name, server_runs in runs.items()}
        results.append({"scenario": asdict(scenario), "runs": runs, "median": summary})
    return {"settings": asdict(settings), "scenarios": results}
