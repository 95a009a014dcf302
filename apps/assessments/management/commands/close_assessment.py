from apps.assessments import services
from apps.assessments.management.commands._base import AssessmentCommand


class Command(AssessmentCommand):
    help = "Close an assessment's windows now; running attempts are submitted from saved answers."

    def handle(self, *args, **options):
        assessment = self.get_assessment(options)
        submitted = services.assessment_close(assessment=assessment)
        self.stdout.write(
            self.style.SUCCESS(f"Closed {assessment}; {submitted} running attempt(s) submitted.")
        )
