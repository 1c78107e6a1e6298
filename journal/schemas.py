"""Marshmallow schemas: the only validation layer for what clients send."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from flask import current_app
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from journal.config import TIERS

MAX_PRICE = Decimal("1e12")
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
SIDES = ("buy", "sell")
PLANS = ("free", "pro", "elite")


class Price(fields.Decimal):
    """A positive, finite decimal below 10^12 with at most 10 places; booleans are not numbers."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValidationError("Must be a number.")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number <= 0:
            raise ValidationError("Must be greater than 0.")
        if number >= MAX_PRICE:
            raise ValidationError("Must be less than 1000000000000.")
        if number.as_tuple().exponent < -10:
            raise ValidationError("At most 10 decimal places.")
        return number


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class SignalCreate(StrictSchema):
    symbol = fields.String(required=True)
    side = fields.String(required=True, validate=validate.OneOf(SIDES))
    entry_price = Price(required=True)
    stop_loss = Price(required=True)
    take_profit = Price(required=True)
    risk_tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    confidence = fields.Integer(load_default=50, strict=True, validate=validate.Range(0, 100))
    grade = fields.String(validate=validate.OneOf(("A", "B", "C", "D")))
    timeframe = fields.String(load_default="1h", validate=validate.OneOf(TIMEFRAMES))
    expires_at = fields.AwareDateTime(load_default=None)
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    dedup_key = fields.String(load_default=None, validate=validate.Length(1, 200))
    strategy = fields.String(load_default=None, validate=validate.Length(1, 64))

    @validates("symbol")
    def known_symbol(self, value: str, **_: object) -> None:
        if value not in current_app.config["SYMBOLS"]:
            raise ValidationError("Unknown symbol; see GET /api/symbols.")

    @validates("payload")
    def bounded_payload(self, value: dict, **_: object) -> None:
        limit = current_app.config["MAX_SIGNAL_PAYLOAD_BYTES"]
        if len(json.dumps(value, default=str).encode()) > limit:
            raise ValidationError(f"Must be at most {limit} bytes as JSON.")

    @validates("expires_at")
    def in_future(self, value: datetime | None, **_: object) -> None:
        if value is not None and value <= datetime.now(UTC):
            raise ValidationError("Must be in the future.")

    @validates_schema
    def price_order(self, data: dict, **_: object) -> None:
        try:
            entry, stop, target = data["entry_price"], data["stop_loss"], data["take_profit"]
        except KeyError:
            return  # the missing field has its own error
        if data.get("side") == "buy" and not stop < entry < target:
            raise ValidationError("A buy needs stop_loss < entry_price < take_profit.", "stop_loss")
        if data.get("side") == "sell" and not target < entry < stop:
            raise ValidationError("A sell needs take_profit < entry_price < stop_loss.", "stop_loss")


def grade_for(confidence: int) -> str:
    return "A" if confidence >= 85 else "B" if confidence >= 70 else "C" if confidence >= 55 else "D"


class Login(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(1, 200))


class Refresh(StrictSchema):
    refresh_token = fields.String(load_default=None)


class Page(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=1))


class AdminSignalFilter(Page):
    symbol = fields.String()
    side = fields.String(validate=validate.OneOf(SIDES))
    risk_tier = fields.String(validate=validate.OneOf(TIERS))
    status = fields.String(validate=validate.OneOf(("active", "archived", "closed")))
    source = fields.String(validate=validate.Length(1, 32))


class JournalEntry(StrictSchema):
    notes = fields.String(required=True, validate=validate.Length(1, 5000))


class NewUser(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(8, 200))
    role = fields.String(load_default="user", validate=validate.OneOf(("admin", "user")))
    risk_tier = fields.String(load_default="low", validate=validate.OneOf(TIERS))
    plan = fields.String(load_default="free", validate=validate.OneOf(PLANS))
