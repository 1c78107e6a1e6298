"""Admin user management (/api/admin/users), session lifetime, health details and production defaults."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from journal.cli import main
from journal.migrate import migrate
from tests.conftest import count, make_app


@pytest.fixture
def admin(bearer):
    return bearer("admin", "high")


def test_admin_lists_users_with_filters_and_keyset_pages(client, admin, make_user):
    made = [make_user("user", "medium", "pro") for _ in range(3)]
    page = client.get("/api/admin/users?risk_tier=medium&plan=pro&limit=2", headers=admin).json
    assert len(page["users"]) == 2 and all(u["risk_tier"] == "medium" for u in page["users"])
    rest = client.get(
        f"/api/admin/users?risk_tier=medium&plan=pro&cursor={page['next_cursor']}", headers=admin
    )
    ids = [u["id"] for u in page["users"] + rest.json["users"]]
    assert len(ids) == len(set(ids)) and {u["id"] for u in made} <= set(ids)
    one = client.get(f"/api/admin/users?email={made[0]['email'][5:20].upper()}", headers=admin).json
    assert [u["id"] for u in one["users"]] == [made[0]["id"]]
    assert client.get("/api/admin/users?email=%25", headers=admin).json["users"] == []  # % is literal
    assert "password_hash" not in page["users"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"risk_tier": "extreme"}, "risk_tier"),
        ({"plan": "platinum"}, "plan"),
        ({"role": "root"}, "role"),
        ({"disabled": 1}, "disabled"),
        ({"disabled": "yes"}, "disabled"),
        ({"email": "x@example.com"}, "email"),
    ],
)
def test_bad_user_change_names_the_field_and_changes_nothing(client, admin, make_user, owner, body, field):
    user = make_user("user", "low")
    before = count(owner, "audit_log")
    resp = client.patch(f"/api/admin/users/{user['id']}", json=body, headers=admin)
    assert resp.status_code == 422 and field in resp.json["fields"]
    assert count(owner, "audit_log") == before


def test_user_change_is_audited_and_answers_the_new_account(client, admin, make_user, owner):
    user = make_user("user", "low")
    resp = client.patch(
        f"/api/admin/users/{user['id']}", json={"risk_tier": "high", "plan": "elite"}, headers=admin
    )
    assert resp.status_code == 200
    assert (resp.json["risk_tier"], resp.json["plan"]) == ("high", "elite")
    with owner.cursor() as cur:
        cur.execute(
            "SELECT detail FROM audit_log WHERE action = 'user.update' AND entity_id = %s", (str(user["id"]),)
        )
        detail = cur.fetchone()[0]
    assert detail["changes"] == {"risk_tier": "high", "plan": "elite"}
    assert detail["before"] == {"risk_tier": "low", "plan": "free"}


def test_user_routes_refuse_traders_and_unknown_users(client, admin, bearer, make_user):
    trader = bearer("user", "high")
    user = make_user()
    assert client.get("/api/admin/users", headers=trader).status_code == 403
    assert (
        client.patch(f"/api/admin/users/{user['id']}", json={"plan": "elite"}, headers=trader).status_code
        == 403
    )
    assert client.patch("/api/admin/users/999999999", json={"plan": "pro"}, headers=admin).status_code == 404
    assert client.patch("/api/admin/users/abc", json={"plan": "pro"}, headers=admin).status_code == 404


def test_admin_cannot_demote_or_disable_themselves(client, make_user, login):
    me = make_user("admin", "high")
    headers = {"Authorization": f"Bearer {login(me)['access_token']}"}
    for body in ({"role": "user"}, {"disabled": True}):
        resp = client.patch(f"/api/admin/users/{me['id']}", json=body, headers=headers)
        assert resp.status_code == 422
    assert client.get("/api/admin/users", headers=headers).status_code == 200


def test_admin_creates_a_user_audited_and_not_twice(client, admin, owner):
    body = {"email": "new-trader@example.com", "password": "long-enough-pw", "risk_tier": "medium"}
    created = client.post("/api/admin/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json["risk_tier"] == "medium"
    assert client.post("/api/admin/users", json=body, headers=admin).status_code == 409
    login = client.post("/api/auth/login", json={"email": body["email"], "password": body["password"]})
    assert login.status_code == 200
    with owner.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'user.create' AND detail->>'email' = %s",
            (body["email"],),
        )
        assert cur.fetchone()[0] == 1


def accounts_with_email(owner, email: str) -> int:
    with owner.cursor() as cur:
        cur.execute("SELECT count(*) FROM users WHERE lower(email) = lower(%s)", (email,))
        return cur.fetchone()[0]


def test_two_concurrent_creates_of_one_email_answer_201_and_409(app, admin, owner):
    for _ in range(3):
        email = f"race-{uuid.uuid4().hex[:10]}@example.com"
        both_ready = threading.Barrier(2)

        def create(_: int, email: str = email, ready: threading.Barrier = both_ready):
            client = app.test_client()
            ready.wait()
            return client.post(
                "/api/admin/users", json={"email": email, "password": "long-enough-pw"}, headers=admin
            )

        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(create, range(2)), key=lambda resp: resp.status_code)
        assert [resp.status_code for resp in answers] == [201, 409], [resp.json for resp in answers]
        assert answers[1].json["fields"] == {"email": ["exists already"]}
        assert accounts_with_email(owner, email) == 1


def test_an_email_taken_in_another_case_is_409_beyond_ascii_too(client, admin, owner):
    tag = uuid.uuid4().hex[:8]
    body = {"email": f"Élodie.İnce-{tag}@example.com", "password": "long-enough-pw"}
    created = client.post("/api/admin/users", json=body, headers=admin)
    assert created.status_code == 201, created.json
    stored = created.json["email"]
    assert stored == body["email"].lower()  # "i̇" (i and a combining dot): Python's lowering of İ
    for variant in (f"ÉLODIE.İNCE-{tag.upper()}@EXAMPLE.COM", f"élodie.İnce-{tag}@example.com"):
        again = client.post("/api/admin/users", json={**body, "email": variant}, headers=admin)
        assert again.status_code == 409 and again.json["fields"] == {"email": ["exists already"]}
        login = client.post("/api/auth/login", json={"email": variant, "password": body["password"]})
        assert login.status_code == 200 and login.json["user"]["email"] == stored
    # PostgreSQL lowers İ to a plain i, Python to i and a combining dot: this is another stored address
    # (the index compares the stored, lowered text), so an account, not a 409 and never a 500
    dotless = client.post(
        "/api/admin/users", json={**body, "email": f"élodie.ince-{tag}@example.com"}, headers=admin
    )
    assert dotless.status_code == 201, dotless.json
    assert accounts_with_email(owner, stored) == 1


def test_session_has_an_absolute_end_however_often_it_is_refreshed(services, make_user):
    short = make_app("app", JWT_SESSION_SECONDS=2)
    http = short.test_client()
    user = make_user()
    tokens = http.post("/api/auth/login", json={"email": user["email"], "password": user["password"]}).json
    renewed = http.post("/api/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert renewed.status_code == 200
    time.sleep(2.5)  # past the session's end (not a timing assertion)
    late = http.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {renewed.json['refresh_token']}"}
    )
    assert late.status_code == 401
    assert (
        http.get(
            "/api/user/me", headers={"Authorization": f"Bearer {renewed.json['access_token']}"}
        ).status_code
        == 401
    )


def test_health_details_are_for_admins_only(client, admin, bearer):
    anonymous = client.get("/api/health").json
    assert set(anonymous) == {"status"}
    assert set(client.get("/api/health", headers=bearer("user", "high")).json) == {"status"}
    assert "parts" in client.get("/api/health", headers=admin).json


def test_outside_development_migrate_refuses_placeholder_role_passwords(services, monkeypatch):
    monkeypatch.setenv("JOURNAL_ENV", "production")
    monkeypatch.delenv("DB_APP_PASSWORD", raising=False)
    with pytest.raises(RuntimeError, match="DB_APP_PASSWORD"):
        migrate(services["DATABASE_URL"])


def test_outside_development_nothing_seeds_demo_accounts(services, owner):
    before = count(owner, "users")
    result = CliRunner().invoke(main, ["seed"], env={"JOURNAL_ENV": "production"})
    assert result.exit_code != 0 and "development only" in result.output
    assert count(owner, "users") == before


def test_login_refuses_a_disabled_account(client, admin, make_user):
    user = make_user()
    client.patch(f"/api/admin/users/{user['id']}", json={"disabled": True}, headers=admin)
    resp = client.post("/api/auth/login", json={"email": user["email"], "password": user["password"]})
    assert resp.status_code == 403 and "email" in resp.json["fields"]


def test_address_limit_answers_before_any_password_check(services):
    app = make_app("app", RATELIMIT_LOGIN_ADDRESS="20 per minute")
    http = app.test_client()
    address = f"10.9.{time.time_ns() % 250}.7"  # an address of its own: limits live in the shared Redis
    statuses = [
        http.post(
            "/api/auth/login",
            json={"email": f"random-{i}@example.com", "password": "guess"},
            environ_base={"REMOTE_ADDR": address},
        ).status_code
        for i in range(30)
    ]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 10
