-- The admin list and the hub's history are most often filtered by symbol: one symbol's signals
-- newest (or oldest) first, walked per partition instead of every signal's (about 30 bytes a
-- signal; measured on 1M stored signals, a symbol + side + outcome page took 3.9 ms in the
-- database without it).
CREATE INDEX signals_symbol_idx ON signals (symbol, id);
