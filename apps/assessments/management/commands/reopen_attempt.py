from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.assessments import services
from apps.assessments.management.commands._base import add_incident_arguments, staff_user
from apps.assessments.models import Attempt
from apps.core.exceptions import ApplicationError
from apps.core.input import BIGINT_MAX, parse_int


class Command(BaseCommand):
    help = (
        "Re-open an attempt that was submitted automatically during a documented incident: "
        "in progress again, --minutes from now to finish; audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("attempt", help="attempt id")
        add_incident_arguments(parser)

    def handle(self, *args, **options):
        try:
            attempt = Attempt.objects.get(
                pk=parse_int(options["attempt"], minimum=1, maximum=BIGINT_MAX)
            )
        except (ValueError, Attempt.DoesNotExist):
            raise CommandError(f"No attempt {options['attempt']!r} (give its id).") from None
        try:
            adjustment = services.attempt_reopen(
                attempt=attempt,
                minutes=options["minutes"],
                reason=options["reason"],
                by=staff_user(options["by"]),
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        deadline = timezone.localtime(adjustment.new_deadline)
        self.stdout.write(
            self.style.SUCCESS(f"Re-opened {attempt}; new deadline {deadline:%Y-%m-%d %H:%M}.")
        )
