import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.complaints.models import RETENTION_DAYS_MAX
from apps.complaints.services import complaint_purge, retention_due


class Command(BaseCommand):
    help = (
        "Purge closed complaints past their category's retention (text, place and contact "
        "removed, files deleted; reference, dates, category and audit trail kept). Complaints "
        "on legal hold and open ones are never purged. --dry-run lists what is due; "
        "--due-within DAYS lists what becomes due in the next DAYS days."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List, change nothing.")
        parser.add_argument("--due-within", type=int, metavar="DAYS")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, dry_run, due_within, no_progress, **options):
        if due_within is not None and not 0 <= due_within <= RETENTION_DAYS_MAX:
            # Nothing becomes due further ahead than the longest retention.
            raise CommandError(f"--due-within must be from 0 to {RETENTION_DAYS_MAX} days.")
        if due_within is not None or dry_run:
            due = retention_due(within=timedelta(days=due_within or 0)).select_related("category")
            for complaint in due:
                self.stdout.write(
                    f"{complaint.reference}  {complaint.category}  "
                    f"closed {complaint.closed_at:%Y-%m-%d}  purge {complaint.purge_at:%Y-%m-%d}"
                )
            when = f"within {due_within} day(s)" if due_within else "now"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(due)} complaint(s) due for purge {when}; nothing changed."
                )
            )
            return
        ids = list(retention_due().values_list("pk", flat=True))
        purged = 0
        # disable=None: a bar only on a terminal, so cron logs keep just the summary.
        for pk in tqdm(
            ids, desc="Purging", unit="complaint", file=sys.stderr, disable=no_progress or None
        ):
            purged += complaint_purge(complaint_id=pk)
        skipped = len(ids) - purged
        self.stdout.write(
            self.style.SUCCESS(
                f"{purged} complaint(s) purged; {skipped} skipped (held or changed meanwhile)."
            )
        )
