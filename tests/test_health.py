"""Liveness."""


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_unknown_api_route_is_json(client):
    resp = client.get("/api/nothing-here")
    assert resp.status_code == 404 and "error" in resp.json
