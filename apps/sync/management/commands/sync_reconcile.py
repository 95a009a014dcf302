from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.sync.management.commands._common import connector_or_error, page_progress
from apps.sync.models import OutboxEvent
from apps.sync.selectors import DUE_STATUSES
from apps.sync.services import outbox_reconcile_compare, outbox_requeue


class Command(BaseCommand):
    help = (
        "Reclaim expired leases and requeue due rows; with --compare, page through the remote "
        "(1,000 records a call, within the daily budget) and queue repairs for records that "
        "differ from what we delivered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connector", default="records")
        parser.add_argument("--compare", action="store_true")
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args, connector, compare, dry_run, **options):
        connector_or_error(connector, configured=compare)
        rows = OutboxEvent.objects.filter(connector=connector)
        if dry_run:
            expired = rows.filter(
                status=OutboxEvent.Status.IN_FLIGHT, lease_expires_at__lt=timezone.now()
            ).count()
            due = rows.filter(status__in=DUE_STATUSES, next_attempt_at__lte=timezone.now())
            self.stdout.write(f"Would reclaim {expired} expired leases; {due.count()} rows due.")
        else:
            reclaimed, jobs = outbox_requeue(connector=connector)
            self.stdout.write(f"Reclaimed {reclaimed} expired leases; enqueued {jobs} jobs.")
        if not compare:
            return
        with page_progress() as on_page:
            result = outbox_reconcile_compare(connector=connector, dry_run=dry_run, on_page=on_page)
        verb = "Would queue" if dry_run else "Queued"
        self.stdout.write(
            f"Compared {result.records} remote records on {result.pages} pages: "
            f"{result.differing} differ, {result.missing} missing. "
            f"{verb} {result.repairs} repairs."
        )
        if result.stopped:
            self.stdout.write(self.style.WARNING(f"Stopped early: {result.stopped}"))
