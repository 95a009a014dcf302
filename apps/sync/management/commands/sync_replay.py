from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_aware, make_aware

from apps.sync.models import OutboxEvent
from apps.sync.services import outbox_replay

ERR_NO_SELECTION = "Choose events to replay: --id, --status and/or --since/--until."
ERR_BAD_DATE = "Not a date or date-time: {value!r} (use 2026-11-24 or 2026-11-24T10:00)."


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = parse_date(value)
        moment = parse_datetime(value) or (datetime.combine(day, time.min) if day else None)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(ERR_BAD_DATE.format(value=value))
    return moment if is_aware(moment) else make_aware(moment)


class Command(BaseCommand):
    help = (
        "Send again the latest state of the keys of the selected events (by id, by status, "
        "by creation date range)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, action="append", dest="ids", default=[])
        parser.add_argument("--status", choices=OutboxEvent.Status.values)
        parser.add_argument("--since", help="created at or after (date or date-time)")
        parser.add_argument("--until", help="created before (date or date-time)")
        parser.add_argument("--connector")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args, ids, status, since, until, connector, dry_run, **options):
        if not (ids or status or since or until):
            raise CommandError(ERR_NO_SELECTION)
        count = outbox_replay(
            ids=ids,
            status=status,
            since=_moment(since),
            until=_moment(until),
            connector=connector,
            dry_run=dry_run,
        )
        self.stdout.write(f"{'Would replay' if dry_run else 'Replayed'} {count} keys.")
