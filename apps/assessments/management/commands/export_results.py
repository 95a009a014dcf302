import sys
from contextlib import nullcontext

from django.core.management.base import CommandError
from tqdm import tqdm

from apps.assessments import selectors
from apps.assessments.management.commands._base import AssessmentCommand
from apps.assessments.models import Attempt
from apps.core.csv_safe import csv_writer
from apps.core.replica import reads_may_lag

ERR_CHUNK_SIZE = "--chunk-size must be at least 1."
ERR_OUTPUT = "Cannot write {path}: {reason}."


class Command(AssessmentCommand):
    help = (
        "Export the submitted attempts of an assessment, one row per attempt with per-category "
        "and per-question columns. Streams with a server-side cursor: memory stays flat."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--format", choices=["csv"], default="csv")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    @reads_may_lag()  # a replica a few seconds behind serves the whole export
    def handle(self, *args, **options):
        if options["chunk_size"] < 1:
            raise CommandError(ERR_CHUNK_SIZE)
        assessment = self.get_assessment(options)
        total = Attempt.objects.filter(
            assessment=assessment, status=Attempt.Status.SUBMITTED
        ).count()
        header, rows = selectors.results_export(
            assessment=assessment, chunk_size=options["chunk_size"]
        )
        path = options["output"]
        try:  # opening, writing and closing: a missing folder, no permission, a full disk
            sink = open(path, "w", newline="", encoding="utf-8") if path else None  # noqa: SIM115
            with sink or nullcontext(self.stdout) as output:
                writer = csv_writer(output)
                writer.writerow(header)
                progress = tqdm(
                    rows,
                    total=total,
                    unit="attempt",
                    file=sys.stderr,
                    disable=options["no_progress"],
                )
                for row in progress:
                    writer.writerow(row)
        except OSError as error:
            reason = error.strerror or error
            where = path or "standard output"
            raise CommandError(ERR_OUTPUT.format(path=where, reason=reason)) from None
        if path:
            self.stderr.write(f"{total} attempt(s) written to {path}")
