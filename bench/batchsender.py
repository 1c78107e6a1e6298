"""A load process for the bulk benchmark: POST batches of distinct signals for a while, print a summary.

`python -m bench.batchsender URL TOKEN SECONDS BATCH CONCURRENCY FIRST` posts batches of BATCH
signals to URL (…/api/admin/signals/batch) from CONCURRENCY connections for SECONDS, numbering
the signals from FIRST so that no two are alike (each would otherwise be the same content, one
signal), and prints one JSON line: batches, signals answered created, statuses, seconds.
Bodies are built from a template string, so the sender spends little CPU on them.
"""

import asyncio
import json
import sys
import time

import aiohttp

from bench.intake import body_template


async def send(url: str, token: str, seconds: float, batch: int, concurrency: int, first: int) -> dict:
    item = body_template()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    created, batches, number = 0, 0, first
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def loop() -> None:
            nonlocal created, batches, number
            while time.monotonic() < end:
                start, number = number, number + batch
                body = '{"signals": [' + ",".join(item % n for n in range(start, start + batch)) + "]}"
                async with http.post(url, data=body) as resp:
                    answer = await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 200:
                    created += sum(r["status"] == "created" for r in json.loads(answer)["results"])
                batches += 1

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {"batches": batches, "created": created, "statuses": statuses, "seconds": elapsed}


def main() -> None:
    url, token, seconds, batch, concurrency, first = sys.argv[1:7]
    result = asyncio.run(send(url, token, float(seconds), int(batch), int(concurrency), int(first)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
