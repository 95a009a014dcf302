from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.complaints.services import attachment_orphans_delete


class Command(BaseCommand):
    help = (
        "Delete stored attachment files that belong to no complaint (left by a process killed "
        "mid-filing), once older than --older-than seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=3600)

    def handle(self, *args, older_than, **options):
        deleted = attachment_orphans_delete(older_than=timedelta(seconds=older_than))
        for name in deleted:
            self.stdout.write(f"deleted {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(deleted)} orphan file(s) deleted."))
