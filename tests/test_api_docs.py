"""The OpenAPI contract at /api/openapi.json and the browsable /api/docs (real Chromium, strict CSP)."""

import re

import pytest
import schemathesis
from playwright.sync_api import expect, sync_playwright

from journal.devstack import Stack
from journal.embedded import free_port
from tests.conftest import ARTIFACTS
from tests.test_pages import CHROMIUM, DESKTOP, FLAGS

UNDOCUMENTED = {"static", "openapi", "pages.api_docs"}


def test_spec_is_valid_openapi_3_1(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(spec).validate()


def test_every_api_route_is_in_the_spec_with_its_methods(app, client):
    spec = client.get("/api/openapi.json").json
    documented = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED or rule.endpoint.startswith("pages."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {rule.rule} is not in the spec"


PROBES = ("/api/health", "/readyz")


def test_every_error_answer_is_documented_with_the_error_shape(client):
    spec = client.get("/api/openapi.json").json
    assert spec["components"]["schemas"]["Error"]["required"] == ["error", "fields"]
    for path, operations in spec["paths"].items():
        for method, described in operations.items():
            if method == "parameters":
                continue
            for status, answer in described["responses"].items():
                if int(status) >= 400 and path not in PROBES:  # probes answer 503 in their own shape
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, status)
            if described.get("security"):
                assert "401" in described["responses"], (method, path)


@pytest.fixture(scope="module")
def web(services, tmp_path_factory):
    """One gunicorn web process (the docs page needs nothing else)."""
    stack = Stack(tmp_path_factory.mktemp("docs-web"))
    url = stack.start_web("web", free_port())
    yield url
    stack.stop()


def test_docs_page_renders_every_route_under_the_strict_csp(web, make_user):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(base_url=web, viewport=DESKTOP)
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: problems.append(str(err)))
        response = page.goto("/api/docs")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.locator(".opblock").first).to_be_visible(timeout=15000)
        assert page.locator(".opblock").count() >= 19
        expect(page.locator(".information-container")).to_contain_text("Signal hub API")
        page.locator("#operations-admin-admin_create_signal").click()
        expect(page.locator(".opblock-body").first).to_contain_text('"entry_price": "65000.5"')
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
        browser.close()
    assert not [text for text in problems if "Content Security Policy" in text or "Refused" in text], problems
