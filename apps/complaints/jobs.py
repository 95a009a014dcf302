"""django-rq jobs of the complaints app: they only call services."""

from apps.complaints.services import triage_run


def triage_complaint(triage_job_id: int) -> str:
    """One triage attempt; a transient failure raises, and RQ's Retry schedules the next."""
    job = triage_run(triage_job_id=triage_job_id)
    return job.state if job else "skipped"
