"""The incremental outcome checker as the worker role (old and newer signals on one symbol, lost
progress, NOT_FILLED in the roll-up), the last-price endpoint, and the bounded OHLC cache."""

import math
import time
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from journal.domain import LOSS, NOT_FILLED, WIN
from journal.engine.evaluate import Levels, Outcome, evaluate
from journal.engine.market import Candle, as_decimal

OLD_WINDOW = 5000  # candles the checker used to read per symbol, from the oldest active signal


@pytest.fixture
def market(worker_app):
    """The simulated market the worker reads (the same seed and speed)."""
    from journal.engine.market import provider

    with worker_app.app_context():
        return provider()


def history(market, symbol: str, candles_ago: int) -> list[Candle]:
    """The closed 1m candles from `candles_ago` candles before the forming one up to now."""
    length = 60 / market.scale
    first = math.floor(time.time() / length) - candles_ago
    return market.candles(symbol, "1m", (first - 0.5) * length, candles_ago)


def stored_levels(side: str, entry: float, stop: float, target: float, created: float, expires: float):
    """Levels as the database keeps them (10 significant digits, microseconds)."""
    prices = [float(as_decimal(p)) for p in (entry, stop, target)]
    return Levels(side, *prices, round(created, 3), round(expires, 3))


def insert_signal(owner, relay, symbol: str, levels: Levels, strategy: str) -> int:
    """A signal stored by the owner with a past created_at, as an old signal would be, with its
    outbox row, then sequenced by the relay like every real signal."""
    with owner.cursor() as cur:
        cur.execute(
            "INSERT INTO signals (symbol, side, entry_price, stop_loss, take_profit, risk_tier, source, "
            "strategy, created_at, expires_at, dedup_key) "
            "VALUES (%s, %s, %s, %s, %s, 'high', 'engine', %s, %s, %s, %s) RETURNING id",
            (
                symbol,
                levels.side,
                as_decimal(levels.entry),
                as_decimal(levels.stop),
                as_decimal(levels.target),
                strategy,
                datetime.fromtimestamp(levels.created, UTC),
                datetime.fromtimestamp(levels.expires, UTC),
                f"test:{uuid.uuid4()}",
            ),
        )
        pk = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO outbox (signal_pk, signal_created_at, kind, signal_tier) "
            "SELECT id, created_at, 'signal', risk_tier FROM signals "
            "WHERE id = %s",
            (pk,),
        )
    relay()
    return pk


def stored_outcome(owner, pk: int) -> tuple | None:
    """(outcome, price, at) as recorded; `at` rounded to the millisecond."""
    with owner.cursor() as cur:
        cur.execute("SELECT outcome, outcome_price, outcome_at FROM signals WHERE id = %s", (pk,))
        result, price, at = cur.fetchone()
    return (result, price, round(at.timestamp(), 3)) if result else None


def as_stored(outcome: Outcome) -> tuple:
    price = as_decimal(outcome.price) if outcome.price is not None else None
    return outcome.result, price, round(outcome.at, 3)


def check_until(worker_app, owner, pks: list[int], passes: int = 10, **kwargs) -> None:
    """Run check passes as the worker role until every signal has an outcome."""
    from journal.engine.outcomes import check_active

    for _ in range(passes):
        with worker_app.app_context():
            check_active(**kwargs)
        if all(stored_outcome(owner, pk) for pk in pks):
            return


def wide_levels(candles: list[Candle], side_candles: int, expiry_candles: int) -> Levels:
    """A market buy at the creation candle's close whose stop and target lie outside the range of
    the next `side_candles` candles, so nothing decides it before then."""
    opening, after = candles[0], candles[1 : side_candles + 1]
    created = opening.ts + opening.seconds / 2
    return stored_levels(
        "buy",
        opening.close,
        min(c.low for c in after) * 0.999,
        max(c.high for c in after) * 1.001,
        created,
        created + expiry_candles * opening.seconds,
    )


def limit_levels(candles: list[Candle]) -> tuple[Levels, Outcome]:
    """A limit entry just outside the creation candle that a later candle fills, then WIN or LOSS."""
    opening = candles[0]
    created = opening.ts + opening.seconds / 2
    for width in (0.002, 0.004, 0.008, 0.016):
        for side, entry in (("buy", opening.low * 0.9998), ("sell", opening.high * 1.0002)):
            sign = -1 if side == "buy" else 1
            stop, target = entry * (1 + sign * width), entry * (1 - sign * width)
            levels = stored_levels(side, entry, stop, target, created, created + 3000 * opening.seconds)
            expected = evaluate(levels, candles, now=time.time())
            if expected and expected.result in (WIN, LOSS) and expected.fill_price is not None:
                return levels, expected
    raise AssertionError("no limit entry on this stretch of the market got filled and settled")


def test_old_signal_does_not_starve_a_newer_one_on_the_same_symbol(worker_app, owner, market, relay):
    symbol = "LINKUSDT"
    candles = history(market, symbol, 7000)
    old = wide_levels(candles, 5200, 6000)
    old_expected = evaluate(old, candles, now=time.time())
    assert old_expected.at > old.created + OLD_WINDOW * candles[0].seconds  # past the old window
    newer, newer_expected = limit_levels(history(market, symbol, 300))
    old_pk = insert_signal(owner, relay, symbol, old, f"old-{uuid.uuid4().hex[:8]}")
    newer_pk = insert_signal(owner, relay, symbol, newer, f"newer-{uuid.uuid4().hex[:8]}")
    # Passes too small for the old one's 7,000 candles settle the newer one while the old one is
    # still catching up (the newer one is served first in every pass).
    check_until(worker_app, owner, [newer_pk], passes=30, budget=1500)
    assert stored_outcome(owner, newer_pk) == as_stored(newer_expected)
    assert stored_outcome(owner, old_pk) is None
    check_until(worker_app, owner, [old_pk], passes=30)
    assert stored_outcome(owner, old_pk) == as_stored(old_expected)


def test_lost_progress_is_rebuilt_and_the_outcome_recorded_once(worker_app, owner, market, services, relay):
    import redis

    from journal.engine.progress import PROGRESS_KEY

    cache = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    candles = history(market, "DOTUSDT", 3000)
    levels = wide_levels(candles, 2100, 2500)
    expected = evaluate(levels, candles, now=time.time())
    strategy = f"lost-{uuid.uuid4().hex[:8]}"
    pk = insert_signal(owner, relay, "DOTUSDT", levels, strategy)
    for _ in range(30):  # passes of 2,000 candles cannot decide it (it decides after 2,100)
        check_until(worker_app, owner, [pk], passes=1, budget=2000)
        if cache.hexists(PROGRESS_KEY, pk):
            break
    assert cache.hexists(PROGRESS_KEY, pk) and stored_outcome(owner, pk) is None
    cache.delete(PROGRESS_KEY)
    check_until(worker_app, owner, [pk])
    assert stored_outcome(owner, pk) == as_stored(expected)
    assert not cache.hexists(PROGRESS_KEY, pk)  # forgotten once settled
    cache.delete(PROGRESS_KEY)
    check_until(worker_app, owner, [pk], passes=1)
    with owner.cursor() as cur:
        cur.execute(
            "SELECT wins + losses + expired + ambiguous + data_gap + not_filled FROM signal_stats "
            "WHERE strategy = %s",
            (strategy,),
        )
        assert cur.fetchall() == [(1,)]


def test_never_filled_signal_counts_as_not_filled_and_verify_agrees(
    worker_app, owner, market, client, bearer, relay, services
):
    import redis

    from journal import stats
    from journal.cli import main

    candles = history(market, "ADAUSDT", 500)
    floor = min(c.low for c in candles)
    created = candles[0].ts + candles[0].seconds / 2
    # The inflated-win-rate attack: a buy far below a market that trades above entry and target.
    levels = stored_levels(
        "buy", floor * 0.9, floor * 0.85, floor * 0.95, created, created + 400 * 60 / market.scale
    )
    strategy = f"unfilled-{uuid.uuid4().hex[:8]}"
    pk = insert_signal(owner, relay, "ADAUSDT", levels, strategy)
    check_until(worker_app, owner, [pk])
    assert stored_outcome(owner, pk) == (NOT_FILLED, None, levels.expires)
    cache = redis.Redis.from_url(services["REDIS_URL"])
    cache.delete(stats.CACHE_KEY)  # the summary as of now, not a second old
    with owner.cursor() as cur:
        cur.execute("SELECT sum(not_filled), sum(wins) FROM signal_stats WHERE strategy = %s", (strategy,))
        assert cur.fetchone() == (1, 0)
        cur.execute(
            "SELECT (SELECT sum(not_filled) FROM signal_stats), "
            "(SELECT count(*) FROM signals WHERE outcome = 'NOT_FILLED')"
        )
        rollup, recount = cur.fetchone()
    assert rollup == recount >= 1
    stats = client.get("/api/hub/stats", headers=bearer("user", "high")).json
    assert stats["not_filled"] == recount
    assert stats["by_strategy"][strategy] == {
        **stats["by_strategy"][strategy],
        "not_filled": 1,
        "wins": 0,
        "win_rate": None,
    }
    relay()
    result = CliRunner().invoke(main, ["verify"])
    assert result.exit_code == 0, result.output


def test_last_price_for_a_known_symbol_only_to_a_logged_in_user(client, bearer):
    headers = bearer("user", "low")
    answer = client.get("/api/market/BTCUSDT/last", headers=headers)
    assert answer.status_code == 200
    body = answer.json
    assert body["symbol"] == "BTCUSDT" and float(body["price"]) > 0
    assert abs(datetime.fromisoformat(body["at"]).timestamp() - time.time()) < 60
    assert client.get("/api/market/NOPEUSDT/last", headers=headers).status_code == 404
    assert client.get("/api/market/BTCUSDT/last").status_code == 401


def test_ohlc_cache_stays_bounded_after_many_fetches(worker_app, services):
    import redis

    from journal.engine.market.cache import CACHE_CANDLES, CachedProvider
    from journal.engine.market.simulated import SimulatedProvider

    cache = redis.Redis.from_url(services["REDIS_URL"])
    inner = SimulatedProvider(11, 60)
    symbol, length = "CACHETEST", 1.0  # scale 60: a "1m" candle lasts a second
    key = f"ohlc:{symbol}:1m"
    cache.delete(key)
    first = math.floor(time.time() / length) - 12_000
    with worker_app.app_context():
        cached = CachedProvider(inner)
        for k in range(11):  # a signal catching up window by window: the run grows at its newest end
            start = (first + k * 1000) * length
            assert cached.candles(symbol, "1m", start, 1000) == inner.candles(symbol, "1m", start, 1000)
            assert cache.zcard(key) <= CACHE_CANDLES
        assert cache.zcard(key) == CACHE_CANDLES and cache.ttl(key) > 0
        old = first * length  # trimmed away: read from the provider again, not kept
        assert cached.candles(symbol, "1m", old, 500) == inner.candles(symbol, "1m", old, 500)
        latest = cached.candles(symbol, "1m", None, 100)
        assert latest[-1].end > time.time() - 5 and len(latest) == 100
        assert cache.zcard(key) <= CACHE_CANDLES
    cache.delete(key)


def test_admin_form_shows_the_chosen_symbols_last_price_beside_the_entry(stack, make_user):
    from playwright.sync_api import expect, sync_playwright

    from tests.test_pages import CHROMIUM, FLAGS, open_as

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context, page = open_as(browser, stack.url, make_user("admin", "high"))
            label = page.locator("#last-price")
            prices = {}
            for symbol in ("ETHUSDT", "BTCUSDT"):
                page.select_option("#symbol", symbol)
                expect(label).to_have_attribute("data-symbol", symbol, timeout=10000)
                prices[symbol] = float(label.get_attribute("data-price"))
            assert prices["BTCUSDT"] > 5 * prices["ETHUSDT"] > 0  # it follows the chosen symbol
            label.click()
            expect(page.locator("input[name=entry_price]")).to_have_value(label.get_attribute("data-price"))
            context.close()
        finally:
            browser.close()
