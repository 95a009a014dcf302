import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.accounts.services import TeacherImportError, teachers_import


class Command(BaseCommand):
    help = (
        "Import teachers from a CSV file with the header "
        "employee_id,first_name,last_name,email,district[,batch]. Idempotent by employee_id: "
        "a re-import updates, never duplicates. With any bad row nothing is imported unless "
        "--skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the CSV file (UTF-8, Excel's BOM is fine)")
        parser.add_argument("--dry-run", action="store_true", help="validate and count only")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the good rows, report the bad"
        )
        parser.add_argument(
            "--atomic",
            action="store_true",
            help="all or nothing in one transaction (default: one transaction per chunk)",
        )
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument(
            "--initial-password",
            help="password for newly created teachers (default: none; they cannot log in "
            "until one is set)",
        )
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, **options):
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        bar = tqdm(
            unit="rows",
            desc="Importing",
            file=sys.stderr,
            disable=options["no_progress"] or None,  # None: only on a terminal
        )
        try:
            with open(options["file"], encoding="utf-8-sig", newline="") as handle, bar:
                result = teachers_import(
                    file=handle,
                    dry_run=options["dry_run"],
                    skip_invalid=options["skip_invalid"],
                    atomic=options["atomic"],
                    chunk_size=options["chunk_size"],
                    initial_password=options["initial_password"],
                    progress=bar.update,
                )
        except OSError as exc:
            raise CommandError(f"Cannot open {options['file']}: {exc.strerror}.") from exc
        except TeacherImportError as exc:
            raise CommandError(str(exc)) from exc

        for error in result.errors:
            self.stderr.write(str(error))
        if result.errors and not options["skip_invalid"]:
            raise CommandError(
                f"{len(result.errors)} of {result.total_rows} rows are invalid (listed above); "
                "nothing was imported. Fix them, or rerun with --skip-invalid."
            )
        verb = "Would import" if result.dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.created + result.updated} teachers: {result.created} new, "
                f"{result.updated} updated, {result.skipped} invalid rows skipped."
            )
        )
