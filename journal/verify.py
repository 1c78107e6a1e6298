"""Consistency checks for operators: the audit chain, the roll-up, the outbox, and the roles' limits."""

from sqlalchemy import text

from journal.config import ROLES
from journal.domain import OUTCOME_COLUMNS
from journal.extensions import db

AUDIT = text(
    "SELECT count(*) FILTER (WHERE hash <> encode(sha256(convert_to(concat_ws('|', prev_hash, actor_id, "
    "action, entity, entity_id, detail::text, created_at::text), 'UTF8')), 'hex')) AS bad_hashes, "
    "count(*) FILTER (WHERE prev_hash = '') AS roots, count(*) - count(DISTINCT prev_hash) AS forks "
    "FROM audit_log"
)
ROLLUP = text(
    "SELECT (SELECT coalesce(sum(total), 0) FROM signal_stats) AS rollup_total, "
    "(SELECT coalesce(sum(total), 0) FROM signal_totals) AS totals_total, "
    "(SELECT count(*) FROM outbox WHERE kind = 'signal' AND seq IS NOT NULL) AS sequenced"
)
# Each outcome column of the roll-up against a recount of the signals (the trigger counts every outcome).
OUTCOME_ROLLUP = text(
    "SELECT * FROM (SELECT "  # nosec B608
    + ", ".join(f"coalesce(sum({name}), 0) AS {name}" for name in OUTCOME_COLUMNS)
    + " FROM signal_stats) AS rollup, (SELECT "  # nosec B608
    + ", ".join(f"count(*) FILTER (WHERE outcome = '{v}') AS {n}_stored" for n, v in OUTCOME_COLUMNS.items())
    + " FROM signals) AS recount"
)
# Events waiting over a minute to be sequenced or published, and events set aside.
OUTBOX = text(
    "SELECT (SELECT count(*) FROM outbox WHERE seq IS NULL AND failed_at IS NULL "
    "AND created_at < now() - interval '1 minute') + (SELECT count(*) FROM outbox "
    "WHERE seq > (SELECT emitted_upto FROM relay_state) AND sequenced_at < now() - interval '1 minute') "
    "AS stuck, (SELECT array_agg(id ORDER BY id) FROM outbox WHERE failed_at IS NOT NULL) AS set_aside"
)
# Months of partitions made ahead of this one (beat keeps three; an insert past the last one fails).
PARTITIONS_AHEAD = text(
    "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'public.signals'::regclass "
    "AND c.relname > 'signals_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')"
)
MIN_PARTITIONS_AHEAD = 2
UNCHAINED = text(
    "SELECT count(*) FROM audit_log WHERE chain_pos IS NULL AND created_at < now() - interval '1 minute'"
)
# Events whose tier or kind does not match their signal (migration 010 refuses new ones).
FORGED_EVENTS = text(
    "SELECT array_agg(o.id ORDER BY o.id) FROM outbox o "
    "JOIN signals s ON s.id = o.signal_pk AND s.created_at = o.signal_created_at "
    "WHERE o.signal_tier <> s.risk_tier OR (o.kind = 'outcome' AND s.outcome IS NULL)"
)


APP_ROLES = [user for user, _ in ROLES.values()]
# Columns no application role may set when it inserts a signal (the relay and outcomes set them later).
# (They insert the id, which their signal's key row took; the database stamps created_at.)
SIGNAL_COLUMNS_NOT_INSERTED = (
    "signal_id",
    "status",
    "outcome",
    "outcome_price",
    "outcome_at",
    "created_at",
)
# In every schema but the system's own: a definer function anywhere runs as its owner.
DEFINERS_WITHOUT_PG_TEMP_LAST = text(
    "SELECT format('%I.%I', n.nspname, p.proname) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prosecdef AND NOT EXISTS ("
    "  SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c ~ '^search_path=.*pg_temp\\s*$') "
    "ORDER BY 1"
)
ROLE_EXCESS = text(
    "SELECT r.rolname, 'is superuser or may create roles/databases or bypass RLS' FROM pg_roles r "
    "WHERE r.rolname = ANY(:roles) AND (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls) "
    "UNION ALL SELECT r, 'may create temporary objects' FROM unnest(CAST(:roles AS text[])) r "
    "WHERE has_database_privilege(r, current_database(), 'TEMP') "
    "UNION ALL SELECT r, 'may create objects in the database or schema public' "
    "FROM unnest(CAST(:roles AS text[])) r "
    "WHERE has_database_privilege(r, current_database(), 'CREATE') "
    "OR has_schema_privilege(r, 'public', 'CREATE') "
    "UNION ALL SELECT r, format('may %s %s', p, c.relname) FROM unnest(CAST(:roles AS text[])) r "
    "CROSS JOIN (VALUES ('DELETE'), ('TRUNCATE')) v(p) JOIN pg_class c ON c.relkind IN ('r', 'p') "
    "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
    "WHERE has_table_privilege(r, c.oid, p) "
    "UNION ALL SELECT r, format('may insert signals.%s', col) FROM unnest(CAST(:roles AS text[])) r "
    "CROSS JOIN unnest(CAST(:columns AS text[])) col "
    "WHERE has_column_privilege(r, 'public.signals', col, 'INSERT') "
    "UNION ALL SELECT r, format('may insert signal_keys.%s', col) FROM unnest(CAST(:roles AS text[])) r "
    "CROSS JOIN (VALUES ('signal_pk'), ('signal_created_at')) AS k(col) "
    "WHERE has_column_privilege(r, 'public.signal_keys', col, 'INSERT') "
    # has_any_column_privilege: a column-level grant (GRANT INSERT (role) ON users) counts too
    "UNION ALL SELECT 'trading_app_user', 'may create or change users' "
    "WHERE has_any_column_privilege('trading_app_user', 'public.users', 'INSERT') "
    "OR has_any_column_privilege('trading_app_user', 'public.users', 'UPDATE') "
    "UNION ALL SELECT r, 'may read users.password_hash (only the web role checks passwords)' "
    "FROM unnest(CAST(:roles AS text[])) r WHERE r <> 'trading_app_user' "
    "AND has_column_privilege(r, 'public.users', 'password_hash', 'SELECT') "
    # a member of another role has its rights: the owner's, a superuser's, another application role's
    "UNION ALL SELECT r, format('is a member of %s%s', m.rolname, CASE WHEN m.rolsuper THEN ' (a superuser)' "
    "WHEN m.oid = d.datdba THEN ' (the owner)' ELSE '' END) FROM unnest(CAST(:roles AS text[])) r "
    "JOIN pg_roles m ON m.rolname <> r AND pg_has_role(r, m.oid, 'MEMBER') "
    "JOIN pg_database d ON d.datname = current_database() "
    "ORDER BY 1, 2"
)
OUTBOX_GUARDED = text(
    "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.outbox'::regclass "
    "AND tgname = 'outbox_events_of_signals' AND tgenabled <> 'D')"
)


def privilege_problems() -> list[str]:
    """Definer functions that search pg_temp before public, and grants beyond the roles' limits."""
    problems = [
        f"function {name}() is SECURITY DEFINER without pg_temp last in its search_path"
        for (name,) in db.session.execute(DEFINERS_WITHOUT_PG_TEMP_LAST)
    ]
    rows = db.session.execute(ROLE_EXCESS, {"roles": APP_ROLES, "columns": list(SIGNAL_COLUMNS_NOT_INSERTED)})
    problems += [f"role {role} {what}" for role, what in rows]
    if not db.session.scalar(OUTBOX_GUARDED):
        problems.append("outbox has no enabled trigger outbox_events_of_signals (events could be forged)")
    return problems


def verify() -> list[str]:
    """Problems found (empty when everything agrees)."""
    problems = []
    audit = db.session.execute(AUDIT).mappings().one()
    if audit["bad_hashes"]:
        problems.append(f"audit_log: {audit['bad_hashes']} rows whose hash does not match their content")
    if audit["roots"] > 1 or audit["forks"]:
        problems.append(f"audit_log: the chain splits ({audit['roots']} roots, {audit['forks']} forks)")
    rollup = db.session.execute(ROLLUP).mappings().one()
    if rollup["rollup_total"] != rollup["sequenced"]:
        problems.append(f"signal_stats: total {rollup['rollup_total']} != {rollup['sequenced']} sequenced")
    if rollup["totals_total"] != rollup["sequenced"]:
        problems.append(f"signal_totals: total {rollup['totals_total']} != {rollup['sequenced']} sequenced")
    outcomes = db.session.execute(OUTCOME_ROLLUP).mappings().one()
    for name in OUTCOME_COLUMNS:
        if outcomes[name] != outcomes[f"{name}_stored"]:
            problems.append(f"signal_stats: {name} {outcomes[name]} != {outcomes[f'{name}_stored']} stored")
    outbox = db.session.execute(OUTBOX).one()
    if outbox.stuck:
        problems.append(f"outbox: {outbox.stuck} events not published after a minute (is the relay running?)")
    if outbox.set_aside:
        problems.append(f"outbox: events set aside because they cannot be encoded: {outbox.set_aside[:20]}")
    forged = db.session.scalar(FORGED_EVENTS)
    if forged:
        problems.append(f"outbox: events whose tier or kind does not match their signal: {forged[:20]}")
    ahead = db.session.scalar(PARTITIONS_AHEAD)
    if ahead < MIN_PARTITIONS_AHEAD:
        problems.append(f"signals: only {ahead} monthly partitions ahead (is beat running?)")
    unchained = db.session.scalar(UNCHAINED)
    if unchained:
        problems.append(f"audit_log: {unchained} rows not chained after a minute (is a worker running?)")
    return problems + privilege_problems()
