"""Bulk ingest: batches of 1,000 signals posted for a minute into the hub's web processes, counted
once persisted, sequenced and published (relay_state.emitted_upto), beside raw COPY of as many
signal-like rows into the same PostgreSQL in the same run.

The senders are separate processes (bench/batchsender.py), one per web process, two requests in
flight each. The run ends when the senders stop and the relay has published everything they
stored; the rate is what was stored divided by the time from the first post to that moment.
"""

import io
import json
import subprocess
import sys
import time

import psutil
import psycopg2

from bench.environment import Environment
from bench.servers import cpu_seconds
from journal.devstack import ROOT, Stack
from journal.embedded import free_port

# The reference table: the columns, defaults, checks and indexes of signals, without partitions,
# triggers, keys or outbox rows.
COPY_TABLE = "CREATE TABLE IF NOT EXISTS bench_copy (LIKE signals INCLUDING ALL)"
COPY_COLUMNS = "(symbol, side, entry_price, stop_loss, take_profit, risk_tier, confidence, grade, payload)"


def raw_copy(owner_url: str, rows: int) -> dict:
    """COPY `rows` signal-like rows (text format, 10,000 per COPY) into a plain table of the same shape."""
    line = 'BTCUSDT\tbuy\t65000.5\t30000\t130000\tlow\t72\tB\t{"n": %d, "analysis": "bench"}\n'
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        cur.execute(COPY_TABLE)
        conn.commit()
        started = time.perf_counter()
        for first in range(0, rows, 10_000):
            data = io.StringIO("".join(line % n for n in range(first, min(first + 10_000, rows))))
            cur.copy_expert(f"COPY bench_copy {COPY_COLUMNS} FROM STDIN", data)
            conn.commit()
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_copy")
    return {"rows": rows, "seconds": elapsed, "rate": rows / elapsed}


def published_all(owner_url: str) -> tuple[bool, int]:
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM outbox WHERE seq IS NULL AND failed_at IS NULL), "
            "(SELECT coalesce(max(seq), 0) FROM outbox), (SELECT emitted_upto FROM relay_state)"
        )
        waiting, position, emitted = cur.fetchone()
    return waiting == 0 and emitted >= position, position


def measure(env: Environment, options: dict) -> dict:
    owner = env.urls["DATABASE_URL"]
    seconds, processes = options["bulk_seconds"], options["web_processes"]
    stack = Stack(env.workdir, {"RATELIMIT_WRITE": "1000000 per minute"}, owner_url=owner)
    try:
        stack.start_relay()
        urls = [stack.start_web(f"web{i}", free_port()) for i in range(processes)]
        token = env.admin_token()
        procs = {name: psutil.Process(proc.pid) for name, proc in stack.procs.items()}
        webs = [procs[f"web{i}"].children()[0] for i in range(processes)]
        database = postgres_processes(str(env.workdir))
        before = [cpu_seconds(p) for p in webs], cpu_seconds(procs["relay"]), sum(map(cpu_seconds, database))
        _, start_position = published_all(owner)
        started = time.monotonic()
        senders = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.batchsender",
                    url + "/api/admin/signals/batch",
                    token,
                    str(seconds),
                    "1000",
                    "2",
                    str(10_000_000 * (n + 1) + int(time.time()) % 1_000_000 * 1000),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for n, url in enumerate(urls)
        ]
        sent = [json.loads(sender.communicate()[0].splitlines()[-1]) for sender in senders]
        while not (done := published_all(owner))[0]:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        webs_cpu = sum(cpu_seconds(p) for p in webs) - sum(before[0])
        relay_cpu = cpu_seconds(procs["relay"]) - before[1]
        database_cpu = sum(map(cpu_seconds, postgres_processes(str(env.workdir)))) - before[2]
    finally:
        stack.stop()
    stored = sum(s["created"] for s in sent)
    copy = raw_copy(owner, min(max(stored, 100_000), 1_000_000))
    return {
        "options": options,
        "senders": sent,
        "stored": stored,
        "events_published": done[1] - start_position,
        "seconds": elapsed,
        "rate": stored / elapsed,
        "cpu_share": {
            "web": webs_cpu / elapsed,
            "relay": relay_cpu / elapsed,
            "postgres": database_cpu / elapsed,
        },
        "raw_copy": copy,
    }


def postgres_processes(workdir: str) -> list[psutil.Process]:
    """The bench's own PostgreSQL (its postmaster runs on a data directory under `workdir`) and its
    backends, which do the inserts; not the machine's other servers."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and workdir in " ".join(proc.info["cmdline"] or []):
            return [proc, *proc.children(recursive=True)]
    return []


def row(r: dict) -> str:
    share = r["cpu_share"]
    return (
        f"| {time.strftime('%Y-%m-%d')} | {r['options']['web_processes']} | "
        f"{r['options']['bulk_seconds']:g} s | "
        f"{r['stored']:,} | {r['rate']:,.0f}/s | {r['raw_copy']['rate']:,.0f}/s | "
        f"{r['rate'] / r['raw_copy']['rate']:.2f}× | {share['web']:.0%} / {share['relay']:.0%} / "
        f"{share['postgres']:.0%} |"
    )
