"""Consistency checks for operators: the audit chain, the statistics roll-up, the outbox."""

from sqlalchemy import text

from journal.extensions import db

AUDIT = text(
    "SELECT count(*) FILTER (WHERE hash <> encode(sha256(convert_to(concat_ws('|', prev_hash, actor_id, "
    "action, entity, entity_id, detail::text, created_at::text), 'UTF8')), 'hex')) AS bad_hashes, "
    "count(*) FILTER (WHERE prev_hash = '') AS roots, count(*) - count(DISTINCT prev_hash) AS forks "
    "FROM audit_log"
)
ROLLUP = text(
    "SELECT (SELECT coalesce(sum(total), 0) FROM signal_stats) AS rollup_total, "
    "(SELECT count(*) FROM signals WHERE stream_seq IS NOT NULL) AS sequenced, "
    "(SELECT coalesce(sum(wins + losses + expired + ambiguous + data_gap), 0) FROM signal_stats) "
    "AS rollup_outcomes, (SELECT count(outcome) FROM signals) AS outcomes"
)
OUTBOX = text(
    "SELECT count(*) FROM outbox WHERE emitted_at IS NULL AND created_at < now() - interval '1 minute'"
)


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
    if rollup["rollup_outcomes"] != rollup["outcomes"]:
        problems.append(f"signal_stats: {rollup['rollup_outcomes']} outcomes != {rollup['outcomes']} stored")
    stuck = db.session.scalar(OUTBOX)
    if stuck:
        problems.append(f"outbox: {stuck} signals not emitted after a minute (is a worker running?)")
    return problems
