from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django_rq import get_queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from apps.complaints.selectors import triage_jobs_stale
from apps.complaints.services import triage_requeue

WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def _waiting_in_redis(rq_job_id: str, connection) -> bool:
    """The RQ job still exists and waits to run (queued, or scheduled for a retry)."""
    try:
        return Job.fetch(rq_job_id, connection=connection).get_status() in WAITING
    except NoSuchJobError:
        return False


class Command(BaseCommand):
    help = (
        "Re-enqueue triage jobs left behind by a crash, a Redis restart or a dead worker: "
        "pending for longer than --older-than seconds and no longer waiting in Redis."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=settings.TRIAGE_STALE_SECONDS)

    def handle(self, *args, older_than, **options):
        connection = get_queue(settings.TRIAGE_QUEUE).connection
        lost = [
            job.complaint_id
            for job in triage_jobs_stale(older_than=timedelta(seconds=older_than))
            if not _waiting_in_redis(job.rq_job_id, connection)
        ]
        requeued = triage_requeue(complaint_ids=lost, include_pending=True) if lost else []
        for reference in requeued:
            self.stdout.write(f"requeued {reference}")
        self.stdout.write(self.style.SUCCESS(f"{len(requeued)} triage job(s) requeued."))
