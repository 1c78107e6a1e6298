"""Hypothesis properties: the price rules of both sides, and payloads that come back equal through the API."""

import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from journal.devstack import signal_body
from journal.jsonio import MAX_JSON_NUMBER
from journal.schemas import MAX_PAYLOAD_DEPTH, SignalCreate

PRICES = ("entry_price", "stop_loss", "take_profit")
valid_prices = st.decimals(
    min_value=Decimal("0.0000000001"), max_value=Decimal("999999999999.9999999999"), places=10
)
bad_prices = st.one_of(
    st.decimals(max_value=0, places=10, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=Decimal("1e12"), max_value=Decimal("1e30"), places=10),
    st.decimals(min_value=Decimal("0.1"), max_value=1000, places=14).filter(
        lambda d: d.as_tuple().exponent < -10
    ),
)
as_sent = st.sampled_from([lambda d: format(d, "f"), lambda d: d])  # decimal text, or a JSON number
examples = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def load(app, body: dict) -> dict:
    with app.test_request_context():
        return SignalCreate().load(body)


@examples
@given(
    side=st.sampled_from(["buy", "sell"]), prices=st.lists(valid_prices, min_size=3, max_size=3), send=as_sent
)
def test_price_order_is_accepted_exactly_when_it_matches_the_side(app, side, prices, send):
    entry, stop, target = prices
    body = signal_body(side=side, entry_price=send(entry), stop_loss=send(stop), take_profit=send(target))
    ordered = stop < entry < target if side == "buy" else target < entry < stop
    try:
        data = load(app, body)
    except ValidationError as err:
        assert not ordered, err.messages
        assert list(err.messages) == ["stop_loss"], err.messages
    else:
        assert ordered
        assert (data["entry_price"], data["stop_loss"], data["take_profit"]) == (entry, stop, target)


@examples
@given(side=st.sampled_from(["buy", "sell"]), field=st.sampled_from(PRICES), price=bad_prices, send=as_sent)
def test_a_price_out_of_range_is_refused_naming_its_field(app, side, field, price, send):
    base = {"buy": ("100", "90", "110"), "sell": ("100", "110", "90")}[side]
    body = signal_body(side=side, **(dict(zip(PRICES, base, strict=True)) | {field: send(price)}))
    with pytest.raises(ValidationError) as refused:
        load(app, body)
    assert field in refused.value.messages


text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
numbers = st.one_of(
    st.integers(-MAX_JSON_NUMBER, MAX_JSON_NUMBER),
    st.floats(-MAX_JSON_NUMBER, MAX_JSON_NUMBER, allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=40,
)


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(text, json_values, max_size=8))
def test_any_payload_within_the_limits_comes_back_equal(client, admin_headers, payload):
    assume(depth(payload) <= MAX_PAYLOAD_DEPTH and len(json.dumps(payload)) <= 16 * 1024)
    key = {"Idempotency-Key": uuid.uuid4().hex}  # one signal per example, whatever its content
    posted = client.post("/api/admin/signals", json=signal_body(payload=payload), headers=admin_headers | key)
    assert posted.status_code == 201, posted.json
    assert json.loads(posted.get_data())["payload"] == payload
    read = client.get(f"/api/admin/signals/{posted.json['id']}", headers=admin_headers)
    assert json.loads(read.get_data())["payload"] == payload


@pytest.fixture
def admin_headers(bearer):
    return bearer("admin", "high")
