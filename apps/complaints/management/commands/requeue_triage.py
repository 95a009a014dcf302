from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.complaints.services import triage_requeue_stale


class Command(BaseCommand):
    help = (
        "Re-enqueue triage jobs left behind by a crash, a Redis restart or a dead worker "
        "(the workers' recovery sweep does this by itself) and no longer waiting in Redis: "
        "pending for longer than --older-than seconds (default: TRIAGE_STALE_SECONDS, plus "
        "the job timeout for a running job)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None)

    def handle(self, *args, older_than, **options):
        if older_than is None:
            requeued = triage_requeue_stale()
        else:
            bound = timedelta(seconds=older_than)
            requeued = triage_requeue_stale(older_than=bound, running_older_than=bound)
        for reference in requeued:
            self.stdout.write(f"requeued {reference}")
        self.stdout.write(self.style.SUCCESS(f"{len(requeued)} triage job(s) requeued."))
