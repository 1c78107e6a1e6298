"""JSON for the API: bodies bounded in depth before parsing, numbers with a fraction parsed to Decimal
(exact prices), no NaN or Infinity; Decimals dump as strings; what a stored JSON value may hold."""

import json
import re
from decimal import Decimal
from itertools import accumulate

from flask import g, has_request_context
from flask.json.provider import DefaultJSONProvider

from journal import fastjson

# A request body nests at most this deep; checked on the raw text, so a body of tens of thousands
# of "[" never reaches the recursive parser (RecursionError) or anything that reads it later.
MAX_BODY_DEPTH = 32
# Text PostgreSQL can store (no NUL) that encodes as UTF-8 (no lone surrogates).
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
# An escape in JSON text that could decode to NUL or a surrogate (a valid pair included: those bodies
# take the exact check of every value instead).
UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# A JSON string literal, escapes included (unrolled, so it matches in linear time).
STRING_LITERAL = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
BRACKETS = re.compile(r"[\[\]{}]")
STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Numbers a stored JSON value may hold: IEEE 754 doubles that every reader (PostgreSQL's jsonb,
# Python, JavaScript) reads back as the same number (I-JSON, RFC 7493).
MAX_JSON_NUMBER = 2**53


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text, counted without parsing it."""
    brackets = BRACKETS.findall(STRING_LITERAL.sub("", text))
    return max(accumulate(STEP[char] for char in brackets), default=0)


def parse_decimal(text: str) -> Decimal:
    """A JSON number with a fraction or exponent, exactly; ValueError (400) past what Decimal holds."""
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond Decimal's range: InvalidOperation, not a ValueError
        raise ValueError(f"The number {text[:24]} is out of range.") from None


def refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON; send numbers as finite values.")


class DecimalJSONProvider(DefaultJSONProvider):
    def dumps(self, obj: object, **kwargs: object) -> str:
        """Answers are encoded as Socket.IO packets are (journal/fastjson.py: orjson, several times
        quicker than the standard library; turning a page of signals into JSON was most of a feed
        request's time); pretty-printed answers by Flask's own provider."""
        if "indent" in kwargs:  # Flask passes compact separators otherwise
            return super().dumps(obj, **kwargs)
        return fastjson.dumps(obj, default=self.default)

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        """Parse a request body; a ValueError (Flask answers 400) for anything that is not bounded JSON."""
        if isinstance(s, bytes | bytearray):
            s = s.decode(json.detect_encoding(s), "surrogatepass")
        if nesting_depth(s) > MAX_BODY_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_BODY_DEPTH} levels.")
        kwargs.setdefault("parse_float", parse_decimal)
        kwargs.setdefault("parse_constant", refuse_constant)
        value = json.loads(s, **kwargs)
        if has_request_context():  # one look at the text spares the schemas a walk over every value
            g.body_text_storable = storable_text(s) and UNSTORABLE_ESCAPE.search(s) is None
        return value


def storable_text(text: str) -> bool:
    return UNSTORABLE_TEXT.search(text) is None


def contains_unstorable_text(value: object) -> bool:
    """Whether any text (keys included) inside a parsed JSON value has NUL or lone surrogates."""
    pending = [value]
    while pending:  # a loop, not recursion: the value may come from anywhere
        item = pending.pop()
        if isinstance(item, str) and not storable_text(item):
            return True
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            pending += item
    return False


def storable_json(value: object, max_depth: int) -> object:
    """A copy of a parsed JSON value that every reader can store and encode (Decimals become floats);
    ValueError names the first text, number or nesting that cannot be kept as it is. The value itself
    is level 1 of `max_depth`, as in {"a": [1]} nesting 2 deep."""
    root: list = [None]
    pending = [(root, 0, value, 0)]  # (container, index or key, value, depth); a loop, not recursion
    while pending:
        parent, slot, item, depth = pending.pop()
        if isinstance(item, dict | list) and depth >= max_depth:
            raise ValueError(f"Nested deeper than {max_depth} levels.")
        if isinstance(item, dict):
            parent[slot] = copy = dict.fromkeys(item)  # keys in their order, values filled below
            for key, child in item.items():
                if not isinstance(key, str) or not storable_text(key):
                    raise ValueError("Keys must be text without NUL or lone surrogates.")
                pending.append((copy, key, child, depth + 1))
        elif isinstance(item, list):
            parent[slot] = copy = [None] * len(item)
            pending.extend((copy, index, child, depth + 1) for index, child in enumerate(item))
        else:
            parent[slot] = storable_scalar(item)
    return root[0]


def storable_scalar(item: object) -> object:
    if isinstance(item, str):
        if not storable_text(item):
            raise ValueError("Text must not contain NUL or lone surrogates.")
        return item
    if item is None or isinstance(item, bool):
        return item
    if isinstance(item, int | float | Decimal):
        number = item if isinstance(item, int) else float(item)
        if number != number or not -MAX_JSON_NUMBER <= number <= MAX_JSON_NUMBER:
            raise ValueError(f"Numbers must be finite, from -2^53 to 2^53 ({MAX_JSON_NUMBER}).")
        if number == 0 and item != 0:  # 1e-400 would come back as 0.0
            raise ValueError("Numbers this close to 0 have no double value; send 0.")
        return number
    raise ValueError(f"{type(item).__name__} is not a JSON value.")


def price_text(value: Decimal | str | None) -> str | None:
    """A price as plain text without exponent or trailing zeros ("65000.5"); text is taken as it is
    (queries that read many signals have PostgreSQL write it: trim_scale(price)::text)."""
    if value is None or isinstance(value, str):
        return value
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
