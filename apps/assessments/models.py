"""Assessments: authored content (Assessment, Question, Choice, ScoreBand), when it is open
(Assignment, Accommodation) and what teachers do with it (Attempt, Answer)."""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

LIKERT_MIN = 1
LIKERT_MAX = 5


class Assessment(models.Model):
    class Kind(models.TextChoices):
        QUIZ = "quiz", _("Quiz")
        QUESTIONNAIRE = "questionnaire", _("Questionnaire")

    class CategoryAggregate(models.TextChoices):
        SUM = "sum", _("Sum of the items")
        MEAN = "mean", _("Mean of the answered items")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.QUIZ)
    instructions = models.TextField(_("instructions"), blank=True)
    time_limit_minutes = models.PositiveIntegerField(
        _("time limit (minutes)"), default=30, validators=[MinValueValidator(1)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=1, validators=[MinValueValidator(1)]
    )
    category_aggregate = models.CharField(
        _("category raw score"),
        max_length=8,
        choices=CategoryAggregate,
        default=CategoryAggregate.MEAN,
    )
    allow_review = models.BooleanField(
        _("teachers may review their answers on the results page"), default=True
    )
    # Bumped on every change (admin, services): cached question content is keyed by it.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("assessments:preview", args=[self.pk])

    @property
    def is_questionnaire(self) -> bool:
        return self.kind == self.Kind.QUESTIONNAIRE


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        LIKERT = "likert", _("Likert 1-5")
        TEXT = "text", _("Short text")

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.SINGLE)
    text = models.TextField(_("text"))
    # Questionnaires: the category the item is scored into (e.g. "vision").
    category = models.SlugField(_("category"), max_length=32, blank=True)
    reverse_keyed = models.BooleanField(_("reverse keyed"), default=False)
    # Multiple choice and short text: the points of a fully right answer.
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, default=Decimal(1))

    class Meta:
        ordering = ["assessment", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "position"], name="question_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text[:60]}"


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveIntegerField(_("position"), default=0)
    text = models.CharField(_("text"), max_length=500)
    # Single choice: the points this choice scores. Multiple choice: partial credit from
    # is_correct. Short text: the correct choices are the accepted answers.
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, default=Decimal(0))
    is_correct = models.BooleanField(_("correct"), default=False)

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self) -> str:
        return self.text


class ScoreBand(models.Model):
    """A questionnaire category's raw score from `min_raw` up maps to `band` (1-10)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="bands")
    category = models.SlugField(_("category"), max_length=32)
    min_raw = models.DecimalField(_("from raw score"), max_digits=8, decimal_places=2)
    band = models.PositiveSmallIntegerField(
        _("band"), validators=[MinValueValidator(1), MaxValueValidator(10)]
    )

    class Meta:
        ordering = ["assessment", "category", "min_raw"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "category", "min_raw"], name="scoreband_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} >= {self.min_raw}: {self.band}"


class Assignment(models.Model):
    """An assessment open for a district and/or a batch (both empty: everyone) in a window."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="assignments")
    district = models.ForeignKey(
        "accounts.District", on_delete=models.CASCADE, null=True, blank=True
    )
    batch = models.ForeignKey("accounts.Batch", on_delete=models.CASCADE, null=True, blank=True)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))

    class Meta:
        ordering = ["-opens_at"]
        indexes = [models.Index(fields=["closes_at", "district", "batch"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="assignment_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.assessment} ({self.district or _('all')} / {self.batch or _('all')})"


class Accommodation(models.Model):
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="accommodations"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    extra_time_factor = models.DecimalField(
        _("time factor"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.5"),
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(5))],
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user"], name="accommodation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} x{self.extra_time_factor}"


class Attempt(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        SUBMITTED = "submitted", _("Submitted")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attempts"
    )
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="attempts")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField(_("attempt number"), default=1)
    status = models.CharField(max_length=16, choices=Status, default=Status.IN_PROGRESS)
    started_at = models.DateTimeField(_("started"))
    deadline = models.DateTimeField(_("deadline"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    auto_submitted = models.BooleanField(_("submitted automatically"), default=False)
    total_score = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    # {"vision": {"raw": 3.5, "band": 7}, ...}: computed in SQL at submit.
    category_scores = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "assessment", "number"], name="attempt_unique_number"
            )
        ]
        indexes = [
            models.Index(
                fields=["deadline"],
                name="attempt_running_deadline",
                condition=Q(status="in_progress"),
            ),
            models.Index(fields=["assessment", "status"], name="attempt_assessment_status"),
        ]

    def __str__(self) -> str:
        return f"{self.assessment} #{self.number} ({self.user})"

    @property
    def is_submitted(self) -> bool:
        return self.status == self.Status.SUBMITTED

    def is_running(self, now) -> bool:
        """Open for answers at `now`: not submitted, deadline not reached. Past its deadline
        an attempt counts as finished even before its auto-submit has run."""
        return not self.is_submitted and self.deadline > now


class Answer(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    # Single and multiple choice: the chosen Choice ids (checked against the question).
    choice_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    value = models.PositiveSmallIntegerField(null=True, blank=True)  # Likert 1-5
    text = models.TextField(blank=True)
    flagged = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The upsert's conflict target: one answer per question and attempt.
            models.UniqueConstraint(fields=["attempt", "question"], name="answer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.question_id}"


class AttemptAdjustment(models.Model):
    """The audit row of a staff incident tool (services/incidents.py) or of the automatic
    outage credit (services/outages.py): who gave an attempt extra minutes or re-opened it
    after an automatic submit (no one: the system, for an outage), why, and its deadline
    before and after. Append-only."""

    class Kind(models.TextChoices):
        EXTENDED = "extended", _("Extra minutes")
        REOPENED = "reopened", _("Re-opened")
        OUTAGE = "outage", _("Service interruption")

    attempt = models.ForeignKey(Attempt, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind)
    minutes = models.PositiveSmallIntegerField(_("minutes"))
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("done by"),
        null=True,  # the system: an outage credit
        blank=True,
    )
    # The outage credited (kind "outage"): at most one row per attempt and outage.
    outage = models.ForeignKey(
        "core.ServiceOutage",
        on_delete=models.PROTECT,
        related_name="adjustments",
        verbose_name=_("outage"),
        null=True,
        blank=True,
    )
    old_deadline = models.DateTimeField(_("deadline before"))
    new_deadline = models.DateTimeField(_("deadline after"))
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "outage"], name="adjustment_once_per_outage")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} +{self.minutes} ({self.attempt_id})"
