"""`python -m bench` (make bench): every benchmark suite in one command, results to docs and bench/results/.

Suites: fanout (the hub's web process beside socket.io on Node, interleaved), delivery (post ->
client latency through the whole stack), intake (single posts beside a bare insert route),
loginflood (delivery while one address floods the log-in route, beside the same run quiet), scaling
(fan-out with one and with two web processes, beside Node), bulk
(batches of 1,000 for a minute, beside raw COPY) and history (reads, export, catch-up and bytes per
signal at 10M stored signals). `--quick` runs small versions of them for development and leaves
the documents alone.
"""

import argparse
import signal
import sys

from bench import bulk, delivery, fanout, history, intake, loginflood, report
from bench.environment import open_environment
from bench.node import DEFAULT_WINDOW, node

SUITES = ("fanout", "scaling", "delivery", "intake", "loginflood", "bulk", "history")
FULL = {
    "runs": 3,
    "seconds": 30.0,
    "scenario": ["1000x20", "10000x2"],
    "scaling_scenario": "10000x2",
    "scaling_runs": 2,
    "burst": 200_000,
    "delivery_sockets": 1000,
    "delivery_rate": 10.0,
    "intake_seconds": 15.0,
    "bulk_seconds": 60.0,
    "history_signals": 10_000_000,
    "read_seconds": 10.0,
}
QUICK = {
    "runs": 1,
    "seconds": 5.0,
    "scenario": ["300x20", "2000x2"],
    "scaling_scenario": "2000x2",
    "scaling_runs": 1,
    "burst": 20_000,
    "delivery_sockets": 200,
    "delivery_rate": 10.0,
    "intake_seconds": 5.0,
    "bulk_seconds": 10.0,
    "history_signals": 300_000,
    "read_seconds": 3.0,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", choices=SUITES, action="append", help="run only this suite (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small and short; writes JSON only")
    parser.add_argument("--no-docs", action="store_true", help="write JSON only, even for a full run")
    parser.add_argument("--runs", type=int, help="fanout and intake: interleaved runs (3)")
    parser.add_argument("--seconds", type=float, help="fanout and delivery: steady phase length (30)")
    parser.add_argument(
        "--scenario", action="append", metavar="SOCKETSxRATE", help="fanout: e.g. 1000x20 (repeatable)"
    )
    parser.add_argument("--scaling-scenario", metavar="SOCKETSxRATE", help="scaling: e.g. 10000x2")
    parser.add_argument("--scaling-runs", type=int, help="scaling: interleaved runs (2)")
    parser.add_argument("--burst", type=int, help="fanout: about this many deliveries per burst (200000)")
    parser.add_argument("--client-procs", type=int, default=1, help="client harness processes (1)")
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help="handshakes in flight per harness process (50)"
    )
    parser.add_argument("--delivery-sockets", type=int, help="delivery: sockets (1000)")
    parser.add_argument("--delivery-rate", type=float, help="delivery: signals posted per second (10)")
    parser.add_argument("--intake-seconds", type=float, help="intake: seconds per load (15)")
    parser.add_argument("--intake-connections", type=int, default=16, help="intake: wrk connections (16)")
    parser.add_argument("--intake-rate", type=float, default=300.0, help="intake: fixed rate, posts/s (300)")
    parser.add_argument("--bulk-seconds", type=float, help="bulk: seconds of posting (60)")
    parser.add_argument("--web-processes", type=int, default=2, help="bulk: web processes (2)")
    parser.add_argument("--history-signals", type=int, help="history: signals stored (10,000,000)")
    parser.add_argument("--read-seconds", type=float, help="history: seconds per read load (10)")
    parser.add_argument("--export-rows", type=int, default=1_000_000, help="history: rows exported (1M)")
    parser.add_argument("--catchup-signals", type=int, default=10_000, help="history: signals missed (10k)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.quick:
        args.export_rows = min(args.export_rows, args.history_signals // 10)
        args.catchup_signals = min(args.catchup_signals, args.history_signals // 30)
    args.suite = args.suite or list(SUITES)
    args.write_docs = not (args.quick or args.no_docs)
    return args


def scenarios(specs: list[str]) -> list[fanout.Scenario]:
    parsed = []
    for spec in specs:
        sockets, _, rate = spec.partition("x")
        parsed.append(fanout.Scenario(int(sockets), float(rate)))
    return parsed


def publish(args: argparse.Namespace, suite: str, result: dict, text: str, marker: str | None = None) -> None:
    """Save the run's JSON, print its figures, and (a full run) put them in the documents."""
    print(f"{suite}: {report.save_json(suite, result)}\n{text}")
    if args.write_docs:
        if marker:
            report.add_row(report.BENCHMARKS, marker, text)
        else:
            report.replace_between(report.BENCHMARKS, suite, text)
            report.replace_between(report.README, suite, text)


def run_fanout(env, args: argparse.Namespace) -> None:
    settings = fanout.Settings(args.runs, args.seconds, args.burst, args.client_procs, args.window)
    result = fanout.run(env, scenarios(args.scenario), settings)
    publish(args, "fanout", result, report.fanout_table(result))
    if args.write_docs:
        report.replace_between(report.BENCHMARKS, "fanout-runs", report.fanout_conditions(result))


def run_scaling(env, args: argparse.Namespace) -> None:
    """The hub with one and two web processes (two harness processes, one per web process), and Node."""
    procs = max(2, args.client_procs)
    settings = fanout.Settings(args.scaling_runs, args.seconds, args.burst, procs, args.window)
    result = fanout.run(env, scenarios([args.scaling_scenario]), settings, web_processes=(1, 2))
    publish(args, "scaling", result, report.scaling_table(result))


def run_stack_suites(env, args: argparse.Namespace) -> None:
    options = {
        "sockets": args.delivery_sockets,
        "rate": args.delivery_rate,
        "seconds": args.seconds,
        "client_procs": args.client_procs,
    }
    if "delivery" in args.suite:
        with delivery.full_stack(env, args.delivery_sockets) as (url, web):
            result = delivery.measure(env, url, web, options)
        publish(args, "delivery", result, delivery.row(result), "<!-- delivery rows -->")
    if "loginflood" in args.suite:  # a web process of its own, with the rate limits on
        with delivery.full_stack(env, args.delivery_sockets, rate_limits=True) as (url, web):
            result = loginflood.measure(
                env, url, web, {**options, "sockets": min(args.delivery_sockets, 300)}
            )
        publish(args, "loginflood", result, loginflood.row(result), "<!-- loginflood rows -->")


def main() -> None:
    args = parse_args()
    # On SIGTERM, unwind: the finally blocks stop the servers and atexit stops PostgreSQL and Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    node()  # fail before any server starts if `make bench` has not installed the Node packages
    specs = [*args.scenario, args.scaling_scenario]
    most = max([s.sockets for s in scenarios(specs)] + [args.delivery_sockets])
    env = open_environment(most)
    if "fanout" in args.suite:
        run_fanout(env, args)
    if "scaling" in args.suite:
        run_scaling(env, args)
    if {"delivery", "loginflood"} & set(args.suite):
        run_stack_suites(env, args)
    if "intake" in args.suite:
        options = {"seconds": args.intake_seconds, "connections": args.intake_connections}
        options |= {"rate": args.intake_rate, "runs": args.runs}
        result = intake.measure(env, options)
        publish(args, "intake", result, intake.table(result))
    if "bulk" in args.suite:
        result = bulk.measure(env, {"bulk_seconds": args.bulk_seconds, "web_processes": args.web_processes})
        publish(args, "bulk", result, bulk.row(result), "<!-- bulk rows -->")
    if "history" in args.suite:  # last: it fills the database with the history
        options = {name: getattr(args, name) for name in ("history_signals", "read_seconds", "export_rows")}
        result = history.measure(env, {**options, "catchup_signals": args.catchup_signals})
        publish(args, "history", result, history.table(result))


if __name__ == "__main__":
    main()
