from django.core.management.base import BaseCommand

from apps.sync.management.commands._common import connector_or_error, page_progress
from apps.sync.services import remote_records_import


class Command(BaseCommand):
    help = (
        "Pull every remote record, page by page, into RemoteRecord (historical data) and link "
        "those carrying our external key. Idempotent: upserts by remote id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connector", default="records")
        parser.add_argument(
            "--dry-run", action="store_true", help="page through and count, write nothing"
        )

    def handle(self, *args, connector, dry_run, **options):
        connector_or_error(connector, configured=True)
        with page_progress() as on_page:
            result = remote_records_import(connector=connector, dry_run=dry_run, on_page=on_page)
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} {result.records} records ({result.created} new) from {result.pages} pages."
        )
        if result.stopped:
            self.stdout.write(self.style.WARNING(f"Stopped early: {result.stopped}"))
