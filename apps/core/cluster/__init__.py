"""`make cluster`: the scale-out topology on one machine, over loopback and Unix sockets.

Two gunicorn nodes behind HAProxy, a PostgreSQL primary with a hot standby, the queue Valkey
with a replica and three Sentinels, a separate evicting cache Valkey and two RQ workers:
the engines production runs, started from the same wheels as `make run` (plus Debian's
haproxy), so the tests and the bench exercise failover on real servers. `topology.py`
starts the whole; the other modules each start one kind of server.
"""
