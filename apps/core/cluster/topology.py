"""The whole cluster, started in dependency order and stopped in reverse.

    PostgreSQL primary + hot standby (apps.core.cluster.postgres) or a given DATABASE_URL
    queue Valkey primary + replica + 3 Sentinels, cache Valkey (apps.core.cluster.redis)
    migrations (and whatever else `setup` lists), on the primary
    web nodes: one gunicorn master each (config/gunicorn.conf.py), own loopback port
    HAProxy in front of them (apps.core.cluster.haproxy)
    RQ workers with the scheduler

Every child gets its settings from the environment (`env`), as in production: the queue
through its Sentinels (REDIS_URL=sentinel://...), the cache on its own socket.

Must import without Django configured: the services start before Django does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from apps.core.cluster.haproxy import haproxy
from apps.core.cluster.process import ROOT, Process, stop_all
from apps.core.cluster.redis import QueueRedis, ValkeyNode, cache_redis
from apps.core.redis_config import redis_client

WORKER_QUEUES = ("high", "default", "low")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error status
        return False


@dataclass
class Ports:
    balancer: int
    web: list[int]
    queue_primary: int
    queue_replica: int
    sentinels: list[int]

    @classmethod
    def from_base(cls, base: int, *, web_nodes: int = 2) -> Ports:
        """Stable ports for `make cluster` (the Sentinels' files remember them): the
        balancer on `base`, web nodes next to it, the queue from base + 10."""
        return cls(
            balancer=base,
            web=[base + n for n in range(1, web_nodes + 1)],
            queue_primary=base + 10,
            queue_replica=base + 11,
            sentinels=[base + 20 + n for n in range(3)],
        )

    @classmethod
    def free(cls, *, web_nodes: int = 2) -> Ports:
        """Ports that are free now (tests: a new data folder every time)."""
        return cls(
            balancer=free_port(),
            web=[free_port() for _ in range(web_nodes)],
            queue_primary=free_port(),
            queue_replica=free_port(),
            sentinels=[free_port() for _ in range(3)],
        )


@dataclass
class Topology:
    data_dir: Path
    ports: Ports
    # None: start the PostgreSQL primary + standby pair under data_dir/postgres.
    database_url: str | None = None
    web_workers: int = 2  # gunicorn workers per node
    rq_workers: int = 2
    # `manage.py` commands run on the primary before any node starts.
    setup: list[list[str]] = field(default_factory=lambda: [["migrate", "--noinput"]])
    env: dict[str, str] = field(default_factory=dict)  # for every child, over os.environ
    postgres: object | None = None  # apps.core.cluster.postgres.PostgresPair
    queue: QueueRedis | None = None
    cache: ValkeyNode | None = None
    web: dict[str, Process] = field(default_factory=dict)
    balancer: Process | None = None
    workers: list[Process] = field(default_factory=list)

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).resolve()

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.balancer}"

    def node_url(self, name: str) -> str:
        return f"http://{self.web[name].env['GUNICORN_BIND']}"

    def start(self) -> None:
        logs = self.data_dir / "logs"
        nodes = {f"web{n}": port for n, port in enumerate(self.ports.web, start=1)}
        # First: without haproxy installed nothing else is started.
        self.balancer = haproxy(self.data_dir / "haproxy", port=self.ports.balancer, nodes=nodes)
        self.queue = QueueRedis(
            self.data_dir / "queue",
            self.ports.queue_primary,
            self.ports.queue_replica,
            self.ports.sentinels,
        )
        self.queue.start()
        self.cache = cache_redis(self.data_dir / "cache")
        self.cache.start()
        self.cache.wait_ready()
        urls = {
            "REDIS_URL": self.queue.url,
            "CACHE_URL": f"unix://{self.cache.socket_path}",
            # No services.json of a `make run` is ever read: every URL is given.
            "CROWDPROOF_DATA_DIR": str(self.data_dir),
        }
        if self.database_url is None:
            from apps.core.cluster.postgres import start_postgres_pair

            self.postgres = start_postgres_pair(self.data_dir / "postgres")
            urls["DATABASE_URL"] = self.postgres.primary_url
            urls["DATABASE_REPLICA_URL"] = self.postgres.standby_url
        else:
            urls["DATABASE_URL"] = self.database_url
        self.env = {**urls, **self.env}
        for command in self.setup:
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env={**os.environ, **self.env},
                check=True,
            )
        # Every Django process pays seconds of imports: the nodes and the workers start
        # side by side, and are waited for together.
        for name, port in nodes.items():
            self.start_node(name, port, logs)
        wait_for_workers = self.start_workers(self.rq_workers, logs)
        for name, port in nodes.items():
            self.web[name].wait_until(lambda port=port: http_ok(f"http://127.0.0.1:{port}/healthz"))
        self.balancer.start()
        self.balancer.wait_until(lambda: http_ok(f"{self.base_url}/healthz"))
        wait_for_workers()

    def start_node(self, name: str, port: int, logs: Path) -> None:
        """Start one more gunicorn master (not waiting for it)."""
        node = Process(
            name,
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
            logs / f"{name}.log",
            {
                **self.env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": str(self.web_workers),
            },
        )
        node.start()
        self.web[name] = node

    def start_workers(self, count: int, logs: Path):
        """Start `count` more RQ workers; returns a function that waits until they have
        registered with the queue."""
        from rq import Worker

        connection = redis_client(self.queue.url)
        expected = Worker.count(connection=connection) + count
        command = [sys.executable, "manage.py", "rqworker", *WORKER_QUEUES, "--with-scheduler"]
        started = []
        for _ in range(count):
            name = f"worker{len(self.workers) + 1}"
            started.append(Process(name, command, logs / f"{name}.log", self.env))
            started[-1].start()
            self.workers.append(started[-1])

        def wait():
            for worker in started:
                worker.wait_until(lambda: Worker.count(connection=connection) >= expected)

        return wait

    def processes(self) -> list[Process]:
        servers = [*(self.queue.nodes if self.queue else []), *([self.cache] if self.cache else [])]
        return [
            *self.workers,
            *self.web.values(),
            *([self.balancer] if self.balancer else []),
            *(node.process for node in servers if node.process is not None),
        ]

    def stop(self) -> None:
        """Workers first (they finish their job and deregister while Redis is there), then
        the web nodes and the balancer, then the servers they all use."""
        stop_all(self.workers)
        stop_all([*self.web.values(), *([self.balancer] if self.balancer else [])])
        stop_all(self.processes())  # what is left: the Valkey servers and Sentinels
        if self.postgres is not None:
            self.postgres.stop()
