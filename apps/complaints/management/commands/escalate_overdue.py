from django.core.management.base import BaseCommand

from apps.complaints.selectors import complaints_overdue
from apps.complaints.services import complaint_escalate_overdue


class Command(BaseCommand):
    help = "Mark open complaints past their SLA due date as escalated and report every overdue one."

    def handle(self, *args, **options):
        escalated = complaint_escalate_overdue()
        for complaint in escalated:
            self.stdout.write(f"escalated {complaint.reference} (due {complaint.due_at:%Y-%m-%d})")
        total = complaints_overdue().count()
        self.stdout.write(
            self.style.SUCCESS(f"{len(escalated)} newly escalated; {total} overdue in all.")
        )
