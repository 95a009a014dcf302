from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.assessments import selectors, services


class AssessmentCommand(BaseCommand):
    """A command about one assessment, named by id or slug."""

    def add_arguments(self, parser):
        parser.add_argument("assessment", help="assessment id or slug")

    def get_assessment(self, options):
        assessment = selectors.assessment_by_ref(options["assessment"])
        if assessment is None:
            raise CommandError(f"No assessment {options['assessment']!r} (give an id or a slug).")
        return assessment


def add_incident_arguments(parser) -> None:
    """The options of the incident tools (services/incidents.py): each change is audited."""
    low, high = services.EXTRA_MINUTES_MIN, services.EXTRA_MINUTES_MAX
    parser.add_argument("--minutes", type=int, required=True, help=f"{low} to {high}")
    parser.add_argument(
        "--reason", required=True, help="the documented incident (kept in the audit row)"
    )
    parser.add_argument("--by", required=True, help="username of the staff member responsible")


def staff_user(username: str):
    user = get_user_model().objects.filter(username=username, is_staff=True).first()
    if user is None:
        raise CommandError(f"No staff account {username!r} (--by names who is responsible).")
    return user
