"""`python -m bench` (make bench): run the benchmarks and write docs/BENCHMARKS.md."""

import argparse

from bench import delivery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="signals per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--intake-concurrency", type=int, default=8, help="0 skips the intake run")
    parser.add_argument("--intake-seconds", type=float, default=15.0)
    args = parser.parse_args()
    intake = (args.intake_concurrency, args.intake_seconds) if args.intake_concurrency else None
    delivery.run(args.clients, args.rate, args.seconds, intake)


if __name__ == "__main__":
    main()
