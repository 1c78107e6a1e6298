"""The Node side of the benchmarks from Python: the client harness processes and the feeder."""

import json
import shutil
import subprocess
import time
from array import array
from collections.abc import Iterable
from pathlib import Path

from journal.domain import TIERS
from journal.stream import events
from journal.stream.emit import tier_room

BENCH = Path(__file__).resolve().parent
CLIENT = BENCH / "client"
PEER = BENCH / "peer"
# Flask-SocketIO's default message-queue channel (flask_socketio.SocketIO, `channel` option).
HUB_CHANNEL = "flask-socketio"
# Handshakes in flight per harness process: enough to keep either server busy, and below the hub's
# Redis pool (redis-py's default of 100 connections; past it the hub's connect handler fails).
DEFAULT_WINDOW = 50
CONNECT_TIMEOUT_MS = 60_000  # per socket: a slow connect is measured, one never acknowledged is counted


def node() -> str:
    """The node executable, once `make bench` has installed both packages (npm ci)."""
    for package in (CLIENT, PEER):
        if not (package / "node_modules").is_dir():
            raise SystemExit(f"{package}/node_modules is missing: run `make bench` (it runs npm ci)")
    path = shutil.which("node")
    if path is None:
        raise SystemExit("node is not on PATH")
    return path


def merged(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counts by name, summed over harness processes."""
    total: dict[str, int] = {}
    for each in counts:
        for name, n in each.items():
            total[name] = total.get(name, 0) + n
    return total


class Harness:
    """N sockets spread over P harness processes (socket i in process i % P), driven over pipes; harness
    process k connects to urls[k % len(urls)] (several web processes: one each, in turn)."""

    def __init__(self, workdir: Path, urls: list[str], sockets: list[dict], procs: int, **options: object):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        self.latency_files: list[Path] = []
        for k in range(procs):
            latency_file = workdir / f"latency-{k}.f64"
            config = {
                "url": urls[k % len(urls)],
                "event": events.SIGNAL_NEW,
                "stamp": options.get("stamp", "sent_at"),
                "since": options.get("since", 0),
                "window": options.get("window", DEFAULT_WINDOW),
                "connectTimeoutMs": CONNECT_TIMEOUT_MS,
                "sockets": sockets[k::procs],
                "latencyFile": str(latency_file),
            }
            config_file = workdir / f"harness-{k}.json"
            config_file.write_text(json.dumps(config))
            log = open(workdir / f"harness-{k}.log", "ab")  # noqa: SIM115 - owned by the process
            self.procs.append(
                subprocess.Popen(
                    [node(), "harness.js", str(config_file)],
                    cwd=CLIENT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
            self.latency_files.append(latency_file)

    def ask(self, op: str) -> list[dict]:
        for proc in self.procs:
            proc.stdin.write(json.dumps({"op": op}) + "\n")
            proc.stdin.flush()
        answers = []
        for k, proc in enumerate(self.procs):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"client harness {k} exited; see {self.workdir}/harness-{k}.log")
            answers.append(json.loads(line))
        return answers

    def connect(self) -> dict:
        """Open every socket; seconds from the first attempt to the last acknowledged connect."""
        answers = self.ask("connect")
        by_tier = {tier: sum(a["by_tier"].get(tier, 0) for a in answers) for tier in TIERS}
        errors = merged(answer["errors"] for answer in answers)
        started = min(a["started_at"] for a in answers)
        return {
            "seconds": (max(a["ended_at"] for a in answers) - started) / 1000,
            "client_cpu": max(a["cpu_ms"] / max(1.0, a["ended_at"] - a["started_at"]) for a in answers),
            "connected": sum(a["connected"] for a in answers),
            "by_room": {tier_room(tier): n for tier, n in by_tier.items()},
            "errors": errors,
        }

    def reset(self) -> None:
        self.ask("reset")

    def drain(self, expected: int, idle_seconds: float = 10.0) -> int:
        """Wait until `expected` signals arrived, or none arrived for `idle_seconds`; return the count."""
        got, last_change, last_got = 0, time.monotonic(), -1
        while True:
            got = sum(a["delivered"] for a in self.ask("count"))
            if got >= expected:
                return got
            if got != last_got:
                last_got, last_change = got, time.monotonic()
            elif time.monotonic() - last_change > idle_seconds:
                return got
            time.sleep(0.2)

    def report(self) -> dict:
        """Counts since the last reset, every latency (ms), and the CPU share of the busiest harness process
        while signals arrived (near 1.0: the client, not the server, set the pace)."""
        answers = self.ask("report")
        latencies = array("d")
        for path in self.latency_files:
            latencies.frombytes(path.read_bytes())
        return {
            "delivered": sum(a["delivered"] for a in answers),
            "duplicates": sum(a["duplicates"] for a in answers),
            "gaps": sum(a["gaps"] for a in answers),
            "open": sum(a["open"] for a in answers),
            "dropped": sum(a["dropped"] for a in answers),
            "drop_reasons": merged(a.get("drop_reasons", {}) for a in answers),
            "last_at": max(a["last_at"] for a in answers),
            "client_cpu": max(a["cpu_ms"] / (a["busy_ms"] or a["wall_ms"]) for a in answers),
            "latencies": latencies,
        }

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.stdin.close()  # the harness exits when its stdin closes
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Feeder:
    """Publishes signals for one server in its pub/sub format; keeps seq and each room's prev across
    phases, as the relay does, so a client's gap check holds over the whole run."""

    def __init__(self, workdir: Path, redis_url: str, fmt: str, routes: dict[str, list[str]], template: dict):
        self.workdir, self.next_seq = workdir, 1
        self.config = {
            "redis": redis_url,
            "format": fmt,
            "channel": HUB_CHANNEL,
            "event": events.SIGNAL_NEW,
            "template": template,
            "tiers": list(TIERS),
            "routes": routes,
            "prev": {room: 0 for rooms in routes.values() for room in rooms},
        }

    def feed(self, mode: str, count: int, rate: float = 0.0) -> dict:
        """Publish `count` signals, `rate` per second (steady) or back-to-back (burst)."""
        config = {**self.config, "mode": mode, "count": count, "rate": rate, "firstSeq": self.next_seq}
        config_file = self.workdir / "feeder.json"
        config_file.write_text(json.dumps(config))
        done = subprocess.run(
            [node(), "feeder.js", str(config_file)], cwd=CLIENT, capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout)
        self.config["prev"] = result["prev"]
        self.next_seq += count
        return result
