"""JSON for the API: numbers with a fraction parse to Decimal (exact prices), Decimals dump as strings."""

import json
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider


class DecimalJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: object) -> object:
        kwargs.setdefault("parse_float", Decimal)
        return json.loads(s, **kwargs)


def price_text(value: Decimal | None) -> str | None:
    """A price as plain text without exponent or trailing zeros ("65000.5")."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
