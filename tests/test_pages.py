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
