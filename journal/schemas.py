"""Marshmallow schemas: the only validation layer for what clients send (bodies, queries, headers)."""

import json
import re
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import current_app
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from journal.domain import GRADES, OUTCOMES, PLANS, SIDES, STATUSES, TIERS, TIMEFRAMES, USER_ROLES
from journal.jsonio import contains_unstorable_text, storable_json

MAX_PRICE = Decimal("1e12")
PRICE_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_BIGINT = 2**63 - 1  # keyset cursors are PostgreSQL bigints
MAX_PAYLOAD_DEPTH = 16
MAX_SIGNAL_LIFETIME = timedelta(days=366)
UNSTORABLE = "Text must not contain NUL or lone surrogates."
# True while loading a request body whose whole text holds no NUL or surrogate (journal/jsonio.py).
TEXT_CHECKED: ContextVar[bool] = ContextVar("text_checked", default=False)


@contextmanager
def text_checked(checked: bool):
    """Within: the schemas may skip looking for unstorable text (the caller checked all of it)."""
    token = TEXT_CHECKED.set(checked)
    try:
        yield
    finally:
        TEXT_CHECKED.reset(token)


class Price(fields.Decimal):
    """A positive, finite decimal below 10^12 with at most 10 places, sent as a number or as decimal
    text ("65000.5"); booleans are not numbers."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValidationError("Must be a number.")
        if isinstance(value, str) and not PRICE_TEXT.fullmatch(value):
            raise ValidationError("Must be decimal text like 65000.5.")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number <= 0:
            raise ValidationError("Must be greater than 0.")
        if number >= MAX_PRICE:
            raise ValidationError("Must be less than 1000000000000.")
        if number.as_tuple().exponent < -10:
            raise ValidationError("At most 10 decimal places.")
        return number


class Flag(fields.Boolean):
    """A JSON true or false, nothing else (not 1, not "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class Symbol(fields.String):
    """A symbol of the configured universe (GET /api/symbols)."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        symbol = super()._deserialize(value, attr, data, **kwargs)
        if symbol not in current_app.config["SYMBOLS"]:
            raise ValidationError("Unknown symbol; see GET /api/symbols.")
        return symbol


class JSONObject(fields.Dict):
    """A JSON object every reader can store and encode: bounded nesting and size, finite numbers that
    keep their value (read as IEEE 754 doubles), text without NUL or lone surrogates."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            value = storable_json(value, MAX_PAYLOAD_DEPTH)
        except ValueError as err:
            raise ValidationError(str(err)) from None
        limit = current_app.config["MAX_SIGNAL_PAYLOAD_BYTES"]
        if len(json.dumps(value).encode()) > limit:
            raise ValidationError(f"Must be at most {limit} bytes as JSON.")
        return value


class Moment(fields.AwareDateTime):
    """An ISO 8601 time with its offset, read as UTC: PostgreSQL refuses offsets Python accepts
    (beyond ±15:59), and a time near year 1 or 9999 may leave the calendar once in UTC."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001 - marshmallow signature
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Out of range once in UTC.") from None


class StrictSchema(Schema):
    """Unknown fields are refused, and so is text PostgreSQL cannot store (NUL, lone surrogates)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def refuse_unstorable_text(self, data: object, **_: object) -> object:
        if isinstance(data, Mapping) and not TEXT_CHECKED.get():
            bad = {
                name: [UNSTORABLE] for name, value in data.items() if contains_unstorable_text([name, value])
            }
            if bad:
                raise ValidationError(bad)
        return data


class SignalCreate(StrictSchema):
    symbol = Symbol(required=True, metadata={"example": "BTCUSDT"})
    side = fields.String(required=True, validate=validate.OneOf(SIDES))
    entry_price = Price(required=True, metadata={"example": "65000.5"})
    stop_loss = Price(required=True, metadata={"example": "64000"})
    take_profit = Price(required=True, metadata={"example": "67000"})
    risk_tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    confidence = fields.Integer(load_default=50, strict=True, validate=validate.Range(0, 100))
    grade = fields.String(validate=validate.OneOf(GRADES))
    timeframe = fields.String(load_default="1h", validate=validate.OneOf(TIMEFRAMES))
    expires_at = Moment(load_default=None, metadata={"description": "In the future, at most 366 days ahead."})
    payload = JSONObject(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": f"Any JSON object: at most {MAX_PAYLOAD_DEPTH} levels deep and "
            "MAX_SIGNAL_PAYLOAD_BYTES (16 KiB) as JSON; numbers finite, within ±2^53.",
            "example": {"analysis": "breakout above the weekly range", "rsi": 28.5},
        },
    )
    dedup_key = fields.String(load_default=None, validate=validate.Length(1, 200))
    strategy = fields.String(load_default=None, validate=validate.Length(1, 64))

    @validates("expires_at")
    def in_future(self, value: datetime | None, **_: object) -> None:
        if value is None:
            return
        now = datetime.now(UTC)
        if value <= now:
            raise ValidationError("Must be in the future.")
        if value > now + MAX_SIGNAL_LIFETIME:
            raise ValidationError("Must be at most 366 days ahead.")

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


MAX_BATCH_SIGNALS = 1000


class SignalBatch(StrictSchema):
    signals = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(1, MAX_BATCH_SIGNALS),
        metadata={
            "description": f"1 to {MAX_BATCH_SIGNALS} signals, each a body of POST /api/admin/signals; "
            "an item's dedup_key is its idempotency key. Each item is validated on its own."
        },
    )


class IdempotencyHeader(Schema):
    """The optional Idempotency-Key header of signal writes; other headers are not this schema's."""

    class Meta:
        unknown = EXCLUDE

    key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(r"^[\x21-\x7e]{1,200}$", error="1 to 200 visible ASCII characters."),
        metadata={
            "description": "The same key again returns the first signal (200); with other values, 409."
        },
    )


class Login(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(1, 200))


class Refresh(StrictSchema):
    refresh_token = fields.String(load_default=None)


class Page(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(validate=validate.Range(1, MAX_BIGINT))


MAX_EXPORT_DAYS = 366


class SignalFilter(StrictSchema):
    """Which signals: each filter given narrows the set; `since` and `until` bound created_at."""

    symbol = fields.String(validate=validate.Length(1, 20))
    side = fields.String(validate=validate.OneOf(SIDES))
    risk_tier = fields.String(validate=validate.OneOf(TIERS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    source = fields.String(validate=validate.Length(1, 32))
    strategy = fields.String(validate=validate.Length(1, 64))
    outcome = fields.String(validate=validate.OneOf((*OUTCOMES, "open")))
    since = Moment(metadata={"description": "created_at at or after (ISO 8601 with offset)."})
    until = Moment(metadata={"description": "created_at before (ISO 8601 with offset)."})

    @validates_schema
    def range_in_order(self, data: dict, **_: object) -> None:
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ValidationError("Must be after since.", "until")


class SignalListFilter(SignalFilter, Page):
    sort = fields.String(
        load_default="newest",
        validate=validate.OneOf(("newest", "oldest")),
        metadata={"description": "By id, which follows created_at: newest first, or oldest first."},
    )


class ExportFilter(SignalFilter):
    """An export covers a time range (at most MAX_EXPORT_DAYS days): since and until are required."""

    since = Moment(required=True)
    until = Moment(required=True)

    @validates_schema
    def range_bounded(self, data: dict, **_: object) -> None:
        if data["until"] - data["since"] > timedelta(days=MAX_EXPORT_DAYS):
            raise ValidationError(f"At most {MAX_EXPORT_DAYS} days after since.", "until")


class Settlement(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    price = Price(load_default=None)


class JournalEntry(StrictSchema):
    notes = fields.String(required=True, validate=validate.Length(1, 5000))


class UserFilter(Page):
    email = fields.String(validate=validate.Length(1, 200))  # part of the address, any case
    risk_tier = fields.String(validate=validate.OneOf(TIERS))
    plan = fields.String(validate=validate.OneOf(PLANS))
    role = fields.String(validate=validate.OneOf(USER_ROLES))
    disabled = fields.Boolean()


class UserChange(StrictSchema):
    risk_tier = fields.String(validate=validate.OneOf(TIERS))
    plan = fields.String(validate=validate.OneOf(PLANS))
    role = fields.String(validate=validate.OneOf(USER_ROLES))
    disabled = Flag()

    @validates_schema
    def something(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("Give at least one of risk_tier, plan, role, disabled.", "_schema")


class KeyCreate(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))


class NewUser(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(8, 200))
    role = fields.String(load_default="user", validate=validate.OneOf(USER_ROLES))
    risk_tier = fields.String(load_default="low", validate=validate.OneOf(TIERS))
    plan = fields.String(load_default="free", validate=validate.OneOf(PLANS))
