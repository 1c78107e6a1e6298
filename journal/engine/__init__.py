"""What produces and settles signals: market data, strategies, generation, the evaluator, backtests.

market/        candles from a provider (simulated, csv, exchange) and their Redis cache
strategies/    pure functions of candles that propose a trade
generation.py  market -> strategies -> quality filter -> record_signals() (one batch a pass)
evaluate.py    the pure outcome evaluator and its fill rule, shared by live settlement and backtests
outcomes.py    checks active signals against their new candles and records each outcome once
progress.py    where each active signal's check stopped (a Redis hash, rebuilt when lost)
backtest.py    the strategies over history, settled by the same evaluator
"""
