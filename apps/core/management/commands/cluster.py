"""`make cluster`: the scale-out topology on this machine (apps/core/cluster/).

Two web nodes behind HAProxy, a PostgreSQL primary with a hot standby, the queue Valkey with
a replica and three Sentinels, a cache Valkey, two RQ workers with the scheduler; data under
$CROWDPROOF_DATA_DIR/cluster (default .data/cluster), reused by the next run. Nothing is
restarted when it dies: that is what the balancer and Sentinel are there to show. Ctrl-C (or
SIGTERM) stops everything, workers first.
"""

import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.cluster.haproxy import haproxy_binary
from apps.core.cluster.topology import Ports, Topology

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run 2 web nodes behind HAProxy, PostgreSQL + standby, Valkey + Sentinel, workers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT") or 8000),
            help="the balancer's loopback port (default $PORT or 8000); web nodes use the "
            "next two, the queue Valkey +10 and +11, its Sentinels +20 to +22",
        )
        parser.add_argument("--web-workers", type=int, default=2, help="per web node")
        parser.add_argument("--rq-workers", type=int, default=2)
        parser.add_argument("--no-demo", action="store_true", help="skip seed_demo")

    def handle(self, *args, **options):
        try:
            haproxy_binary()
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        data_dir = Path(os.environ.get("CROWDPROOF_DATA_DIR", settings.BASE_DIR / ".data"))
        setup = [["migrate", "--noinput"]]
        if not options["no_demo"]:
            setup.append(["seed_demo"])
        if not settings.DEBUG:
            setup.append(["collectstatic", "--noinput"])
        topology = Topology(
            data_dir / "cluster",
            Ports.from_base(options["port"]),
            web_workers=options["web_workers"],
            rq_workers=options["rq_workers"],
            setup=setup,
        )
        self._stopping = False
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        self.stdout.write(f"Starting the cluster under {topology.data_dir} ...")
        try:
            topology.start()
            self._announce(topology)
            self._watch(topology)
        finally:
            self.stdout.write("Stopping the cluster ...")
            topology.stop()
            self.stdout.write("Stopped.")

    def _request_stop(self, signum, frame):
        self._stopping = True

    def _announce(self, topology: Topology) -> None:
        from apps.accounts.demo import DEMO_LOGINS

        url = topology.base_url
        self.stdout.write(self.style.SUCCESS(f"\nCrowdproof cluster is up: {url}/ (HAProxy)"))
        for name in topology.web:
            self.stdout.write(f"  {name}: {topology.node_url(name)}/")
        for name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "CACHE_URL"):
            if name in topology.env:
                self.stdout.write(f"  {name}={topology.env[name]}")
        self.stdout.write(f"  logs: {topology.data_dir / 'logs'}")
        for role, username, password in DEMO_LOGINS:
            self.stdout.write(f"  {role:>14}: {username} / {password}")
        self.stdout.write("Press Ctrl-C to stop.\n")

    def _watch(self, topology: Topology) -> None:
        """One line when a process exits; the rest carries on without it."""
        reported = set()
        while not self._stopping:
            for process in topology.processes():
                if process.name not in reported and not process.running:
                    reported.add(process.name)
                    self.stderr.write(
                        f"{process.name} exited ({process.popen.returncode}); see {process.log}"
                    )
            time.sleep(POLL_SECONDS)
