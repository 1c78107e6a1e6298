"""The roll-ups statistics are read from (migration 013) against a recount of the stored log.

Named after what they stop: a take racing its signal's outcome counted twice or not at all, a
roll-up without days drifting from the one with them, a tier's "received" drifting from the log.
"""

import threading
from datetime import UTC, datetime

from journal.devstack import signal_body
from journal.engine.evaluate import Outcome
from journal.engine.outcomes import record_outcome
from tests.conftest import assert_refused

RECOUNT = (
    "SELECT count(*) FILTER (WHERE us.taken_at IS NOT NULL) AS taken, count(us.notes) AS journaled, "
    "count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = 'WIN') AS wins, "
    "count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome = 'LOSS') AS losses, "
    "count(*) FILTER (WHERE us.taken_at IS NOT NULL AND s.outcome IS NULL) AS open "
    "FROM user_signals us JOIN signals s ON s.id = us.signal_pk AND s.created_at = us.signal_created_at "
    "WHERE us.user_id = %s"
)


def test_takes_racing_their_signals_outcomes_are_each_counted_once(
    app, client, bearer, login, make_user, worker_app, owner
):
    admin = bearer("admin", "high")
    posted = client.post(
        "/api/admin/signals/batch", json={"signals": [signal_body() for _ in range(24)]}, headers=admin
    )
    signals = [r["signal"] for r in posted.json["results"]]
    user = make_user("user", "low")
    headers = {"Authorization": f"Bearer {login(user)['access_token']}"}
    with owner.cursor() as cur:
        cur.execute(
            "SELECT signal_id::text, id, created_at FROM signals WHERE signal_id = ANY(%s::uuid[])",
            ([s["id"] for s in signals],),
        )
        keys = {sid: (pk, created) for sid, pk, created in cur.fetchall()}
    settle_first = signals[:6]  # settled before anyone takes them
    race = signals[6:18]  # taken while they settle
    later = signals[18:]  # taken, settled afterwards or never

    def settle(signal: dict, result: str) -> None:
        pk, created = keys[signal["id"]]
        with worker_app.app_context():
            from journal.extensions import db

            outcome = Outcome(result, 1.0, datetime.now(UTC).timestamp(), 1.0)
            record_outcome(db.engine, pk, created, outcome)

    def take(signal: dict) -> None:  # a client of its own per thread, as separate browsers are
        taken = app.test_client().post(f"/api/user/signals/{signal['id']}/taken", headers=headers)
        assert taken.status_code == 200

    for n, signal in enumerate(settle_first):
        settle(signal, "WIN" if n % 2 else "LOSS")
    threads = [threading.Thread(target=take, args=(s,)) for s in settle_first + race]
    threads += [threading.Thread(target=settle, args=(s, "WIN")) for s in race]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for signal in later:
        take(signal)
        take(signal)  # a second take is the same take
    for signal in later[:3]:
        settle(signal, "LOSS")
    note = client.post(f"/api/user/signals/{later[-1]['id']}/journal", json={"notes": "n"}, headers=headers)
    assert note.status_code == 200
    stats = client.get("/api/user/stats", headers=headers).json
    with owner.cursor() as cur:
        cur.execute(RECOUNT, (user["id"],))
        truth = dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
    assert {name: stats[name] for name in truth} == truth
    assert truth == {"taken": 24, "journaled": 1, "wins": 3 + 12, "losses": 3 + 3, "open": 3}


def test_the_rollup_without_days_and_each_tiers_received_equal_the_log(client, bearer, relay, owner):
    admin = bearer("admin", "high")
    client.post(
        "/api/admin/signals/batch",
        json={"signals": [signal_body(risk_tier=t) for t in ("low", "high") * 5]},
        headers=admin,
    )
    relay()
    with owner.cursor() as cur:
        cur.execute(
            "SELECT (SELECT array[sum(total), sum(wins), sum(losses)] FROM signal_stats), "
            "(SELECT array[sum(total), sum(wins), sum(losses)] FROM signal_totals)"
        )
        by_day, overall = cur.fetchone()
        assert by_day == overall
        cur.execute(
            "SELECT r.room, r.received, (SELECT count(*) FROM outbox o JOIN signal_risk_map m "
            "ON m.signal_tier = o.signal_tier WHERE o.kind = 'signal' AND o.seq IS NOT NULL "
            "AND 'tier:' || m.user_tier = r.room) FROM stream_rooms r"
        )
        rooms = cur.fetchall()
    assert len(rooms) == 3 and all(received == counted for _, received, counted in rooms)


def test_a_take_cleared_and_set_again_behind_the_api_is_refused_so_it_counts_once(
    services, client, bearer, login, make_user
):
    admin = bearer("admin", "high")
    signal = client.post("/api/admin/signals", json=signal_body(), headers=admin).json
    user = make_user("user", "low")
    headers = {"Authorization": f"Bearer {login(user)['access_token']}"}
    assert client.post(f"/api/user/signals/{signal['id']}/taken", headers=headers).status_code == 200
    note = client.post(f"/api/user/signals/{signal['id']}/journal", json={"notes": "n"}, headers=headers)
    assert note.status_code == 200
    mine = f"WHERE user_id = {int(user['id'])}"
    for change in ("taken_at = NULL", "taken_at = now()", "notes = NULL", "journaled_at = NULL"):
        assert_refused(services, "app", f"UPDATE user_signals SET {change} {mine}")  # nosec B608
    again = client.post(f"/api/user/signals/{signal['id']}/journal", json={"notes": "m"}, headers=headers)
    assert again.status_code == 200 and again.json["mine"]["notes"] == "m"  # the API's own edits pass
    stats = client.get("/api/user/stats", headers=headers).json
    assert stats["taken"] == 1
