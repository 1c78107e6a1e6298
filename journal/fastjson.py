"""A JSON module for python-socketio and engine.io (their `json` option), backed by orjson.

Encoding a replay batch or a broadcast and decoding what Redis delivers were a large part of a
web process's CPU with the standard library. What orjson refuses goes to the standard library
as before: integers past 64 bits (engine.io's own module also refuses ones of more than 100
digits), and NaN or Infinity in a client's message.
"""

import json

import orjson
from engineio import json as engineio_json


def dumps(obj: object, **_: object) -> str:
    try:
        return orjson.dumps(obj).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(obj, separators=(",", ":"))


def loads(text: str | bytes, **_: object) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return engineio_json.loads(text)
