-- A web process reads each tier room's last stream position once when it starts, so a socket that
-- reconnects with an up-to-date cursor needs no catch-up query (journal/stream/pubsub.py).
GRANT SELECT ON stream_rooms TO trading_app_user;
