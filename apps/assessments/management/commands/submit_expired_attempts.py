from django.core.management.base import BaseCommand

from apps.assessments import services


class Command(BaseCommand):
    help = "Submit every attempt past its deadline (catches auto-submit jobs a worker missed)."

    def handle(self, *args, **options):
        count = services.attempts_submit_expired()
        self.stdout.write(self.style.SUCCESS(f"{count} expired attempt(s) submitted."))
