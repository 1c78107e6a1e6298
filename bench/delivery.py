"""Commit->client latency with many connected sockets at a steady signal rate, through the real stack."""

import asyncio
import atexit
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import psutil
import socketio

from bench import intake as bench_intake
from journal import create_app
from journal.embedded import ensure_services, free_port
from journal.migrate import migrate
from journal.users import create_user
from tests.conftest import signal_body
from tests.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "BENCHMARKS.md"
TIERS = ("low", "medium", "high")
RECEIVES = {"low": {"low"}, "medium": {"low", "medium"}, "high": {"low", "medium", "high"}}


async def connect_clients(url: str, tokens: dict[str, str], count: int, latencies: list[float]) -> list:
    clients = []

    async def one(i: int) -> None:
        tier = TIERS[i % 3]
        sio = socketio.AsyncClient(reconnection=False)
        seen: set[int] = set()

        async def on_signal(data: dict) -> None:
            if data["seq"] in seen:
                return
            seen.add(data["seq"])
            created = datetime.fromisoformat(data["created_at"]).timestamp()
            latencies.append(time.time() - created)

        sio.on("signal:new", on_signal)
        await sio.connect(url, auth={"token": tokens[tier], "since": 10**12}, transports=["websocket"])
        clients.append((tier, sio))

    for start in range(0, count, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 50, count))))
    return clients


async def post_steadily(url: str, token: str, rate: float, seconds: float) -> list[str]:
    tiers = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        start = time.time()
        n = 0
        while time.time() - start < seconds:
            tier = TIERS[n % 3]
            body = signal_body(risk_tier=tier, stop_loss="30000", take_profit="130000")  # stays open
            async with http.post(url + "/api/admin/signals", json=body) as resp:
                assert resp.status == 201, await resp.text()
            tiers.append(tier)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.time()))
    return tiers


def run(clients: int, rate: float, seconds: float, intake: tuple[int, float] | None = None) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = Path(tempfile.mkdtemp(prefix="journal-bench-"))
    atexit.register(shutil.rmtree, workdir, True)  # registered first, so it runs after the servers stop
    urls = ensure_services(workdir)
    migrate(urls["DATABASE_URL"])
    admin_app = create_app({"DB_ROLE": "admin", "SOCKETIO_ASYNC_MODE": "threading"})
    # Generation off: its CPU would compete with the path measured here (outcome checks stay on).
    stack = Stack(workdir, {"GENERATION_SECONDS": "86400"})
    try:
        with admin_app.app_context():
            for tier in TIERS:
                create_user(f"{tier}@bench.example", "bench-password", "user", tier)
            create_user("admin@bench.example", "bench-password", "admin", "high")
        stack.start_worker()
        stack.start_beat()
        url = stack.start_web("web", free_port())
        result = asyncio.run(measure(url, clients, rate, seconds, stack))
        if intake:
            admin = asyncio.run(login(url, "admin@bench.example"))
            intake_result = asyncio.run(bench_intake.measure(url, admin, *intake))
    finally:
        stack.stop()
    write_report(clients, rate, seconds, result)
    if intake:
        add_row("<!-- intake rows -->", bench_intake.HEADER, bench_intake.row(*intake, intake_result))


async def login(url: str, email: str) -> str:
    async with aiohttp.ClientSession() as http:
        body = {"email": email, "password": "bench-password"}
        async with http.post(url + "/api/auth/login", json=body) as resp:
            return (await resp.json())["access_token"]


async def measure(url: str, count: int, rate: float, seconds: float, stack: Stack) -> dict:
    tokens = {tier: await login(url, f"{tier}@bench.example") for tier in TIERS}
    admin = await login(url, "admin@bench.example")
    latencies: list[float] = []
    clients = await connect_clients(url, tokens, count, latencies)
    web = psutil.Process(stack.procs["web"].pid).children()[0]
    web.cpu_percent()
    tiers = await post_steadily(url, admin, rate, seconds)
    await asyncio.sleep(3)
    cpu = web.cpu_percent()
    expected = sum(1 for tier, _ in clients for posted in tiers if posted in RECEIVES[tier])
    for _, sio in clients:
        await sio.disconnect()
    q = statistics.quantiles(latencies, n=100)
    return {
        "signals": len(tiers),
        "deliveries": len(latencies),
        "expected": expected,
        "p50": q[49] * 1000,
        "p95": q[94] * 1000,
        "p99": q[98] * 1000,
        "max": max(latencies) * 1000,
        "web_cpu": cpu,
    }


def write_report(clients: int, rate: float, seconds: float, r: dict) -> None:
    line = (
        f"| {time.strftime('%Y-%m-%d')} | {clients} | {rate:g}/s x {seconds:g} s | {r['signals']} | "
        f"{r['deliveries']} / {r['expected']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
        f"{r['max']:.1f} | {r['web_cpu']:.0f}% |"
    )
    header = HEADER.format(cores=os.cpu_count(), python=platform.python_version())
    add_row("<!-- delivery rows -->", header, line)


def add_row(marker: str, header: str, line: str) -> None:
    """Newest row first under the table's marker; the table is created on first use."""
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    if marker not in text:
        text += header + marker + "\n"
    REPORT.write_text(text.replace(marker, marker + "\n" + line, 1))
    print(line)


HEADER = """
Run them with `make bench` (`python -m bench --clients N --rate R --seconds S`). Each run appends a row.

## Commit -> client latency (bench/delivery.py)

Method: a fresh embedded PostgreSQL and Redis, one gunicorn web process (gevent-websocket worker),
one Celery worker (2 processes) and beat (signal generation off; outcome checks and the
statistics push, once a second when they change, on), all on this machine ({cores} cores, Python {python}).
N asyncio Socket.IO clients (python-socketio AsyncClient over WebSocket, in the benchmark process,
so they compete with the server for the same cores) connect as users of the three tiers in equal
parts. An admin posts signals over HTTP at a steady rate, the tiers in turn, with levels wide
enough that none settles during the run (an outcome is a second fan-out of the same size).
Each client records, for every signal it receives, receive time minus the signal's `created_at` (the time its
inserting transaction began, so the figure includes the insert, commit, the after-commit nudge
through Celery, the relay's sequencing, Redis pub/sub and the Socket.IO fan-out). `deliveries`
counts (client, signal) pairs received against those expected by tier; `web CPU` is the web
process's CPU over the posting period (100% = one core).

| date | sockets | rate x time | signals | got / expected | p50 ms | p95 ms | p99 ms | max ms | web CPU |
|---|---|---|---|---|---|---|---|---|---|
"""
