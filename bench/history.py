"""Reads at N stored signals (bench/dataset.py): the feed, a filtered admin list and a user's statistics
over HTTP into one web process, an export of about a million rows, catch-up of 10,000 missed
signals over Socket.IO, and the bytes each stored signal costs. References in the same run: a bare
route on the same gunicorn worker class running one trivial query (for the reads), PostgreSQL's
own COPY of the same rows (for the export).

Load comes from separate processes: wrk for the reads (1 connection for latency, 4 for
throughput), curl for the export, a Python Socket.IO client for the catch-up.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg2
from flask import Flask
from sqlalchemy.engine import make_url

from bench import dataset
from bench.environment import TOKEN_LIFETIME, Environment, access_token
from journal import create_app
from journal.devstack import ROOT, Stack, wait_http
from journal.embedded import create_database, free_port
from journal.extensions import db
from journal.migrate import migrate
from journal.models import User

READ_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"non2xx\\": %d, " ..
    "\\"p50_us\\": %d, \\"p95_us\\": %d, \\"p99_us\\": %d}\\n", summary.requests, summary.duration,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
TABLES = ("signals", "outbox", "signal_keys", "user_signals", "audit_log", "signal_stats")
DATABASE = "journal_history"
USERS = {  # dataset.py's accounts
    "admin": "history-admin@bench.example",
    "trader": "history1@bench.example",
    "heavy": "history0@bench.example",
}


def wrk_get(url: str, token: str, connections: int, seconds: float, workdir) -> dict:  # noqa: ANN001
    script = workdir / "read.lua"
    script.write_text(
        f'wrk.headers["Authorization"] = "Bearer {token}"\n' + READ_SCRIPT if token else READ_SCRIPT
    )
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(script), url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("JSON "))[5:])
    return {
        "rate": raw["requests"] / (raw["duration_us"] / 1e6),
        "non2xx": raw["non2xx"],
        **{q: raw[f"{q}_us"] / 1000 for q in ("p50", "p95", "p99")},
    }


def read_figures(url: str, token: str, seconds: float, workdir) -> dict:  # noqa: ANN001
    wrk_get(url, token, 1, 2, workdir)  # warm the caches and the connection pool
    return {"one": wrk_get(url, token, 1, seconds, workdir), "four": wrk_get(url, token, 4, seconds, workdir)}


def bytes_per_signal(owner_url: str, signals: int) -> dict:
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        sizes = {}
        for table in TABLES:
            cur.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "WHERE c.oid = %s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits "
                "WHERE inhparent = %s::regclass)",
                (table, table),
            )
            sizes[table] = int(cur.fetchone()[0])
        cur.execute(
            "SELECT coalesce(sum(pg_indexes_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = 'signals'::regclass"
        )
        signal_indexes = int(cur.fetchone()[0])
    return {
        "total": sum(sizes.values()) / signals,
        "by_table": {table: size / signals for table, size in sizes.items()},
        "signals_table": (sizes["signals"] - signal_indexes) / signals,
        "signals_indexes": signal_indexes / signals,
    }


def export_range(owner_url: str, rows: int) -> tuple[datetime, datetime]:
    """A time range holding about `rows` signals, ending 10 days ago."""
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(created_at) FROM signals WHERE created_at < now() - interval '10 days'")
        until = cur.fetchone()[0]
        cur.execute(
            "SELECT created_at FROM signals WHERE created_at < %s ORDER BY created_at DESC OFFSET %s LIMIT 1",
            (until, rows),
        )
        since = cur.fetchone()[0]
    return since, until


def time_export(url: str, token: str, since: datetime, until: datetime) -> dict:
    query = f"since={since.isoformat().replace('+', '%2B')}&until={until.isoformat().replace('+', '%2B')}"
    args = [
        "curl", "-s", "-o", "/dev/null", "-H", f"Authorization: Bearer {token}",
        "-w", "%{http_code} %{time_total} %{size_download}", f"{url}/api/admin/signals/export.csv?{query}",
    ]  # fmt: skip
    code, seconds, size = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    return {"status": int(code), "seconds": float(seconds), "bytes": int(size)}


def time_raw_copy(owner_url: str, since: datetime, until: datetime) -> dict:
    """psql's COPY of the same rows to /dev/null: the database's own cost of the export."""
    sql = (
        "\\copy (SELECT signal_id, created_at, symbol, side, trim_scale(entry_price), "
        "trim_scale(stop_loss), trim_scale(take_profit), risk_tier, confidence, grade, timeframe, source, "
        "strategy, status, outcome, "
        "trim_scale(outcome_price), outcome_at, expires_at, payload::text FROM signals "
        f"WHERE created_at >= '{since.isoformat()}' AND created_at < '{until.isoformat()}' ORDER BY id) "
        "TO '/dev/null' WITH (FORMAT csv, HEADER)"
    )
    psql = shutil.which("psql") or str(ROOT / "missing-psql")
    started = time.perf_counter()
    subprocess.run([psql, owner_url, "-q", "-c", sql], check=True, capture_output=True)
    return {"seconds": time.perf_counter() - started}


def time_catchup(url: str, token: str, since: int, count: int) -> dict:
    args = [sys.executable, "-m", "bench.catchup", url, token, str(since), str(count)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def catchup_cursor(owner_url: str, tier: str, count: int) -> int:
    """The cursor after which `count` signal events of a user of `tier` follow."""
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT seq FROM outbox WHERE kind = 'signal' AND signal_tier IN "
            "(SELECT signal_tier FROM signal_risk_map WHERE user_tier = %s) "
            "ORDER BY seq DESC OFFSET %s LIMIT 1",
            (tier, count),
        )
        return cur.fetchone()[0]


def history_database(env: Environment) -> tuple[str, Flask]:
    """A database of its own on the bench's PostgreSQL (the other suites have written to theirs),
    migrated, and an admin-role app on it for minting tokens."""
    server = make_url(env.urls["DATABASE_URL"])
    create_database(server.set(database="postgres").render_as_string(hide_password=False), DATABASE)
    owner = server.set(database=DATABASE).render_as_string(hide_password=False)
    migrate(owner)
    app = create_app(
        {"DB_ROLE": "admin", "DATABASE_URL": owner, "SOCKETIO_ASYNC_MODE": "threading",
         "JWT_ACCESS_TOKEN_EXPIRES": TOKEN_LIFETIME}
    )  # fmt: skip
    return owner, app


def measure(env: Environment, options: dict, log=print) -> dict:  # noqa: ANN001 - a print-like function
    owner, app = history_database(env)
    total = options["history_signals"]
    loaded = dataset.load(owner, total, log)
    log(f"history: {total:,} signals loaded in {loaded['seconds_with_vacuum']:.0f} s")
    sizes = bytes_per_signal(owner, total)
    stack = Stack(env.workdir, owner_url=owner)  # start_web turns the rate limits off
    try:
        stack.start_relay()
        hub = stack.start_web("web", free_port())
        port = free_port()
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.bare_app:app"]
        stack.spawn("bare", "web", gunicorn, {"PORT": str(port), "BARE_DATABASE_URL": owner})
        bare = f"http://127.0.0.1:{port}"
        wait_http(bare + "/healthz")
        with app.app_context():
            tokens = {
                who: access_token(db.session.scalar(db.select(User).where(User.email == email)))
                for who, email in USERS.items()
            }
            tier = db.session.scalar(db.select(User.risk_tier).where(User.email == USERS["trader"]))
        admin = tokens["admin"]
        seconds = options["read_seconds"]
        week = (datetime.now(UTC) - timedelta(days=30)).isoformat().replace("+", "%2B")
        reads = {
            "bare route (one trivial query)": read_figures(bare + "/bare/ping", "", seconds, env.workdir),
            "feed, newest 50 of the tier": read_figures(
                hub + "/api/user/signals?limit=50", tokens["trader"], seconds, env.workdir
            ),
            "admin list, symbol + side + outcome filter, newest 50": read_figures(
                hub + "/api/admin/signals?limit=50&symbol=ETHUSDT&side=buy&outcome=LOSS",
                admin,
                seconds,
                env.workdir,
            ),
            "admin list, strategy + last 30 days, oldest 50": read_figures(
                hub + f"/api/admin/signals?limit=50&strategy=breakout&since={week}&sort=oldest",
                admin,
                seconds,
                env.workdir,
            ),
            "user statistics (20,000 taken)": read_figures(
                hub + "/api/user/stats", tokens["heavy"], seconds, env.workdir
            ),
        }
        since, until = export_range(owner, options["export_rows"])
        export = {"rows": options["export_rows"], **time_export(hub, admin, since, until)}
        export["raw_copy"] = time_raw_copy(owner, since, until)
        cursor = catchup_cursor(owner, tier, options["catchup_signals"])
        catchup = time_catchup(hub, tokens["trader"], cursor, options["catchup_signals"])
    finally:
        stack.stop()
    return {"options": options, "loaded": loaded, "bytes": sizes, "reads": reads, "export": export,
            "catchup": catchup, "cores": os.cpu_count()}  # fmt: skip


def table(result: dict) -> str:
    """The history figures beside their references, measured in the same run."""
    reads, bare = result["reads"], result["reads"]["bare route (one trivial query)"]
    rows = [
        "| figure | hub | reference | hub ÷ reference |",
        "| --- | --- | --- | --- |",
    ]

    def trio(figures: dict) -> str:
        return " / ".join(f"{figures[q]:.2f}" for q in ("p50", "p95", "p99")) + " ms"

    for name, figures in reads.items():
        one, four = figures["one"], figures["four"]
        rows.append(
            f"| {name}: p50 / p95 / p99, 1 client | {trio(one)} | {trio(bare['one'])} (bare route) "
            f"| {one['p95'] / bare['one']['p95']:.2f}× (p95) |"
        )
        rows.append(
            f"| {name}: requests/s, 4 clients | {four['rate']:,.0f} | {bare['four']['rate']:,.0f} "
            f"(bare route) | {four['rate'] / bare['four']['rate']:.2f}× |"
        )
    export, catchup, sizes = result["export"], result["catchup"], result["bytes"]
    others = ", ".join(f"{t} {b:.0f}" for t, b in sizes["by_table"].items() if t != "signals")
    rows += [
        f"| export of {export['rows']:,} rows (CSV, {export['bytes'] / 1e6:.0f} MB), HTTP | "
        f"{export['seconds']:.2f} s | {export['raw_copy']['seconds']:.2f} s (psql COPY of the same rows) "
        f"| {export['seconds'] / export['raw_copy']['seconds']:.2f}× |",
        f"| catch-up of {result['options']['catchup_signals']:,} missed signals: acknowledged / all applied "
        f"| {catchup['connected']:.2f} / {catchup['applied']:.2f} s ({catchup['signals']:,} applied) | | |",
        f"| bytes per stored signal, every table and index | {sizes['total']:.0f} | 100 (the notes' aim) "
        f"| {sizes['total'] / 100:.1f}× |",
        f"| of which signals (table / its indexes) | {sizes['signals_table']:.0f} / "
        f"{sizes['signals_indexes']:.0f} | | |",
        f"| of which the other tables, with their indexes | {others} | | |",
    ]
    loaded = result["loaded"]
    stamp = (
        f"\n{result['options']['history_signals']:,} signals loaded with COPY in {loaded['seconds']:.0f} s "
        f"({loaded['seconds_with_vacuum']:.0f} s with VACUUM ANALYZE); {time.strftime('%Y-%m-%d')}."
    )
    return "\n".join(rows) + stamp
