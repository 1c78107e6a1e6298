"""A JSON module for python-socketio and engine.io (their `json` option), backed by orjson.

Encoding a replay batch or a broadcast and decoding what Redis delivers were a large part of a
web process's CPU with the standard library. What orjson refuses goes to the standard library
as before: encoding an integer past 64 bits, decoding NaN or Infinity in a client's message.
(orjson decodes an integer past 64 bits as the nearest double; no event holds one: the API keeps
payload numbers within 2^53, jsonio.MAX_JSON_NUMBER.)
"""

import json
from collections.abc import Callable

import orjson
from engineio import json as engineio_json


def dumps(obj: object, default: Callable[[object], object] | None = None, **_: object) -> str:
    """Compact JSON; `default` turns what JSON has no type for into something it has (jsonio's
    Decimals and dates), for orjson and the standard library alike."""
    try:
        return orjson.dumps(obj, default=default).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(obj, separators=(",", ":"), default=default)


def loads(text: str | bytes, **_: object) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return engineio_json.loads(text)
