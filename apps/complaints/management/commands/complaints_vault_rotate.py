import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.complaints.models import Complaint
from apps.complaints.services import vault_rotate_batch

# Each batch is one transaction holding its rows' locks: keep it short.
BATCH_SIZE_MAX = 10_000
UNREADABLE_NAMED = 10


class Command(BaseCommand):
    help = (
        "Re-seal every complainant's contact details with the first key of "
        "COMPLAINTS_VAULT_KEYS and re-index their email with the first key of "
        "COMPLAINTS_VAULT_INDEX_KEYS, in batches, each its own short transaction: safe while "
        "the app runs, and a rerun skips what is current already. Run it after putting the "
        "new key first on every process, and before removing the old one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count, change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, metavar="N")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, dry_run, batch_size, no_progress, **options):
        if not 1 <= batch_size <= BATCH_SIZE_MAX:
            raise CommandError(f"--batch-size must be from 1 to {BATCH_SIZE_MAX}.")
        total = Complaint.objects.exclude(contact_sealed="").count()
        after, changed, unreadable = 0, 0, []
        # disable=None: a bar only on a terminal, so cron logs keep just the summary.
        progress = {"desc": "Re-sealing", "unit": "complaint", "file": sys.stderr}
        with tqdm(total=total, disable=no_progress or None, **progress) as bar:
            while True:
                batch = vault_rotate_batch(after_pk=after, size=batch_size, dry_run=dry_run)
                if batch.last_pk is None:
                    break
                after = batch.last_pk
                changed += batch.changed
                unreadable += batch.unreadable
                bar.update(batch.seen)
        verb = "would be re-sealed" if dry_run else "re-sealed"
        self.stdout.write(
            self.style.SUCCESS(f"{changed} of {total} contact(s) {verb}; the others were current.")
        )
        if unreadable:
            # A few by name: with the keys missing altogether, that is every complaint.
            named, more = unreadable[:UNREADABLE_NAMED], len(unreadable) - UNREADABLE_NAMED
            raise CommandError(
                f"{len(unreadable)} contact(s) no configured key opens (was a key removed "
                f"too early?): {', '.join(named)}" + (f" and {more} more" if more > 0 else "")
            )
