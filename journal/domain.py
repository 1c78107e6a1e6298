"""The hub's vocabulary in one place: tiers, sides, timeframes, grades, statuses, outcomes, plans, roles.

The migrations spell the same values in their CHECK constraints; a test compares the two.
"""

TIERS = ("low", "medium", "high")
SIDES = ("buy", "sell")
GRADES = ("A", "B", "C", "D")
STATUSES = ("active", "archived", "closed")
PLANS = ("free", "pro", "elite")
USER_ROLES = ("admin", "user")

TIMEFRAME_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
    "1w": 604800,
}
TIMEFRAMES = tuple(TIMEFRAME_SECONDS)

WIN, LOSS, EXPIRED, AMBIGUOUS, DATA_GAP = "WIN", "LOSS", "EXPIRED", "AMBIGUOUS", "DATA_GAP"
NOT_FILLED = "NOT_FILLED"  # the entry was never touched before expiry: no trade, kept out of win rates
OUTCOMES = (WIN, LOSS, EXPIRED, AMBIGUOUS, DATA_GAP, NOT_FILLED)
# The statistics' column for each outcome (signal_stats and every summary).
OUTCOME_COLUMNS = {
    "wins": WIN,
    "losses": LOSS,
    "expired": EXPIRED,
    "ambiguous": AMBIGUOUS,
    "data_gap": DATA_GAP,
    "not_filled": NOT_FILLED,
}


def grade_for(confidence: int) -> str:
    """The grade a confidence earns when none is given."""
    return "A" if confidence >= 85 else "B" if confidence >= 70 else "C" if confidence >= 55 else "D"
