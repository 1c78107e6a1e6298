"""The intake benchmark's reference: a bare Flask route on the hub's gunicorn worker class that parses
the JSON body and inserts one signal-like row into the same PostgreSQL (`gunicorn bench.bare_app:app`)."""

from gevent import monkey

monkey.patch_all()

from journal.green import make_psycopg2_green  # noqa: E402

make_psycopg2_green()

import json  # noqa: E402
import os  # noqa: E402

from flask import Flask, jsonify, request  # noqa: E402
from psycopg2.pool import ThreadedConnectionPool  # noqa: E402

TABLE = """CREATE TABLE IF NOT EXISTS bench_bare (
    id bigserial PRIMARY KEY, symbol text NOT NULL, side text NOT NULL, entry_price numeric NOT NULL,
    stop_loss numeric NOT NULL, take_profit numeric NOT NULL, risk_tier text NOT NULL,
    confidence smallint NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""
INSERT = (
    "INSERT INTO bench_bare (symbol, side, entry_price, stop_loss, take_profit, risk_tier, confidence, "
    "payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
FIELDS = ("symbol", "side", "entry_price", "stop_loss", "take_profit", "risk_tier", "confidence")

app = Flask(__name__)
pool = ThreadedConnectionPool(1, 20, os.environ["BARE_DATABASE_URL"])


@app.post("/bare/signals")
def create():
    body = json.loads(request.get_data())
    conn = pool.getconn()
    try:
        conn.autocommit = True  # one statement: atomic on its own, as the hub's insert is
        with conn.cursor() as cur:
            cur.execute(INSERT, [body[name] for name in FIELDS] + [json.dumps(body.get("payload", {}))])
            (row_id,) = cur.fetchone()
    finally:
        pool.putconn(conn)
    return jsonify({"id": row_id, **body}), 201


@app.get("/bare/ping")
def ping():
    """The reads' reference: a request that runs one trivial query and answers JSON."""
    conn = pool.getconn()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            (one,) = cur.fetchone()
    finally:
        pool.putconn(conn)
    return jsonify({"ok": one})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
