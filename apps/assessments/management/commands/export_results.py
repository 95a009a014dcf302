import csv
import sys

from tqdm import tqdm

from apps.assessments import selectors
from apps.assessments.management.commands._base import AssessmentCommand
from apps.assessments.models import Attempt


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

    def handle(self, *args, **options):
        assessment = self.get_assessment(options)
        total = Attempt.objects.filter(
            assessment=assessment, status=Attempt.Status.SUBMITTED
        ).count()
        header, rows = selectors.results_export(
            assessment=assessment, chunk_size=options["chunk_size"]
        )
        output = (
            open(options["output"], "w", newline="", encoding="utf-8")  # noqa: SIM115
            if options["output"]
            else self.stdout
        )
        try:
            writer = csv.writer(output)
            writer.writerow(header)
            progress = tqdm(
                rows, total=total, unit="attempt", file=sys.stderr, disable=options["no_progress"]
            )
            for row in progress:
                writer.writerow(row)
        finally:
            if options["output"]:
                output.close()
        if options["output"]:
            self.stderr.write(f"{total} attempt(s) written to {options['output']}")
