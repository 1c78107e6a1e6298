"""The process's cache of verified access tokens (journal/verified_tokens.py), shared by HTTP
requests and socket connects, against tokens it must never let through."""

import pytest

from journal.errors import APIError
from journal.identity import socket_claims


def test_a_refresh_token_shown_to_a_socket_does_not_then_pass_as_an_access_token(
    app, client, login, make_user
):
    tokens = login(make_user("user", "low"))
    with app.test_request_context(), pytest.raises(APIError):
        socket_claims(tokens["refresh_token"])  # refused on the socket (not an access token)...
    resp = client.get("/api/user/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert resp.status_code in (401, 422), resp.json  # ...and not remembered as verified for HTTP


def test_a_socket_token_verified_before_is_refused_once_its_session_ended(app, client, login, make_user):
    tokens = login(make_user("user", "low"))
    with app.test_request_context():
        socket_claims(tokens["access_token"])  # verified and cached: a reconnect skips the signature
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (
        client.post(
            "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=access
        ).status_code
        == 200
    )
    with app.test_request_context(), pytest.raises(APIError, match="revoked"):
        socket_claims(tokens["access_token"])  # the session is checked every time
