"""API keys and plan quotas: what a key may do, what it may not, and the daily allowance per plan."""

import pytest
import requests

from journal.devstack import signal_body
from journal.embedded import free_port
from tests.conftest import count

KEY_READS = ("/api/user/signals", "/api/user/journal", "/api/user/stats", "/api/user/me", "/api/hub/stats",
             "/api/hub/signals")  # fmt: skip


def session(client, make_user, login, role="user", tier="low", plan="free") -> tuple[dict, dict]:
    user = make_user(role, tier, plan)
    return user, {"Authorization": f"Bearer {login(user)['access_token']}"}


def new_key(client, headers, path="/api/user/keys", name="my bot") -> dict:
    resp = client.post(path, json={"name": name}, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def key_auth(key: dict) -> dict:
    return {"Authorization": f"ApiKey {key['key']}"}


def test_a_key_reads_the_feed_journal_stats_and_history(client, make_user, login):
    _, headers = session(client, make_user, login)
    key = new_key(client, headers)
    assert key["key"].startswith("jk_") and key["scope"] == "read"
    for path in KEY_READS:
        assert client.get(path, headers=key_auth(key)).status_code == 200, path


def test_a_key_cannot_write_or_administer(client, make_user, login, bearer, owner):
    _, headers = session(client, make_user, login, role="admin", tier="high")
    key = new_key(client, headers)
    signal = client.post("/api/admin/signals", json=signal_body(), headers=bearer("admin", "high")).json
    before = count(owner, "signals"), count(owner, "user_signals"), count(owner, "api_keys")
    for method, path, body in (
        ("post", "/api/admin/signals", signal_body()),
        ("post", "/api/hub/signals", signal_body()),
        ("get", "/api/admin/signals", None),
        ("get", "/api/admin/users", None),
        ("post", f"/api/user/signals/{signal['id']}/taken", None),
        ("post", f"/api/user/signals/{signal['id']}/journal", {"notes": "x"}),
        ("post", "/api/user/keys", {"name": "another"}),
        ("post", "/api/auth/logout", None),
    ):
        resp = getattr(client, method)(path, json=body, headers=key_auth(key))
        assert resp.status_code in (401, 403), (path, resp.status_code)
    assert (count(owner, "signals"), count(owner, "user_signals"), count(owner, "api_keys")) == before


def test_a_revoked_key_stops_working_at_once(client, make_user, login):
    _, headers = session(client, make_user, login)
    key = new_key(client, headers)
    assert client.get("/api/user/me", headers=key_auth(key)).status_code == 200  # now cached
    assert client.delete(f"/api/user/keys/{key['id']}", headers=headers).json == {"revoked": True}
    assert client.get("/api/user/me", headers=key_auth(key)).status_code == 401
    listed = client.get("/api/user/keys", headers=headers).json["keys"]
    assert [k["revoked_at"] is not None for k in listed if k["id"] == key["id"]] == [True]
    assert "key" not in listed[0] and listed[0]["prefix"] == key["key"][:10]


def test_a_users_key_never_reads_another_users_journal_or_revokes_their_keys(
    client, make_user, login, bearer
):
    admin = bearer("admin", "high")
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    alice, alice_session = session(client, make_user, login)
    _, bob_session = session(client, make_user, login)
    noted = client.post(
        f"/api/user/signals/{signal['id']}/journal", json={"notes": "alice's secret"}, headers=alice_session
    )
    assert noted.status_code == 200 and noted.json["mine"]["notes"] == "alice's secret", noted.json
    bob_key = new_key(client, bob_session)
    journal = client.get("/api/user/journal", headers=key_auth(bob_key)).json
    assert all(entry["mine"]["notes"] != "alice's secret" for entry in journal["entries"])
    alice_key = new_key(client, alice_session)
    hers = client.get("/api/user/journal", headers=key_auth(alice_key)).json["entries"]
    assert [(entry["id"], entry["mine"]["notes"]) for entry in hers] == [(signal["id"], "alice's secret")]
    assert client.delete(f"/api/user/keys/{alice_key['id']}", headers=bob_session).status_code == 404
    assert client.get("/api/user/me", headers=key_auth(alice_key)).json["id"] == alice["id"]


def test_a_key_read_just_before_its_revoke_commits_is_not_cached_alive(app, client, make_user, login):
    from journal.api_keys import key_hash, read_key, remember

    _, headers = session(client, make_user, login)
    key = new_key(client, headers)
    digest = key_hash(key["key"])
    with app.app_context():  # another process reads the live row (its cache entry has expired) ...
        stale = read_key(digest)
    assert stale is not None and stale.id == key["id"]
    assert client.delete(f"/api/user/keys/{key['id']}", headers=headers).json == {"revoked": True}
    with app.app_context():  # ... and caches it only after the revoke committed and dropped the entry
        assert remember(digest, stale) is None
    assert client.get("/api/user/me", headers=key_auth(key)).status_code == 401


def listed(client, headers, key: dict) -> dict:
    return next(k for k in client.get("/api/user/keys", headers=headers).json["keys"] if k["id"] == key["id"])


def test_last_use_is_stamped_by_answered_requests_only(client, make_user, login):
    _, headers = session(client, make_user, login)
    key = new_key(client, headers)
    assert listed(client, headers, key)["last_used_at"] is None
    wrong_scope = client.post("/api/hub/signals", json=signal_body(), headers=key_auth(key))
    assert wrong_scope.status_code == 403
    invalid = [client.get("/api/user/signals?limit=0", headers=key_auth(key)) for _ in range(100)]
    # the quota counts every request of a valid key, refused ones too (the 403 above is the 1st)
    assert [r.status_code for r in invalid] == [422] * 99 + [429]
    assert listed(client, headers, key)["last_used_at"] is None
    _, other_headers = session(client, make_user, login)
    used = new_key(client, other_headers)
    assert client.get("/api/user/me", headers=key_auth(used)).status_code == 200
    stamped = listed(client, other_headers, used)
    assert stamped["last_used_at"] is not None and stamped["last_used_at"] >= stamped["created_at"]


def test_a_users_keys_share_one_daily_quota(client, make_user, login):
    _, headers = session(client, make_user, login)
    first, second = new_key(client, headers, name="first"), new_key(client, headers, name="second")
    answers = [client.get("/api/user/me", headers=key_auth((first, second)[i % 2])) for i in range(100)]
    assert {r.status_code for r in answers} == {200}
    assert answers[-1].json["quota"]["remaining"] == 0
    for key in (first, second):
        assert client.get("/api/user/me", headers=key_auth(key)).status_code == 429
    assert client.get("/api/user/me", headers=headers).json["quota"]["remaining"] == 0


def test_a_forged_or_malformed_key_is_refused(client):
    for header in ("ApiKey jk_notarealkey", "ApiKey ", "ApiKey \u0000", "ApiKey " + "x" * 5000):
        assert client.get("/api/user/me", headers={"Authorization": header}).status_code == 401


def test_admin_service_keys_post_signals_only_through_the_hub_route(client, make_user, login, owner):
    admin, headers = session(client, make_user, login, role="admin", tier="high")
    service = new_key(client, headers, "/api/admin/keys", "tradingview")
    assert service["scope"] == "signals:write"
    before = count(owner, "signals")
    assert client.post("/api/hub/signals", json=signal_body(), headers=key_auth(service)).status_code == 201
    assert count(owner, "signals") == before + 1
    assert client.post("/api/admin/signals", json=signal_body(), headers=key_auth(service)).status_code == 403
    assert client.get("/api/user/signals", headers=key_auth(service)).status_code == 403  # not a read key
    _, user_headers = session(client, make_user, login)
    assert client.post("/api/admin/keys", json={"name": "x"}, headers=user_headers).status_code == 403


def test_key_names_are_validated_and_active_keys_are_bounded(client, make_user, login, owner):
    _, headers = session(client, make_user, login)
    before = count(owner, "api_keys")
    bad = [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": 5}, "name")]
    for body, field in [*bad, ({"name": "a", "scope": "signals:write"}, "scope")]:
        resp = client.post("/api/user/keys", json=body, headers=headers)
        assert resp.status_code == 422 and field in resp.json["fields"]
    assert count(owner, "api_keys") == before
    keys = [new_key(client, headers, name=f"bot {i}") for i in range(10)]
    assert client.post("/api/user/keys", json={"name": "one too many"}, headers=headers).status_code == 409
    client.delete(f"/api/user/keys/{keys[0]['id']}", headers=headers)
    new_key(client, headers, name="after a revoke")


@pytest.fixture(scope="module")
def metered_webs(stack):
    """Two web processes with rate limits on (the shared stack runs with them off)."""
    urls = [stack.start_web(f"web-metered-{i}", free_port(), {"RATELIMIT_ENABLED": "1"}) for i in range(2)]
    yield urls
    for i in range(2):
        stack.kill(f"web-metered-{i}")


def key_for(hub, plan: str) -> tuple[dict, str]:
    """A logged-in user of `plan` and a read key of theirs."""
    from journal.accounts import create_user

    email = f"plan-{plan}-{free_port()}@example.com"
    with hub.admin_app.app_context():
        create_user(email, "correct-horse-battery", "user", "low", plan)
    tokens = requests.post(
        hub.url + "/api/auth/login", json={"email": email, "password": "correct-horse-battery"}
    )
    session = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    key = requests.post(hub.url + "/api/user/keys", json={"name": "quota"}, headers=session).json()
    return session, key["key"]


def test_the_101st_key_request_of_a_free_user_is_429_whichever_process_answers(hub, metered_webs):
    session, key = key_for(hub, "free")
    statuses = [
        requests.get(metered_webs[i % 2] + "/api/user/signals", headers={"Authorization": f"ApiKey {key}"})
        for i in range(101)
    ]
    assert [r.status_code for r in statuses[:100]] == [200] * 100
    last = statuses[100]
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert last.headers["X-RateLimit-Limit"] == "100" and last.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in last.headers
    for url in metered_webs:  # the dashboard (a session) keeps working past the quota
        assert requests.get(url + "/api/user/signals", headers=session).status_code == 200
        me = requests.get(url + "/api/user/me", headers=session).json()
        assert me["quota"]["daily_limit"] == 100 and me["quota"]["remaining"] == 0


def test_pro_is_not_limited_at_101_and_elite_never(hub, metered_webs):
    for plan in ("pro", "elite"):
        _, key = key_for(hub, plan)
        auth = {"Authorization": f"ApiKey {key}"}
        answers = [requests.get(metered_webs[i % 2] + "/api/user/me", headers=auth) for i in range(120)]
        assert {r.status_code for r in answers} == {200}, plan
        quota = answers[-1].json()["quota"]
        if plan == "pro":
            assert quota["daily_limit"] == 10_000 and quota["remaining"] == 10_000 - 120
        else:
            assert quota["daily_limit"] is None and "X-RateLimit-Limit" not in answers[-1].headers
