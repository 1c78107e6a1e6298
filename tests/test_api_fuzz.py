"""Schemathesis against /api/openapi.json: every operation's examples and generated valid and invalid
cases, as an admin and as a user, in-process against the real database and Redis. No answer >= 500,
every answer as the spec says (status, content type, body, headers), invalid input, missing or bad
tokens and undeclared methods refused, and no table changed by a rejected request.

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
from journal.devstack import signal_body
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
TABLES = ("signals", "outbox", "audit_log", "user_signals", "users", "api_keys")
COUNTS = "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in TABLES)


@pytest.fixture(scope="module")
def api(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def cases():
    """Cases run per role; at the end, at least MIN_CASES in all when both roles ran."""
    counted: dict[str, int] = {}
    yield counted
    print(f"\nfuzz: {counted} cases with FUZZ_EXAMPLES={EXAMPLES}")  # shown by `make fuzz` (-s)
    if set(counted) == {"admin", "user"}:
        assert sum(counted.values()) >= MIN_CASES, counted


def new_account(admin_app, role: str) -> dict:
    from journal.accounts import create_user

    with admin_app.app_context():
        user = create_user(f"fuzz-{role}-{uuid4().hex[:10]}@example.com", "fuzz-pass-123", role, "high")
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


def table_counts(owner) -> tuple[int, ...]:
    with owner.cursor() as cur:
        cur.execute(COUNTS)
        return cur.fetchone()


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


def fuzz_operation(operation, mode: GenerationMode, tokens: AuthStorage, call) -> None:
    """Hypothesis over one operation's cases of one mode (valid or invalid), EXAMPLES of them at most."""

    @settings(
        max_examples=EXAMPLES,
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


def fuzz_as(account: dict, api, app, owner, known_ids: list[str]) -> int:
    """Every operation, valid and invalid cases, as this account; returns how many cases ran."""
    ran = 0

    def call(case) -> None:
        nonlocal ran
        ran += 1
        name_a_real_signal(case, known_ids)
        before = table_counts(owner)
        response = case.call()
        no_server_error(response, case)
        case.validate_response(response, checks=CHECKS, excluded_checks=[not_a_server_error])
        if response.status_code >= 400:
            assert table_counts(owner) == before, f"{case.method} {case.formatted_path} wrote, then refused"

    tokens = token_storage(app, account)
    for result in api.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(result.ok(), mode, tokens, call)
    return ran


def test_no_input_from_an_admin_gets_a_server_error_or_an_undocumented_answer(
    api, app, owner, admin_account, known_ids, cases
):
    cases["admin"] = fuzz_as(admin_account, api, app, owner, known_ids)


def test_no_input_from_a_user_gets_a_server_error_or_an_undocumented_answer(
    api, app, owner, user_account, known_ids, cases
):
    cases["user"] = fuzz_as(user_account, api, app, owner, known_ids)
