"""gunicorn settings for every environment; each value can be overridden from the environment.

gthread workers: threads overlap a request's waits on PostgreSQL and Redis cheaply. Few of
them: under load the hot paths are CPU-bound in Python, and many threads per process only
fight over its GIL (`make bench` on 2 cores: 4 x 4 saved ~20% more answers/s than 4 x 8).
Each worker process has its own psycopg pool (DB_POOL_MAX_SIZE, keep it >= GUNICORN_THREADS).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# Recycle workers now and then so a slow leak never becomes an outage.
# At a few hundred requests a second per worker, 20,000 meant a restart (imports, cold
# caches, a new pool) every minute or so under load; 200,000 is every ten minutes or more.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
# The request middleware logs one line per request; no separate access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "crowdproof-web"


def post_worker_init(worker):
    """Each worker process writes the web heartbeat (apps/core/heartbeat.py) from a thread
    of its own, once its application (and Django) is loaded."""
    from apps.core.heartbeat import heartbeat_start

    heartbeat_start("web")
