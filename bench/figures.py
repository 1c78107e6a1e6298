"""Arithmetic of the reports: percentiles of latencies, medians over runs, ratios and their formatting."""

import statistics
from collections.abc import Sequence


def percentiles(latencies: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of latencies in ms (None without samples)."""
    if len(latencies) < 2:
        return {"p50": None, "p95": None, "p99": None, "max": max(latencies, default=None)}
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(latencies)}


def median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def spread(values: Sequence[float | None]) -> tuple[float, float] | None:
    present = [value for value in values if value is not None]
    return (min(present), max(present)) if present else None


def ratio(hub: float | None, node: float | None) -> str:
    if hub is None or not node:
        return "n/a"
    value = hub / node
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def number(value: float | None, unit: str = "") -> str:
    """A figure with about three significant digits and thousands separators."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip() if unit else text


def count(value: int) -> str:
    return f"{value:,}"
