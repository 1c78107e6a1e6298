"""Delivery while one address floods the log-in route with random e-mails, beside the same run quiet.

The flood comes from its own process (`FLOOD_RATE` attempts a second from one address, each with a
new e-mail, so only the per-address limit can stop it); the web process answers 429 once the
address has had its 20 a minute, and the password checks it did run happen off the event loop.
The figure is the delivery p99 of connected sockets during the flood against the quiet run.
"""

import multiprocessing
import time
import uuid
from collections import Counter

import requests

from bench import delivery
from bench.environment import Environment

FLOOD_RATE = 50.0


def flood(url: str, rate: float, stop: multiprocessing.Event, statuses: multiprocessing.Queue) -> None:
    seen: Counter = Counter()
    http = requests.Session()
    start, n = time.monotonic(), 0
    while not stop.is_set():
        body = {"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "guess-guess"}
        try:
            seen[http.post(url + "/api/auth/login", json=body, timeout=10).status_code] += 1
        except requests.RequestException:
            seen["error"] += 1
        n += 1
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
    statuses.put(dict(seen))


def measure(env: Environment, url: str, web, options: dict) -> dict:
    quiet = delivery.measure(env, url, web, options)
    stop, statuses = multiprocessing.Event(), multiprocessing.Queue()
    flooder = multiprocessing.Process(target=flood, args=(url, FLOOD_RATE, stop, statuses))
    flooder.start()
    try:
        time.sleep(2)  # the flood is on before the measured signals are posted
        flooded = delivery.measure(env, url, web, options)
    finally:
        stop.set()
        flooder.join(30)
    logins = statuses.get(timeout=30)
    return {"quiet": quiet, "flooded": flooded, "flood_rate": FLOOD_RATE, "login_statuses": logins}


def row(r: dict) -> str:
    quiet, flooded = r["quiet"], r["flooded"]
    logins = ", ".join(f"{code}: {count}" for code, count in sorted(r["login_statuses"].items(), key=str))
    return (
        f"| {time.strftime('%Y-%m-%d')} | {quiet['sockets']:,} "
        f"| {quiet['rate']:g}/s × {quiet['seconds']:g} s "
        f"| {r['flood_rate']:g}/s ({logins}) | {quiet['p50']:.1f} / {quiet['p99']:.1f} "
        f"| {flooded['p50']:.1f} / {flooded['p99']:.1f} | {flooded['p99'] / quiet['p99']:.2f}× "
        f"| {flooded['delivered']:,} / {flooded['expected']:,} |"
    )
