"""django-rq jobs: they only call services."""

from apps.assessments import services


def attempts_auto_submit_due() -> None:
    """Scheduled at the second of one or more deadlines (services/deadlines.py): submits
    every attempt due by now. Attempts submitted already, or whose deadline was extended
    since (their new deadline has a job of its own), are left alone."""
    services.attempts_submit_expired()
