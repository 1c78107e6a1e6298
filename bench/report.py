"""Where results go: JSON under bench/results/, tables in docs/BENCHMARKS.md and the README's Benchmarks."""

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from bench.figures import count, number, ratio

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
README = ROOT / "README.md"


def machine() -> dict:
    """What the figures were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(), "node": node}


def save_json(suite: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{suite}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"suite": suite, "machine": machine(), **data}, indent=1))
    return path


def replace_between(path: Path, name: str, text: str) -> None:
    """Put `text` between the `<!-- name:begin -->` and `<!-- name:end -->` markers of a document."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    document = path.read_text()
    head, found, rest = document.partition(begin)
    if not found or end not in rest:
        raise SystemExit(f"{path.name} has no {begin} ... {end} markers")
    path.write_text(head + begin + "\n" + text.rstrip("\n") + "\n" + end + rest.partition(end)[2])


def add_row(path: Path, marker: str, line: str) -> None:
    """A table of dated runs: the newest row goes first, under its marker."""
    document = path.read_text()
    if marker not in document:
        raise SystemExit(f"{path.name} has no {marker} marker")
    path.write_text(document.replace(marker, marker + "\n" + line, 1))


def pair(hub: float | None, node: float | None, unit: str) -> tuple[str, str, str]:
    return number(hub, unit), number(node, unit), ratio(hub, node)


def fanout_rows(scenario: dict) -> list[tuple[str, str, str, str]]:
    """(figure, hub, node, ratio) for one scenario's medians."""
    hub, node = scenario["median"]["hub"], scenario["median"]["node"]
    n, rate = scenario["scenario"]["sockets"], scenario["scenario"]["rate"]
    sockets = f"{count(n)} sockets"
    latency = [pair(hub[k], node[k], "") for k in ("p50_ms", "p95_ms", "p99_ms")]
    totals = {name: side["totals"] for name, side in (("hub", hub), ("node", node))}
    hub_connect, node_connect, connect_ratio = pair(hub["connect_s"], node["connect_s"], "s")
    return [
        (
            f"{sockets}: time to connect all",
            with_failures(hub_connect, totals["hub"]),
            with_failures(node_connect, totals["node"]),
            connect_ratio,
        ),
        (f"{sockets}: server CPU per connect", *pair(hub["connect_cpu_ms"], node["connect_cpu_ms"], "ms")),
        (f"{sockets}: RSS of the serving process after connect", *pair(hub["rss_mb"], node["rss_mb"], "MB")),
        (f"{sockets}: back-to-back burst, deliveries/s", *pair(hub["burst_per_s"], node["burst_per_s"], "")),
        (
            f"{sockets}: back-to-back burst, server CPU per delivery",
            *pair(hub["burst_cpu_us"], node["burst_cpu_us"], "µs"),
        ),
        (
            f"{sockets}, {rate:g} signals/s: steady p50 / p95 / p99",
            " / ".join(h for h, _, _ in latency) + " ms",
            " / ".join(nd for _, nd, _ in latency) + " ms",
            " / ".join(r for _, _, r in latency),
        ),
        (
            f"{sockets}, {rate:g} signals/s: server CPU per delivery",
            *pair(hub["cpu_us"], node["cpu_us"], "µs"),
        ),
        (
            f"{sockets}: delivered / expected (all runs, steady + burst)",
            delivered(totals["hub"]),
            delivered(totals["node"]),
            "",
        ),
    ]


def delivered(totals: dict) -> str:
    """What arrived of what was owed, and the sockets that disconnected meanwhile (with the client's
    reasons): the harness does not reconnect, so what a dropped socket was owed is missing."""
    cell = f"{count(totals['delivered'])} / {count(totals['expected'])}"
    if totals.get("dropped"):
        reasons = ", ".join(f"{reason}: {count(n)}" for reason, n in totals.get("drop_reasons", {}).items())
        cell += f" ({count(totals['dropped'])} sockets dropped" + (f"; {reasons})" if reasons else ")")
    return cell


def with_failures(cell: str, totals: dict) -> str:
    """A connect time, and how many sockets (over all runs) were refused or never acknowledged."""
    failed = totals["sockets_failed"]
    return f"{cell} ({count(failed)} sockets failed)" if failed else cell


def fanout_table(result: dict) -> str:
    rows = [row for scenario in result["scenarios"] for row in fanout_rows(scenario)]
    lines = ["| figure | hub web process | socket.io on Node | hub ÷ Node |", "| --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    settings = result["settings"]
    runs = plural(settings["runs"], "interleaved run")
    procs = plural(settings["client_procs"], "client harness process")
    lines.append("")
    lines.append(
        f"Medians of {runs}, {time.strftime('%Y-%m-%d')}; steady phase {settings['seconds']:g} s, bursts of "
        f"about {count(settings['burst_deliveries'])} deliveries, {procs}. Ratios are hub ÷ Node (for "
        "deliveries/s, below 1 means the hub is slower)."
    )
    return "\n".join(lines)


SCALING_FIGURES = (
    ("time to connect all", "connect_s", "s"),
    ("back-to-back burst, deliveries/s", "burst_per_s", ""),
    ("back-to-back burst, server CPU per delivery (all web processes)", "burst_cpu_us", "µs"),
    ("steady p50", "p50_ms", "ms"),
    ("steady p99", "p99_ms", "ms"),
    ("steady server CPU per delivery (all web processes)", "cpu_us", "µs"),
    ("RSS of the serving processes after connect", "rss_mb", "MB"),
)


def scaling_table(result: dict) -> str:
    """The hub with one and with several web processes beside Node, on the same sockets and signals."""
    lines = []
    for scenario in result["scenarios"]:
        medians = scenario["median"]
        names = list(medians)
        one, many = names[0], names[1]
        n, rate = scenario["scenario"]["sockets"], scenario["scenario"]["rate"]
        lines += [
            f"| {count(n)} sockets, {rate:g} signals/s | " + " | ".join(names) + f" | {many} ÷ {one} |",
            "| --- |" + " --- |" * (len(names) + 1),
        ]
        for label, key, unit in SCALING_FIGURES:
            cells = [number(medians[name][key], unit) for name in names]
            cells.append(ratio(medians[many][key], medians[one][key]))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        totals = [delivered(medians[name]["totals"]) for name in names]
        lines.append("| delivered / expected (all runs) | " + " | ".join(totals) + " | |")
    settings = result["settings"]
    lines += [
        "",
        f"Medians of {plural(settings['runs'], 'interleaved run')}, {time.strftime('%Y-%m-%d')}; "
        f"{plural(settings['client_procs'], 'client harness process')}, each connected to one web process "
        "in turn; CPU and RSS summed over the serving processes.",
    ]
    return "\n".join(lines)


# (header, figure) of the spread table; each cell is that figure's min–max over the runs.
SPREAD_COLUMNS = (
    ("connect s", "connect_s"),
    ("CPU ms/connect", "connect_cpu_ms"),
    ("RSS MB", "rss_mb"),
    ("burst/s", "burst_per_s"),
    ("burst CPU µs/delivery", "burst_cpu_us"),
    ("p99 ms", "p99_ms"),
    ("steady CPU µs/delivery", "cpu_us"),
)


def fanout_conditions(result: dict) -> str:
    """The spread over runs and what else was busy: to judge how far to trust the medians."""
    headers = ["scenario", "server", *(header for header, _ in SPREAD_COLUMNS)]
    headers += ["server CPU (steady / burst)", "busiest client CPU (connect / steady / burst)"]
    headers.append("load avg before")
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for scenario in result["scenarios"]:
        label = f"{count(scenario['scenario']['sockets'])} × {scenario['scenario']['rate']:g}/s"
        for name, side in scenario["median"].items():
            spreads = side["range"]
            cells = [label, name, *(span(spreads[key]) for _, key in SPREAD_COLUMNS)]
            cells.append(" / ".join(percent(spreads[f"server_cpu_{phase}"]) for phase in ("steady", "burst")))
            phases = ("connect", "steady", "burst")
            cells.append(" / ".join(percent(spreads[f"client_cpu_{phase}"]) for phase in phases))
            cells.append(", ".join(f"{run['load_before']:.1f}" for run in scenario["runs"][name]))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def span(bounds: tuple[float, float] | None) -> str:
    """min–max over runs (one figure when they agree)."""
    if bounds is None:
        return "n/a"
    low, high = (number(value) for value in bounds)
    return low if low == high else f"{low}–{high}"


def percent(bounds: tuple[float, float] | None) -> str:
    """A min–max range of core shares as percentages of one core."""
    if bounds is None:
        return "n/a"
    low, high = (round(100 * value) for value in bounds)
    return f"{low}%" if low == high else f"{low}–{high}%"
