"""Schemas of what the API answers: they document each response in the OpenAPI contract, and the fuzz
tests hold every answer to them. Every field is required; a nullable one says so; nothing else may
appear (marshmallow's default `unknown = RAISE` becomes `additionalProperties: false`)."""

from marshmallow import Schema, fields, validate

from journal.domain import (
    GRADES,
    OUTCOME_COLUMNS,
    OUTCOMES,
    PLANS,
    SIDES,
    STATUSES,
    TIERS,
    TIMEFRAMES,
    USER_ROLES,
)


def text(*choices: str, nullable: bool = False, **kwargs: object) -> fields.String:
    return fields.String(
        required=True, allow_none=nullable, validate=validate.OneOf(choices) if choices else None, **kwargs
    )


def number(kind: type[fields.Field] = fields.Integer, nullable: bool = False) -> fields.Field:
    return kind(required=True, allow_none=nullable)


def moment(nullable: bool = False) -> fields.DateTime:
    return fields.DateTime(required=True, allow_none=nullable)


def price(nullable: bool = False) -> fields.String:
    return text(nullable=nullable, metadata={"description": 'Decimal text, e.g. "65000.5".'})


class Error(Schema):
    error = text()
    fields = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Each field at fault (dotted for nested ones) and what is wrong."},
    )


class Signal(Schema):
    """models.signal_dict: the public form of a signal."""

    id = fields.UUID(required=True)
    seq = number(nullable=True)
    symbol = text()
    side = text(*SIDES)
    entry_price = price()
    stop_loss = price()
    take_profit = price()
    risk_tier = text(*TIERS)
    confidence = number()
    grade = text(*GRADES)
    timeframe = text(*TIMEFRAMES)
    source = text()
    strategy = text(nullable=True)
    payload = fields.Dict(required=True)
    status = text(*STATUSES)
    outcome = text(*OUTCOMES, nullable=True)
    outcome_price = price(nullable=True)
    outcome_at = moment(nullable=True)
    expires_at = moment(nullable=True)
    created_at = moment()


class BatchResult(Schema):
    """One item's fate, in the order sent: stored now, stored before (its key or its content), or refused."""

    status = text("created", "duplicate", "invalid")
    signal = fields.Nested(Signal, metadata={"description": "The stored signal (created or duplicate)."})
    fields = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Why an invalid item was refused, per field."},
    )


class BatchResults(Schema):
    results = fields.List(fields.Nested(BatchResult), required=True)


class Mine(Schema):
    """The caller's own state on a signal."""

    delivered_at = moment(nullable=True)
    taken_at = moment(nullable=True)
    journaled_at = moment(nullable=True)
    notes = text(nullable=True)


class SignalWithMine(Signal):
    mine = fields.Nested(Mine, required=True)


class SignalAndMine(Schema):
    signal = fields.Nested(Signal, required=True)
    mine = fields.Nested(Mine, required=True, allow_none=True)


class SignalPage(Schema):
    signals = fields.List(fields.Nested(Signal), required=True)
    next_cursor = number(nullable=True)


class FeedPage(Schema):
    signals = fields.List(fields.Nested(SignalWithMine), required=True)
    next_cursor = number(nullable=True)
    stream_seq = number()


class JournalPage(Schema):
    entries = fields.List(fields.Nested(SignalWithMine), required=True)
    next_cursor = number(nullable=True)


class User(Schema):
    id = number()
    email = text()
    role = text(*USER_ROLES)
    risk_tier = text(*TIERS)
    plan = text(*PLANS)
    disabled = fields.Boolean(required=True)
    created_at = moment()


class UserPage(Schema):
    users = fields.List(fields.Nested(User), required=True)
    next_cursor = number(nullable=True)


class Quota(Schema):
    plan = text(*PLANS)
    daily_limit = number(nullable=True)
    remaining = number(nullable=True)
    resets_at = number(nullable=True)


class Me(User):
    quota = fields.Nested(Quota, required=True)


class Tokens(Schema):
    access_token = text()
    refresh_token = text()
    expires_in = number()
    user = fields.Nested(User, required=True)


class Key(Schema):
    id = number()
    name = text()
    prefix = text()
    scope = text("read", "signals:write")
    created_at = moment()
    last_used_at = moment(nullable=True)
    revoked_at = moment(nullable=True)


class NewKey(Key):
    key = text(metadata={"description": "Send as `Authorization: ApiKey <key>`; shown only here."})


class KeyList(Schema):
    keys = fields.List(fields.Nested(Key), required=True)


class Revoked(Schema):
    revoked = fields.Boolean(required=True)


class DayCount(Schema):
    day = fields.Date(required=True)
    taken = number()


class PersonalStats(Schema):
    received = number()
    taken = number()
    journaled = number()
    wins = number()
    losses = number()
    not_filled = number()
    open = number()
    win_rate = number(fields.Float, nullable=True)
    taken_by_day = fields.List(fields.Nested(DayCount), required=True)


Rates = Schema.from_dict(
    {
        "total": number(),
        **{name: number() for name in OUTCOME_COLUMNS},
        "win_rate": number(fields.Float, True),
    },
    name="Rates",
)


def by(description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.Nested(Rates),
        required=True,
        metadata={"description": description},
    )


class HubStats(Rates):
    today = number()
    active = number()
    seq = number()
    last_24h = fields.Nested(Rates, required=True)
    by_tier = by("Keyed by risk tier.")
    by_strategy = by("Keyed by strategy (or source for signals without one).")
    by_symbol = by("Keyed by symbol.")
    by_confidence = by('Keyed by confidence bucket ("70-79").')
    running_since = number(fields.Float)
    uptime_seconds = number()
    connected_users = number()


class HealthPart(Schema):
    ok = fields.Boolean(required=True)
    ms = fields.Float()
    error = fields.String()
    outbox_backlog = fields.Integer()
    oldest_pending_seconds = fields.Float()
    events_set_aside = fields.Integer()
    last_relay_seconds_ago = fields.Float()
    canary_heard_seconds_ago = fields.Float()


class Health(Schema):
    status = text("ok", "degraded")
    parts = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(HealthPart),
        metadata={"description": "Each part's details and errors; with an admin token only."},
    )


class Ready(Schema):
    ready = fields.Boolean(required=True)
    failing = fields.List(
        fields.String(validate=validate.OneOf(("database", "redis", "message_queue", "relay"))),
        metadata={"description": "The parts that make this web process unready (503)."},
    )


class LastPrice(Schema):
    symbol = text()
    price = price()
    at = moment()


class Alive(Schema):
    status = text("ok")


class Symbols(Schema):
    symbols = fields.List(fields.String(), required=True)
