"""django-rq jobs: they only call services."""

from apps.assessments import services


def attempt_auto_submit(attempt_id: int) -> None:
    """Scheduled at the attempt's deadline. A no-op if it was submitted already or if its
    deadline was extended since (an accommodation schedules a new job)."""
    services.attempt_submit(attempt_id=attempt_id, auto=True)
