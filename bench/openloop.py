"""An open-loop HTTP sender: POST `rate` requests a second for `seconds`, each on schedule whatever
earlier answers take, and print their latencies' percentiles as one JSON line.

`python -m bench.openloop URL TOKEN RATE SECONDS BODY` (BODY with %d for the request's number).
Run as its own process so the load it makes does not share an interpreter with what it measures.
"""

import asyncio
import json
import sys
import time

import aiohttp

from bench.figures import percentiles


async def send(url: str, token: str, rate: float, seconds: float, template: str) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:

        async def one(n: int) -> None:
            started = time.perf_counter()
            try:
                async with http.post(url, data=template % n) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
            except aiohttp.ClientError:
                statuses[0] = statuses.get(0, 0) + 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks, start, total = [], time.perf_counter(), int(rate * seconds)
        for n in range(total):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    figures = percentiles(latencies)
    return {
        "requests": total,
        "rate": total / elapsed,
        "statuses": statuses,
        "p50": figures["p50"],
        "p95": figures["p95"],
        "p99": figures["p99"],
    }


def main() -> None:
    url, token, rate, seconds, template = sys.argv[1:6]
    print(json.dumps(asyncio.run(send(url, token, float(rate), float(seconds), template))))


if __name__ == "__main__":
    main()
