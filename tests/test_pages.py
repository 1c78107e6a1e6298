"""Dashboards in a real headless Chromium (Debian's, driven by Playwright): post, see, take, reload."""

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ARTIFACTS, count

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def open_as(browser, base: str, account: dict, viewport=DESKTOP):
    context = browser.new_context(base_url=base, viewport=viewport)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=email]", account["email"])
    page.fill("input[name=password]", account["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin" if account["role"] == "admin" else "**/dashboard")
    expect(page.locator("#conn")).to_have_class("conn live", timeout=10000)
    return context, page


@pytest.fixture
def accounts(make_user):
    return {"admin": make_user("admin", "high"), "trader": make_user("user", "medium")}


def fill_signal(page, entry: str, stop: str, target: str, notes: str = "") -> None:
    page.select_option("#symbol", "ETHUSDT")
    page.select_option("select[name=side]", "buy")
    page.fill("input[name=entry_price]", entry)
    page.fill("input[name=stop_loss]", stop)
    page.fill("input[name=take_profit]", target)
    page.select_option("select[name=risk_tier]", "medium")
    page.fill("textarea[name=analysis]", notes)
    page.click("#signal-form button[type=submit]")


def test_admin_form_reaches_user_then_taken_survives_reload(browser, stack, accounts):
    admin_ctx, admin = open_as(browser, stack.url, accounts["admin"])
    user_ctx, user = open_as(browser, stack.url, accounts["trader"])
    fill_signal(admin, "3000.25", "2900", "3300", "retest of support")
    expect(admin.locator("#toast")).to_contain_text("Posted ETHUSDT buy")
    card = user.locator(".signal", has_text="3000.25").first
    expect(card).to_be_visible(timeout=2000)
    expect(card).to_have_class("signal fresh")
    card.locator(".take").click()
    expect(card.locator(".take")).to_have_text("Taken ✓")
    card.locator(".journal-open").click()
    card.locator("textarea[name=notes]").fill("in at 3001, half size")
    card.locator(".journal-form button").click()
    expect(card.locator(".notes")).to_contain_text("in at 3001, half size")
    user.reload()
    card = user.locator(".signal", has_text="3000.25").first
    expect(card.locator(".take")).to_have_text("Taken ✓")
    expect(card.locator(".notes")).to_contain_text("in at 3001, half size")
    expect(user.locator("#conn")).to_have_class("conn live", timeout=10000)
    expect(user.locator("[data-my=taken]")).to_have_text("1")
    user.goto("/journal")
    expect(user.locator("#entries tbody tr", has_text="in at 3001, half size")).to_have_count(1)
    expect(admin.locator("[data-stat=connected_users]")).not_to_have_text("–")
    admin_ctx.close()
    user_ctx.close()


def test_invalid_form_shows_field_error_and_stores_nothing(browser, stack, accounts, owner):
    ctx, admin = open_as(browser, stack.url, accounts["admin"])
    before = count(owner, "signals")
    fill_signal(admin, "3000", "3100", "3300")
    expect(admin.locator('.error[data-for="stop_loss"]')).to_contain_text("stop_loss < entry_price")
    expect(admin.locator("input[name=stop_loss]")).to_have_attribute("aria-invalid", "true")
    fill_signal(admin, "-1", "2900", "abc")
    expect(admin.locator('.error[data-for="entry_price"]')).not_to_be_empty()
    expect(admin.locator('.error[data-for="take_profit"]')).not_to_be_empty()
    assert count(owner, "signals") == before
    ctx.close()


def test_offline_user_gets_every_missed_signal_once(browser, stack, hub, accounts):
    ctx, user = open_as(browser, stack.url, accounts["trader"])
    ctx.set_offline(True)
    missed = [hub.post("low") for _ in range(5)] + [hub.post("medium") for _ in range(5)]
    hub.post("high")  # not for this tier
    user.wait_for_timeout(1000)
    ctx.set_offline(False)
    for sid in missed:
        expect(user.locator(f'.signal[data-id="{sid}"]')).to_have_count(1, timeout=15000)
    ids = user.eval_on_selector_all(".signal", "cards => cards.map(c => c.dataset.id)")
    assert len(ids) == len(set(ids))
    assert all(hub.posted[sid][0] in ("low", "medium") for sid in ids if sid in hub.posted)
    ctx.close()


def test_screenshots(browser, stack, hub, accounts):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for _ in range(4):
        hub.post("medium")
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for who in ("admin", "trader"):
            ctx, page = open_as(browser, stack.url, accounts[who], viewport)
            page.wait_for_timeout(1200)
            page.screenshot(path=ARTIFACTS / f"{who}-{name}.png")
            ctx.close()
    assert (ARTIFACTS / "trader-phone.png").stat().st_size > 10_000


def test_admin_changes_a_users_tier_and_their_open_dashboard_follows(browser, stack, accounts, owner):
    trader = accounts["trader"]
    admin_ctx, admin = open_as(browser, stack.url, accounts["admin"])
    user_ctx, user = open_as(browser, stack.url, trader)
    expect(user.locator("#who")).to_contain_text("medium")
    admin.fill("#user-filters input[name=email]", trader["email"])
    admin.click("#user-filters button[type=submit]")
    row = admin.locator(f'#user-table tr[data-id="{trader["id"]}"]')
    expect(row).to_have_count(1)
    row.locator("select[name=risk_tier]").select_option("high")
    expect(admin.locator("#toast")).to_contain_text("risk_tier high")
    expect(user.locator("#who")).to_contain_text("high", timeout=10000)  # reloaded with the new tier
    expect(user.locator("#conn")).to_have_class("conn live", timeout=10000)
    with owner.cursor() as cur:
        cur.execute("SELECT risk_tier FROM users WHERE id = %s", (trader["id"],))
        assert cur.fetchone()[0] == "high"
    admin_ctx.close()
    user_ctx.close()


def test_dashboard_renews_its_token_on_the_open_socket_before_it_expires(browser, stack, hub, make_user):
    from journal.embedded import free_port

    short = stack.start_web("web-short-page", free_port(), {"JWT_ACCESS_TOKEN_SECONDS": "3"})
    try:
        ctx, page = open_as(browser, short, make_user("user", "low"))
        page.evaluate(
            """() => { window.connStates = [];
                new MutationObserver(() => window.connStates.push(document.getElementById("conn").className))
                  .observe(document.getElementById("conn"), { attributes: true }); }"""
        )
        page.wait_for_timeout(8000)  # more than two token lifetimes
        sid = hub.post("low")
        expect(page.locator(f'.signal[data-id="{sid}"]')).to_have_count(1, timeout=10000)
        assert page.evaluate("window.connStates") == []  # never dropped: renewed over the socket
        ctx.close()
    finally:
        stack.kill("web-short-page")


def test_admin_form_retry_after_a_lost_answer_stores_one_signal(browser, stack, accounts, owner):
    ctx, admin = open_as(browser, stack.url, accounts["admin"])
    lost = []

    def lose_first_answer(route):
        if not lost:
            lost.append(route.fetch())  # the server stores the signal; the answer never arrives
            route.abort()
        else:
            route.continue_()

    admin.route("**/api/admin/signals", lose_first_answer)
    fill_signal(admin, "3111.75", "3000", "3300", "lost answer")
    expect(admin.locator("#form-error")).to_contain_text("Network error")
    admin.click("#signal-form button[type=submit]")  # the admin tries again
    expect(admin.locator("#toast")).to_contain_text("Posted ETHUSDT buy")
    assert lost and lost[0].status == 201
    with owner.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM signals WHERE entry_price = 3111.75 "
            "AND payload->>'analysis' = 'lost answer'"
        )
        assert cur.fetchone()[0] == 1
    ctx.close()


def test_trader_creates_uses_and_revokes_an_api_key_from_the_dashboard(browser, stack, accounts):
    import requests

    ctx, page = open_as(browser, stack.url, accounts["trader"])
    expect(page.locator("#quota")).to_contain_text("API-key requests")
    page.fill("#key-form input[name=name]", "spreadsheet")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#new-key code")).to_contain_text("jk_", timeout=10000)
    key = page.locator("#new-key code").inner_text()
    auth = {"Authorization": f"ApiKey {key}"}
    assert requests.get(stack.url + "/api/user/signals", headers=auth).status_code == 200
    page.locator("#keys li", has_text="spreadsheet").locator(".revoke").click()
    expect(page.locator("#keys li", has_text="spreadsheet")).to_contain_text("revoked")
    assert requests.get(stack.url + "/api/user/signals", headers=auth).status_code == 401
    ctx.close()
