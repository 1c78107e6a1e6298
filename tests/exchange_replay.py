"""A local exchange for tests: replays recorded kline responses over HTTP and streams kline events
over WebSocket, with switches to fail requests and to take the stream down. Run as a process:
python -m tests.exchange_replay PORT."""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import parse_qsl  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

KLINES = json.loads((Path(__file__).parent / "fixtures" / "binance_klines_BTCUSDT_1m.json").read_text())
state = {"fail": [], "ws_down": False, "price": 65000.0, "requests": 0, "sockets": [], "last_query": {}}


def respond(start_response, status: str, body: object, headers: list | None = None):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json")] + (headers or []))
    return [data]


def stream(ws) -> None:
    state["sockets"].append(ws)
    try:
        while not state["ws_down"] and not ws.closed:
            state["price"] += 0.5
            event = {"e": "kline", "s": "BTCUSDT", "k": {"i": "1m", "c": f"{state['price']:.2f}"}}
            ws.send(json.dumps(event))
            gevent.sleep(0.1)
    finally:
        ws.close()


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if "wsgi.websocket" in environ:
        if state["ws_down"]:
            environ["wsgi.websocket"].close()
            return []
        stream(environ["wsgi.websocket"])
        return []
    if path == "/control":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        state.update(json.loads(environ["wsgi.input"].read(size) or b"{}"))
        return respond(
            start_response, "200 OK", {k: state[k] for k in ("fail", "ws_down", "requests", "last_query")}
        )
    if path.startswith("/api/"):
        state["requests"] += 1
        if state["fail"]:
            code = state["fail"].pop(0)
            return respond(
                start_response, f"{code} ERR", {"code": -1, "msg": "replayed failure"}, [("Retry-After", "0")]
            )
    if path == "/api/v3/klines":
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        state["last_query"] = query
        limit = int(query.get("limit", 500))
        if "startTime" in query:  # like the exchange: from startTime, else the latest `limit`
            rows = [row for row in KLINES if row[0] >= int(query["startTime"])][:limit]
        else:
            rows = KLINES[-limit:]
        return respond(start_response, "200 OK", rows)
    if path == "/api/v3/ticker/price":
        state["price"] += 0.25
        return respond(start_response, "200 OK", {"symbol": "BTCUSDT", "price": f"{state['price']:.2f}"})
    return respond(start_response, "404 Not Found", {"msg": "no such path"})


if __name__ == "__main__":
    WSGIServer(("127.0.0.1", int(sys.argv[1])), app, handler_class=WebSocketHandler, log=None).serve_forever()
