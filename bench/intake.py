"""Intake throughput: concurrent admins posting signals over HTTP to one web process."""

import asyncio
import statistics
import time

import aiohttp

from journal.devstack import signal_body


async def post_for(url: str, token: str, seconds: float, latencies: list[float]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = signal_body(stop_loss="30000", take_profit="130000")
    async with aiohttp.ClientSession(headers=headers) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            async with http.post(url + "/api/admin/signals", json=body) as resp:
                assert resp.status == 201, await resp.text()
            latencies.append(time.perf_counter() - started)


async def post_concurrently(url: str, token: str, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(post_for(url, token, seconds, latencies) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "concurrency": concurrency,
        "seconds": seconds,
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
    }


def measure(url: str, token: str, concurrency: int, seconds: float) -> dict:
    """C concurrent posters for S seconds, each waiting for its answer before the next post."""
    return asyncio.run(post_concurrently(url, token, concurrency, seconds))


def row(r: dict) -> str:
    return (
        f"| {time.strftime('%Y-%m-%d')} | {r['concurrency']} | {r['seconds']:g} s | {r['requests']} | "
        f"{r['rate']:.0f}/s | {r['p50']:.1f} | {r['p99']:.1f} |"
    )
