"""The database router, installed only when DATABASE_REPLICA_URL is set.

Every write, and every read not marked with apps.core.replica.reads_may_lag(), goes to the
primary (`default`); marked reads go to the `replica` alias while it is reachable and close
enough behind (apps/core/replica.py decides). Both aliases hold the same data, so relations
between their objects are allowed, and migrations run on the primary only.
"""

from django.db import DEFAULT_DB_ALIAS

from apps.core.replica import REPLICA, read_from_replica

# libpq's own timeout: an unreachable replica costs this once per retry period, not a hang.
REPLICA_CONNECT_TIMEOUT = 2


def replica_database(config: dict, options: dict | None = None) -> dict:
    """The `replica` entry of DATABASES from the parsed DATABASE_REPLICA_URL. `options`: the
    primary's parameter binding (settings.DATABASE_BINDING_OPTIONS), so a read routed to
    either side is sent the same way."""
    return {
        **config,
        # A connection per request that reads from it (dashboards and exports: rare and
        # heavy) rather than a pool, so a replica that is down fails at once instead of
        # after the pool's wait, and nothing keeps retrying it in the background.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {
            **config.get("OPTIONS", {}),
            **(options or {}),
            "connect_timeout": REPLICA_CONNECT_TIMEOUT,
            "application_name": "crowdproof-replica",  # pg_stat_activity tells them apart
        },
        # A test run with a replica configured reads the test database through `default`.
        "TEST": {"MIRROR": DEFAULT_DB_ALIAS},
    }


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        # Explicit, so an object loaded from the replica does not pull its relations from it.
        return REPLICA if read_from_replica() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS  # an object read from the replica is saved to the primary

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
