"""Intake throughput: concurrent admins posting signals over HTTP to one web process."""

import asyncio
import statistics
import time

import aiohttp

from tests.conftest import signal_body


async def post_for(url: str, token: str, seconds: float, latencies: list[float]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = signal_body(stop_loss="30000", take_profit="130000")
    async with aiohttp.ClientSession(headers=headers) as http:
        end = time.time() + seconds
        while time.time() < end:
            started = time.perf_counter()
            async with http.post(url + "/api/admin/signals", json=body) as resp:
                assert resp.status == 201, await resp.text()
            latencies.append(time.perf_counter() - started)


async def measure(url: str, token: str, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    started = time.time()
    await asyncio.gather(*(post_for(url, token, seconds, latencies) for _ in range(concurrency)))
    elapsed = time.time() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
    }


def row(concurrency: int, seconds: float, r: dict) -> str:
    return (
        f"| {time.strftime('%Y-%m-%d')} | {concurrency} | {seconds:g} s | {r['requests']} | "
        f"{r['rate']:.0f}/s | {r['p50']:.1f} | {r['p99']:.1f} |"
    )


HEADER = """
## Intake throughput (bench/intake.py)

Method: the same stack as above; C concurrent aiohttp clients post valid signals to
`POST /api/admin/signals` for S seconds. Each request validates, inserts the signal, its outbox row and
its hash-chained audit row in one transaction (as `trading_app_user`), commits, and nudges the relay;
the relay sequences and fans them out meanwhile (no sockets connected). Rate limits are off for the run.

| date | concurrency | time | requests | rate | p50 ms | p99 ms |
|---|---|---|---|---|---|---|
"""
