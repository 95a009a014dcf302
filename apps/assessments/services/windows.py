"""Assessment windows (open, close), content versions and the dashboard cache they stale."""

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.assessments import selectors
from apps.assessments.models import Assessment, Assignment, Attempt
from apps.assessments.services.errors import ERR_WINDOW, AssessmentError
from apps.assessments.services.submit import attempts_submit_expired
from apps.core.generations import generation_bump


def dashboard_invalidate() -> None:
    """Every cohort's cached dashboard goes stale at once (a new generation)."""
    generation_bump(selectors.DASHBOARD_GENERATION_KEY)


def assessment_bump_version(*, assessment_id: int) -> None:
    """Call after any change to an assessment's content: its cached content is keyed by
    version, so nobody is served a mix of the old and the new."""
    Assessment.objects.filter(pk=assessment_id).update(version=F("version") + 1)
    transaction.on_commit(dashboard_invalidate)


def assessment_open(
    *,
    assessment: Assessment,
    opens_at: datetime,
    closes_at: datetime,
    district=None,
    batch=None,
) -> Assignment:
    if closes_at <= opens_at:
        raise AssessmentError(ERR_WINDOW)
    with transaction.atomic(durable=True):
        assignment = Assignment.objects.create(
            assessment=assessment,
            district=district,
            batch=batch,
            opens_at=opens_at,
            closes_at=closes_at,
        )
        transaction.on_commit(dashboard_invalidate)
    return assignment


def assessment_close(*, assessment: Assessment, now: datetime | None = None) -> int:
    """Close every open window now; running attempts end now and are submitted from their
    saved answers. Returns how many attempts were submitted."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        windows = Assignment.objects.filter(assessment=assessment, closes_at__gt=now)
        Assignment.objects.filter(pk__in=windows.filter(opens_at__lt=now)).update(closes_at=now)
        windows.filter(attempts__isnull=True).delete()  # not open yet: nobody started
        Attempt.objects.filter(
            assessment=assessment, status=Attempt.Status.IN_PROGRESS, deadline__gt=now
        ).update(deadline=now)
        transaction.on_commit(dashboard_invalidate)
    return attempts_submit_expired(now=now, assessment=assessment)
