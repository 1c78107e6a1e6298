"""gunicorn settings for the web process: one gevent-websocket worker per process."""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '5000')}")
worker_class = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
workers = 1  # Flask-SocketIO needs one worker per process; scale with processes + sticky sessions
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # unset: no access log ("-" for stdout)
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "journal-web"
control_socket_disable = True  # several web processes may run on one host
