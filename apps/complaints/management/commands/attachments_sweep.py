from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.complaints.services import attachment_orphans_delete
from apps.core.exceptions import Invalid


class Command(BaseCommand):
    help = (
        "Delete stored attachment files that belong to no complaint (left by a process killed "
        "mid-filing), once older than --older-than seconds (600 at least)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=3600)

    def handle(self, *args, older_than, **options):
        try:
            # A huge count overflows timedelta before the service can refuse it.
            age = timedelta(seconds=min(older_than, 10**12))
            deleted = attachment_orphans_delete(older_than=max(age, timedelta(0)))
        except Invalid as error:
            raise CommandError(error.message) from None
        for name in deleted:
            self.stdout.write(f"deleted {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(deleted)} orphan file(s) deleted."))
