"""Which signals a list, an export or an integration asks for: the filters of schemas.SignalFilter
as SQL conditions (time bounds prune the monthly partitions)."""

from journal.models import Signal

EQUAL = ("symbol", "side", "risk_tier", "status", "source", "strategy")


def filter_conditions(args: dict) -> list:
    conditions = [getattr(Signal, name) == args[name] for name in EQUAL if name in args]
    if args.get("outcome") == "open":
        conditions.append(Signal.outcome.is_(None))
    elif "outcome" in args:
        conditions.append(Signal.outcome == args["outcome"])
    if "since" in args:
        conditions.append(Signal.created_at >= args["since"])
    if "until" in args:
        conditions.append(Signal.created_at < args["until"])
    return conditions
