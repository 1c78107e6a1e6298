"""Commit -> client latency through the whole stack: HTTP post, insert and commit, relay, Redis, fan-out."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import psutil

from bench.environment import Environment
from bench.figures import percentiles
from bench.node import Harness
from bench.servers import SPARE_CONNECTIONS, cpu_seconds
from journal.devstack import Stack, signal_body
from journal.domain import TIERS
from journal.embedded import free_port


@contextmanager
def full_stack(
    env: Environment, sockets: int, rate_limits: bool = False
) -> Iterator[tuple[str, psutil.Process]]:
    """A gunicorn web process, a Celery worker and beat; yields the web URL and gunicorn's worker.

    Signal generation is off: its CPU would compete with the path measured (outcome checks stay on).
    Rate limits are off unless asked for (the intake run would meet the write limit).
    """
    stack = Stack(env.workdir, {"GENERATION_SECONDS": "86400"}, owner_url=env.urls["DATABASE_URL"])
    try:
        stack.start_worker()
        stack.start_relay()
        stack.start_beat()
        env_web = {
            "GUNICORN_WORKER_CONNECTIONS": str(sockets + SPARE_CONNECTIONS),
            "RATELIMIT_ENABLED": "1" if rate_limits else "0",
        }
        url = stack.start_web("web", free_port(), env_web)
        (web,) = psutil.Process(stack.procs["web"].pid).children()
        yield url, web
    finally:
        stack.stop()


async def post_steadily(url: str, token: str, rate: float, count: int) -> list[str]:
    """Post `count` signals as the admin, `rate` per second, the tiers in turn; returns their tiers."""
    tiers = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        start = time.monotonic()
        for n in range(count):
            tier = TIERS[n % len(TIERS)]
            body = signal_body(risk_tier=tier, stop_loss="30000", take_profit="130000")  # stays open
            async with http.post(url + "/api/admin/signals", json=body) as resp:
                assert resp.status == 201, await resp.text()
            tiers.append(tier)
            await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.monotonic()))
    return tiers


def measure(env: Environment, url: str, web: psutil.Process, options: dict) -> dict:
    """N harness sockets connected with the current stream position as cursor; signals posted over HTTP;
    latency is receive time minus the signal's `created_at` (when its inserting transaction began)."""
    admin = env.admin_token()
    sockets = env.sockets(options["sockets"])
    since = env.stream_position()
    harness = Harness(env.workdir, [url], sockets, options["client_procs"], stamp="created_at", since=since)
    try:
        connect = harness.connect()
        gets = env.receivers(connect["by_room"])
        harness.reset()
        cpu_before, wall_before = cpu_seconds(web), time.monotonic()
        count = round(options["rate"] * options["seconds"])
        tiers = asyncio.run(post_steadily(url, admin, options["rate"], count))
        want = sum(gets[tier] for tier in tiers)
        harness.drain(want)
        cpu, wall = cpu_seconds(web) - cpu_before, time.monotonic() - wall_before
        got = harness.report()
    finally:
        harness.close()
    latencies = got.pop("latencies")
    return {
        **options,
        **got,
        **percentiles(latencies),
        "connected": connect["connected"],
        "signals": len(tiers),
        "expected": want,
        "web_cpu_share": cpu / wall,
        "web_cpu_us": cpu / got["delivered"] * 1e6 if got["delivered"] else None,
    }


def row(r: dict) -> str:
    return (
        f"| {time.strftime('%Y-%m-%d')} | {r['sockets']:,} | {r['rate']:g}/s × {r['seconds']:g} s "
        f"| {r['signals']} "
        f"| {r['delivered']:,} / {r['expected']:,} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} "
        f"| {r['max']:.1f} | {100 * r['web_cpu_share']:.0f}% | {r['web_cpu_us']:.0f} µs "
        f"| {100 * r['client_cpu']:.0f}% |"
    )
