import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.assessments import services


class Command(BaseCommand):
    help = (
        "Tell whether a teacher's answer receipt is genuine (signed by this server) and, if it "
        "is, whether it matches the database now. Exit code 0: genuine and matching; 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the receipt-<attempt>.json the teacher downloaded")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            with path.open("rb") as file:
                raw = file.read(services.RECEIPT_MAX_BYTES + 1)  # /dev/zero ends here too
            document = services.receipt_loads(raw)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
        except services.ReceiptInvalid as error:
            raise CommandError(f"{path} is not a receipt: {error}.") from None
        check = services.receipt_check(document)
        if not check.genuine:
            self.stdout.write(self.style.ERROR("NOT genuine (signature does not match)"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("genuine"))
        if not check.differences:
            self.stdout.write(self.style.SUCCESS("matches the database"))
            return
        self.stdout.write(self.style.WARNING("differs from the database now:"))
        for difference in check.differences:
            self.stdout.write(f"  - {difference}")
        sys.exit(1)
