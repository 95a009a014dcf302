from django.core.management.base import BaseCommand

from apps.sync.management.commands._common import connector_or_error
from apps.sync.selectors import connector_is_paused
from apps.sync.services import connector_pause


class Command(BaseCommand):
    help = "Pause a connector's deliveries (rows stay pending), or --resume them."

    def add_arguments(self, parser):
        parser.add_argument("connector")
        parser.add_argument("--resume", action="store_true")
        parser.add_argument("--reason", default="")
        parser.add_argument("--dry-run", action="store_true", help="show, change nothing")

    def handle(self, *args, connector, resume, reason, dry_run, **options):
        connector_or_error(connector)
        now = "paused" if connector_is_paused(connector=connector) else "running"
        wanted = "running" if resume else "paused"
        if dry_run:
            self.stdout.write(f"{connector} is {now}; would be {wanted}.")
            return
        connector_pause(connector=connector, paused=not resume, reason=reason)
        self.stdout.write(f"{connector} is now {wanted}.")
