from django.core.management.base import BaseCommand

from apps.sync.selectors import outbox_status


class Command(BaseCommand):
    help = "Outbox counts by status, the age of the oldest pending row, per connector."

    def handle(self, *args, **options):
        for status in outbox_status():
            state = "paused" if status.paused else "running"
            if not status.configured:
                state = "NOT CONFIGURED (events stay pending)"
            self.stdout.write(self.style.MIGRATE_HEADING(f"{status.connector}: {state}"))
            for name, count in status.counts.items():
                self.stdout.write(f"  {name:<10} {count}")
            age = status.oldest_pending_age
            self.stdout.write(f"  oldest pending: {str(age).split('.')[0] if age else '-'}")
            if status.expired_leases:
                self.stdout.write(self.style.WARNING(f"  expired leases: {status.expired_leases}"))
            if status.cooldown_seconds:
                self.stdout.write(f"  cooling down: {status.cooldown_seconds:.1f} s")
            if status.budget_remaining is not None:
                self.stdout.write(f"  daily calls left: {status.budget_remaining}")
