"""`journal migrate`: every file once, in order; running it again changes nothing."""

from journal.migrate import MIGRATIONS, migrate


def test_migrations_recorded_and_idempotent(services, owner):
    assert migrate(services["DATABASE_URL"]) == []
    with owner.cursor() as cur:
        cur.execute("SELECT name FROM schema_migrations ORDER BY name")
        names = [row[0] for row in cur.fetchall()]
    assert names == sorted(path.name for path in MIGRATIONS.glob("*.sql"))
    assert names[:3] == [
        "001_create_signals_tables.sql",
        "002_add_user_risk_tier.sql",
        "003_create_db_roles.sql",
    ]


def test_tier_map_lives_in_the_database(owner):
    with owner.cursor() as cur:
        cur.execute("SELECT user_tier, signal_tier FROM signal_risk_map")
        pairs = set(cur.fetchall())
    assert pairs == {
        ("high", "low"),
        ("high", "medium"),
        ("high", "high"),
        ("medium", "low"),
        ("medium", "medium"),
        ("low", "low"),
    }
