from django.core.management.base import BaseCommand, CommandError

from apps.assessments import selectors


class AssessmentCommand(BaseCommand):
    """A command about one assessment, named by id or slug."""

    def add_arguments(self, parser):
        parser.add_argument("assessment", help="assessment id or slug")

    def get_assessment(self, options):
        assessment = selectors.assessment_by_ref(options["assessment"])
        if assessment is None:
            raise CommandError(f"No assessment {options['assessment']!r} (give an id or a slug).")
        return assessment
