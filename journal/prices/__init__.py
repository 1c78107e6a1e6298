"""/api/market: the last price of a symbol, shown beside the admin form's entry field."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify

from journal import responses
from journal.engine.market import MarketError, as_decimal, last_price
from journal.errors import APIError
from journal.identity import role_required
from journal.jsonio import price_text
from journal.openapi import operation

bp = Blueprint("prices", __name__, url_prefix="/api/market")


@bp.get("/<symbol>/last")
@role_required()
@operation(responses.LastPrice, errors=(503,))
def last(symbol: str):
    """A symbol's last price: the live tick, else the latest closed 1m candle's close.

    404 for a symbol outside the universe (or without market data yet); 503 when the exchange is
    unreachable.
    """
    if symbol not in current_app.config["SYMBOLS"]:
        raise APIError(404, f"Unknown symbol {symbol!r}.")
    try:
        quote = last_price(symbol)
    except MarketError as err:
        raise APIError(503, f"Market data unavailable: {err}") from err
    if quote is None:
        raise APIError(404, f"No market data for {symbol}.")
    price, at = quote
    return jsonify(
        {
            "symbol": symbol,
            "price": price_text(as_decimal(price)),
            "at": datetime.fromtimestamp(at, UTC).isoformat(),
        }
    )
