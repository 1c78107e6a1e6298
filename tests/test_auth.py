"""Login, refresh, logout and every way a token can be wrong."""

from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token

from journal.devstack import signal_body


def test_login_returns_tokens_and_user(login, make_user):
    user = make_user("user", "medium")
    tokens = login(user)
    assert tokens["user"]["email"] == user["email"] and tokens["user"]["risk_tier"] == "medium"
    assert "password_hash" not in tokens["user"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "nobody@example.com", "password": "whatever"}, 401, "password"),
        ({"email": "not-an-email", "password": "x"}, 422, "email"),
        ({"email": "a@example.com"}, 422, "password"),
        ({"email": "a@example.com", "password": "x", "otp": 1}, 422, "otp"),
    ],
)
def test_bad_logins(client, body, status, field):
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == status and field in resp.json["fields"]


def test_wrong_password(client, make_user):
    user = make_user()
    resp = client.post("/api/auth/login", json={"email": user["email"], "password": "wrong-password"})
    assert resp.status_code == 401


def test_no_wrong_and_expired_tokens(client, app, make_user):
    assert client.get("/api/user/signals").status_code == 401
    assert client.get("/api/user/signals", headers={"Authorization": "Bearer abc.def.ghi"}).status_code == 401
    user = make_user()
    with app.app_context():
        expired = create_access_token(str(user["id"]), expires_delta=timedelta(seconds=-5))
    resp = client.get("/api/user/signals", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and "expired" in resp.json["error"]


def test_user_token_on_admin_route_is_forbidden(client, bearer, owner):
    user = bearer("user", "high")
    assert client.post("/api/admin/signals", json=signal_body(), headers=user).status_code == 403
    assert client.get("/api/admin/signals", headers=user).status_code == 403


def test_logout_revokes_both_tokens(client, login, make_user):
    tokens = login(make_user())
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/user/signals", headers=access).status_code == 200
    resp = client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=access)
    assert resp.status_code == 200
    assert client.get("/api/user/signals", headers=access).status_code == 401
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401


def test_refresh_rotates(client, login, make_user):
    tokens = login(make_user())
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    fresh = client.post("/api/auth/refresh", headers=refresh)
    assert fresh.status_code == 200
    new_access = {"Authorization": f"Bearer {fresh.json['access_token']}"}
    assert client.get("/api/user/signals", headers=new_access).status_code == 200
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401  # single use
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/auth/refresh", headers=access).status_code in (401, 422)


def test_login_is_rate_limited(client, make_user):
    user = make_user()
    statuses = [
        client.post("/api/auth/login", json={"email": user["email"], "password": "nope-nope"}).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429
