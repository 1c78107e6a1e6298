"""Schemathesis against /api/openapi.json: every operation's examples and generated valid and invalid
cases, as an admin and as a user (and the operations that take a read API key, with one), in-process
against the real database and Redis. No answer >= 500, every answer as the spec says (status, content
type, body, headers), invalid input, missing or bad tokens and undeclared methods refused, and no row
of any table inserted, updated or deleted by a rejected request.

`make test` runs FUZZ_EXAMPLES (default 30) cases per operation, mode and role; `make fuzz` many more.
"""

import os
from uuid import UUID, uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from journal.accounts import load_account
from journal.api_keys import READ, create_key
from journal.devstack import signal_body
from journal.openapi import API_KEY
from journal.tokens import start_session

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
MIN_CASES = 2000  # both roles together, in `make test`
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]


@pytest.fixture(scope="module")
def api(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def cases():
    """Cases run per role; at the end, at least MIN_CASES in all when both roles ran."""
    counted: dict[str, int] = {}
    yield counted
    print(f"\nfuzz: {counted} cases with FUZZ_EXAMPLES={EXAMPLES}")  # shown by `make fuzz` (-s)
    if {"admin", "user"} <= set(counted):
        assert counted["admin"] + counted["user"] >= MIN_CASES, counted


def new_account(admin_app, role: str, plan: str = "free") -> dict:
    from journal.accounts import create_user

    with admin_app.app_context():
        email = f"fuzz-{role}-{uuid4().hex[:10]}@example.com"
        user = create_user(email, "fuzz-pass-123", role, "high", plan)
        return {"id": user.id, "role": role}


@pytest.fixture(scope="module")
def admin_account(admin_app):
    return new_account(admin_app, "admin")


@pytest.fixture(scope="module")
def user_account(admin_app):
    return new_account(admin_app, "user")


@pytest.fixture(scope="module")
def known_ids(app, worker_app, admin_account):
    """Signals that exist (one per tier), sequenced, so path parameters name real ones too."""
    from journal.stream.relay import relay

    client = app.test_client()
    headers = {"Authorization": f"Bearer {fresh_tokens(app, admin_account)['access_token']}"}
    ids = [
        client.post("/api/admin/signals", json=signal_body(risk_tier=tier), headers=headers).json["id"]
        for tier in ("low", "medium", "high")
    ]
    with worker_app.app_context():
        relay()
    return ids


def fresh_tokens(app, account: dict) -> dict:
    with app.app_context():
        found = load_account(account["id"])
        return start_session(found).as_dict(found)


@pytest.fixture
def fingerprint(owner):
    """What changes when a row of any application table is inserted, updated or deleted: per table
    the row count and the newest row version's xmin (every insert or update writes a version stamped
    with its transaction's id, later than any before it). One query, no row text read."""
    with owner.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [name for (name,) in cur.fetchall()]
    parts = ", ".join(
        f"(SELECT count(*) || ':' || coalesce(max(xmin::text::bigint), 0) FROM {t})" for t in tables
    )

    def read() -> dict[str, str]:
        with owner.cursor() as cur:
            cur.execute(f"SELECT {parts}")  # table names from the catalog
            return dict(zip(tables, cur.fetchone(), strict=True))

    return read


def no_server_error(response, case) -> None:
    """Not a 5xx, except the probes' documented 503 while no worker relays here (degraded, unready)."""
    if case.operation.path == "/api/health" and response.status_code == 503:
        assert response.json()["status"] == "degraded"
        return
    if case.operation.path == "/readyz" and response.status_code == 503:
        assert response.json()["failing"] == ["relay"]
        return
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"


def name_a_real_signal(case, known_ids: list[str]) -> None:
    """Half of the generated signal ids become ones that exist (chosen from the generated value)."""
    generated = (case.path_parameters or {}).get("signal_id")
    try:
        pick = UUID(str(generated)).int % (2 * len(known_ids))
    except ValueError:
        return
    if pick < len(known_ids):
        case.path_parameters["signal_id"] = known_ids[pick]


def fuzz_operation(operation, mode: GenerationMode, tokens: AuthStorage, call, examples: int) -> None:
    """Hypothesis over one operation's cases of one mode (valid or invalid), `examples` of them at most."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, auth_storage=tokens))
    def run(case):
        call(case)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # only an operation without parameters or body has no invalid input to send


def key_storage(key: str) -> AuthStorage:
    """A read API key on every case (schemathesis leaves it off the cases that test a missing one)."""

    class ReadKey:
        def get(self, case, context) -> str:
            return key

        def set(self, case, key: str, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"ApiKey {key}"}

    storage = AuthStorage()
    storage.auth(refresh_interval=None)(ReadKey)
    return storage


def takes_a_read_key(operation) -> bool:
    return operation.method.upper() == "GET" and {API_KEY: []} in operation.definition.raw.get("security", [])


def token_storage(app, account: dict) -> AuthStorage:
    """The account's fresh tokens on every case (a logout case revokes its own), a refresh token where
    the route asks for one; schemathesis leaves them off the cases that test a missing or bad token."""

    class FreshTokens:
        def get(self, case, context) -> dict:
            return fresh_tokens(app, account)

        def set(self, case, tokens: dict, context) -> None:
            kind = "refresh_token" if case.operation.path == "/api/auth/refresh" else "access_token"
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[kind]}"}

    storage = AuthStorage()
    storage.auth(refresh_interval=None)(FreshTokens)
    return storage


def fuzz_as(
    tokens: AuthStorage, api, fingerprint, known_ids: list[str], chosen=lambda _: True, examples=EXAMPLES
) -> int:
    """Every operation `chosen` takes, valid and invalid cases, with these credentials; returns how
    many cases ran."""
    ran = 0

    def call(case) -> None:
        nonlocal ran
        ran += 1
        name_a_real_signal(case, known_ids)
        before = fingerprint()
        response = case.call()
        no_server_error(response, case)
        case.validate_response(response, checks=CHECKS, excluded_checks=[not_a_server_error])
        if response.status_code >= 400:
            after = fingerprint()
            changed = [table for table in before if after[table] != before[table]]
            assert not changed, f"{case.method} {case.formatted_path} wrote {changed}, then refused"

    operations = [result.ok() for result in api.get_all_operations()]
    for operation in filter(chosen, operations):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, tokens, call, examples)
    return ran


def test_no_input_from_an_admin_gets_a_server_error_or_an_undocumented_answer(
    api, app, fingerprint, admin_account, known_ids, cases
):
    cases["admin"] = fuzz_as(token_storage(app, admin_account), api, fingerprint, known_ids)


def test_no_input_from_a_user_gets_a_server_error_or_an_undocumented_answer(
    api, app, fingerprint, user_account, known_ids, cases
):
    cases["user"] = fuzz_as(token_storage(app, user_account), api, fingerprint, known_ids)


def test_no_input_with_a_read_key_gets_a_server_error_or_an_undocumented_answer(
    api, app, admin_app, fingerprint, known_ids, cases
):
    account = new_account(admin_app, "user", plan="elite")  # unlimited: no 429 hides the cases
    with app.app_context():
        key = create_key(account["id"], "fuzz", READ)["key"]
    tokens = key_storage(key)
    ran = fuzz_as(tokens, api, fingerprint, known_ids, takes_a_read_key, examples=max(10, EXAMPLES // 3))
    cases["read key"] = ran
