"""Every Socket.IO event and Celery task name of the hub, in one place (clients speak these names)."""

# Server -> client
SIGNAL_NEW = "signal:new"  # one signal, with seq and prev
SIGNAL_OUTCOME = "signal:outcome"  # a signal whose outcome was recorded
SIGNALS_INITIAL = "signals:initial"  # the snapshot a socket gets when it connects without a cursor
SIGNALS_BATCH = "signals:batch"  # {signals: [...]}: a replay after a cursor, each signal with seq and prev
STATS_INITIAL = "stats:initial"
STATS_UPDATE = "stats:update"
ACCOUNT_UPDATE = "account:update"  # {risk_tier, plan, role}: an admin changed the account; rooms follow
SESSION_END = "session:end"  # {reason}: sent just before the server closes the socket

# Server -> itself, through the message queue: a web process checks that it still hears Redis
CANARY = "hub:canary"

# Client -> server
SIGNALS_SYNC = "signals:sync"  # {since}: replay after the cursor
SIGNAL_ACK = "signal:ack"  # {ids}: delivery receipts
AUTH_RENEW = "auth:renew"  # {token}: a fresh access token for this socket

# Celery tasks (journal.<verb>)
FLUSH_RECEIPTS = "journal.flush_receipts"
PUSH_STATS = "journal.push_stats"
GENERATE_SIGNALS = "journal.generate_signals"
CHECK_OUTCOMES = "journal.check_outcomes"
CREATE_PARTITIONS = "journal.create_partitions"
