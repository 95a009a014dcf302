from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import Batch, District
from apps.assessments import services
from apps.assessments.management.commands._base import AssessmentCommand


def _when(value: str):
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"Not a date and time: {value!r} (use ISO 8601, e.g. 2026-03-01T09:00).")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(AssessmentCommand):
    help = "Open an assessment for a district and/or batch (neither: everyone) in a time window."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--district", help="district code (default: all districts)")
        parser.add_argument("--batch", help="batch code (default: all batches)")
        parser.add_argument("--opens", help="ISO date-time (default: now)")
        parser.add_argument("--closes", help="ISO date-time (default: --hours after opening)")
        parser.add_argument("--hours", type=float, default=2.0, help="window length (default 2)")

    def handle(self, *args, **options):
        assessment = self.get_assessment(options)
        district = batch = None
        if options["district"]:
            district = District.objects.filter(code=options["district"].lower()).first()
            if district is None:
                raise CommandError(f"Unknown district {options['district']!r}.")
        if options["batch"]:
            batch = Batch.objects.filter(code=options["batch"].lower()).first()
            if batch is None:
                raise CommandError(f"Unknown batch {options['batch']!r}.")
        opens_at = _when(options["opens"]) if options["opens"] else timezone.now()
        closes_at = (
            _when(options["closes"])
            if options["closes"]
            else opens_at + timedelta(hours=options["hours"])
        )
        try:
            assignment = services.assessment_open(
                assessment=assessment,
                district=district,
                batch=batch,
                opens_at=opens_at,
                closes_at=closes_at,
            )
        except services.AssessmentError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            self.style.SUCCESS(f"Opened: {assignment} until {closes_at:%Y-%m-%d %H:%M}")
        )
