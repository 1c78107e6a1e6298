"""`python -m bench` (make bench): every benchmark suite in one command, results to docs and bench/results/.

Suites: fanout (the hub's web process beside socket.io on Node, interleaved), delivery (commit ->
client latency through the whole stack), intake (signals posted over HTTP) and loginflood (delivery
while one address floods the log-in route, beside the same run quiet). `--quick` runs small
versions of them for development and leaves the documents alone.
"""

import argparse
import signal
import sys

from bench import delivery, fanout, intake, loginflood, report
from bench.environment import open_environment
from bench.node import DEFAULT_WINDOW, node

SUITES = ("fanout", "delivery", "intake", "loginflood")
FULL = {
    "runs": 3,
    "seconds": 30.0,
    "scenario": ["1000x20", "10000x2"],
    "burst": 200_000,
    "delivery_sockets": 1000,
    "delivery_rate": 10.0,
    "intake_concurrency": 8,
    "intake_seconds": 15.0,
}
QUICK = {
    "runs": 1,
    "seconds": 5.0,
    "scenario": ["300x20", "2000x2"],
    "burst": 20_000,
    "delivery_sockets": 200,
    "delivery_rate": 10.0,
    "intake_concurrency": 4,
    "intake_seconds": 5.0,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", choices=SUITES, action="append", help="run only this suite (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small and short; writes JSON only")
    parser.add_argument("--no-docs", action="store_true", help="write JSON only, even for a full run")
    parser.add_argument("--runs", type=int, help="fanout: interleaved runs per scenario (3)")
    parser.add_argument("--seconds", type=float, help="fanout and delivery: steady phase length (30)")
    parser.add_argument(
        "--scenario", action="append", metavar="SOCKETSxRATE", help="fanout: e.g. 1000x20 (repeatable)"
    )
    parser.add_argument("--burst", type=int, help="fanout: about this many deliveries per burst (200000)")
    parser.add_argument("--client-procs", type=int, default=1, help="client harness processes (1)")
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help="handshakes in flight per harness process (50)"
    )
    parser.add_argument("--delivery-sockets", type=int, help="delivery: sockets (1000)")
    parser.add_argument("--delivery-rate", type=float, help="delivery: signals posted per second (10)")
    parser.add_argument("--intake-concurrency", type=int, help="intake: concurrent posters (8)")
    parser.add_argument("--intake-seconds", type=float, help="intake: seconds (15)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.suite = args.suite or list(SUITES)
    args.write_docs = not (args.quick or args.no_docs)
    return args


def scenarios(specs: list[str]) -> list[fanout.Scenario]:
    parsed = []
    for spec in specs:
        sockets, _, rate = spec.partition("x")
        parsed.append(fanout.Scenario(int(sockets), float(rate)))
    return parsed


def run_fanout(env, args: argparse.Namespace) -> None:
    settings = fanout.Settings(args.runs, args.seconds, args.burst, args.client_procs, args.window)
    result = fanout.run(env, scenarios(args.scenario), settings)
    print(f"fanout: {report.save_json('fanout', result)}")
    table, conditions = report.fanout_table(result), report.fanout_conditions(result)
    print(table + "\n\n" + conditions)
    if args.write_docs:
        report.replace_between(report.BENCHMARKS, "fanout", table)
        report.replace_between(report.BENCHMARKS, "fanout-runs", conditions)
        report.replace_between(report.README, "fanout", table)


def run_stack_suites(env, args: argparse.Namespace) -> None:
    options = {
        "sockets": args.delivery_sockets,
        "rate": args.delivery_rate,
        "seconds": args.seconds,
        "client_procs": args.client_procs,
    }
    with delivery.full_stack(env, args.delivery_sockets) as (url, web):
        if "delivery" in args.suite:
            result = delivery.measure(env, url, web, options)
            print(f"delivery: {report.save_json('delivery', result)}\n{delivery.row(result)}")
            if args.write_docs:
                report.add_row(report.BENCHMARKS, "<!-- delivery rows -->", delivery.row(result))
        if "intake" in args.suite:
            result = intake.measure(url, env.admin_token(), args.intake_concurrency, args.intake_seconds)
            print(f"intake: {report.save_json('intake', result)}\n{intake.row(result)}")
            if args.write_docs:
                report.add_row(report.BENCHMARKS, "<!-- intake rows -->", intake.row(result))
    if "loginflood" in args.suite:  # a web process of its own, with the rate limits on
        with delivery.full_stack(env, args.delivery_sockets, rate_limits=True) as (url, web):
            result = loginflood.measure(
                env, url, web, {**options, "sockets": min(args.delivery_sockets, 300)}
            )
            print(f"loginflood: {report.save_json('loginflood', result)}\n{loginflood.row(result)}")
            if args.write_docs:
                report.add_row(report.BENCHMARKS, "<!-- loginflood rows -->", loginflood.row(result))


def main() -> None:
    args = parse_args()
    # On SIGTERM, unwind: the finally blocks stop the servers and atexit stops PostgreSQL and Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    node()  # fail before any server starts if `make bench` has not installed the Node packages
    most = max([s.sockets for s in scenarios(args.scenario)] + [args.delivery_sockets])
    env = open_environment(most)
    if "fanout" in args.suite:
        run_fanout(env, args)
    if {"delivery", "intake", "loginflood"} & set(args.suite):
        run_stack_suites(env, args)


if __name__ == "__main__":
    main()
