from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils import timezone

from apps.accounts.models import Batch, District
from apps.assessments import services
from apps.assessments.management.commands._base import (
    AssessmentCommand,
    add_incident_arguments,
    staff_user,
)
from apps.core.exceptions import ApplicationError


def _one(model, what: str, **lookup):
    found = model.objects.filter(**lookup).first()
    if found is None:
        raise CommandError(f"Unknown {what} {next(iter(lookup.values()))!r}.")
    return found


class Command(AssessmentCommand):
    help = (
        "Give the running attempts of an assessment extra minutes (all, or a district's, a "
        "batch's or one teacher's); one audit row per attempt, the auto-submit moves along."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_incident_arguments(parser)
        parser.add_argument("--district", help="district code: its teachers' attempts only")
        parser.add_argument("--batch", help="batch code: its teachers' attempts only")
        parser.add_argument("--teacher", help="username: this teacher's attempt only")
        parser.add_argument("--dry-run", action="store_true", help="list them, change nothing")

    def handle(self, *args, **options):
        assessment = self.get_assessment(options)
        filters = {}
        if options["district"] is not None:  # given but empty: no such district, not all
            filters["district"] = _one(District, "district", code=options["district"].lower())
        if options["batch"] is not None:
            filters["batch"] = _one(Batch, "batch", code=options["batch"].lower())
        if options["teacher"] is not None:
            filters["teacher"] = _one(get_user_model(), "teacher", username=options["teacher"])
        try:
            adjustments = services.attempts_extend(
                assessment=assessment,
                minutes=options["minutes"],
                reason=options["reason"],
                by=staff_user(options["by"]),
                dry_run=options["dry_run"],
                **filters,
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        minutes = options["minutes"]
        if options["dry_run"]:
            for row in adjustments:
                old = timezone.localtime(row.old_deadline)
                new = timezone.localtime(row.new_deadline)
                self.stdout.write(
                    f"{row.attempt.pk:>10}  {row.attempt.user.username:<24} "
                    f"{old:%Y-%m-%d %H:%M:%S} -> {new:%Y-%m-%d %H:%M:%S}"
                )
            self.stdout.write(
                f"Dry run: {len(adjustments)} running attempt(s) of {assessment} would get "
                f"{minutes} extra minute(s); nothing was changed."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(adjustments)} running attempt(s) of {assessment} given {minutes} extra "
                "minute(s)."
            )
        )
