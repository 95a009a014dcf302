"""Demo data: a VESPA-style questionnaire (32 statements, five categories, a band table) and
a 10-item quiz, both open now for every demo teacher. Idempotent (keyed by slug)."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.assessments import services
from apps.assessments.models import Assessment, Assignment, Choice, Question, ScoreBand

VESPA_SLUG = "vespa-mindset"
QUIZ_SLUG = "classroom-practice-quiz"
OPEN_DAYS = 30

# (category, statement, reverse keyed)
VESPA_STATEMENTS = [
    ("vision", "I know what I want to achieve in my teaching this year.", False),
    ("vision", "I have a clear picture of the teacher I want to become.", False),
    ("vision", "I set myself goals for my professional development.", False),
    ("vision", "I often feel unsure why I am doing this work.", True),
    ("vision", "My long-term plans guide what I do each week.", False),
    ("vision", "I can explain how my lessons connect to my students' futures.", False),
    ("effort", "I put in extra work when a lesson is not going well.", False),
    ("effort", "I prepare my lessons thoroughly.", False),
    ("effort", "I give up quickly when a new method is hard to use.", True),
    ("effort", "I spend time outside class improving my materials.", False),
    ("effort", "I push myself to do better than last term.", False),
    ("effort", "I work steadily rather than in last-minute bursts.", False),
    ("systems", "I keep my planning organised and up to date.", False),
    ("systems", "I track each student's progress in a consistent way.", False),
    ("systems", "I often lose track of marking and deadlines.", True),
    ("systems", "I plan my week before it starts.", False),
    ("systems", "I use a system to record what worked in each lesson.", False),
    ("systems", "My resources are easy to find when I need them.", False),
    ("systems", "I break big tasks into smaller steps.", False),
    ("practice", "I try out new teaching techniques in class.", False),
    ("practice", "I ask colleagues to observe and comment on my lessons.", False),
    ("practice", "I rehearse difficult explanations before teaching them.", False),
    ("practice", "I repeat the same activities whether they work or not.", True),
    ("practice", "I reflect on feedback and change my practice.", False),
    ("practice", "I use assessment results to plan what to reteach.", False),
    ("practice", "I practise skills I find hard until they improve.", False),
    ("attitude", "I believe every student can improve with the right support.", False),
    ("attitude", "I stay calm when a lesson goes wrong.", False),
    ("attitude", "Criticism of my teaching makes me want to stop trying.", True),
    ("attitude", "I see setbacks as a chance to learn.", False),
    ("attitude", "I am confident I can handle a difficult class.", False),
    ("attitude", "I enjoy being challenged in my work.", False),
]
# Mean of the answered items (1-5) from this value up is the band: 1.0 -> 1, ..., 4.6 -> 10.
VESPA_BANDS = [(Decimal("1.0") + Decimal("0.4") * i, i + 1) for i in range(10)]

# (question, kind, [(choice, points or correct)])
QUIZ_QUESTIONS = [
    ("Which is a formative assessment?", "single",
     [("An exit ticket at the end of a lesson", 1), ("The final exam", 0), ("A report card", 0)]),
    ("Wait time after asking a question should usually be about:", "single",
     [("3 to 5 seconds", 1), ("Under 1 second", 0), ("2 minutes", 0)]),
    ("Which help students retain learning? (choose all that apply)", "multiple",
     [("Spaced practice", True), ("Retrieval practice", True), ("Re-reading only", False),
      ("Interleaving topics", True)]),
    ("Bloom's taxonomy level above 'apply':", "single",
     [("Analyse", 1), ("Remember", 0), ("Understand", 0)]),
    ("A rubric mainly helps to:", "single",
     [("Make grading criteria clear", 1), ("Shorten lessons", 0), ("Replace feedback", 0)]),
    ("Which are signs of a well-run classroom routine? (choose all that apply)", "multiple",
     [("Students know how to start work", True), ("Transitions are quick", True),
      ("The teacher repeats every instruction five times", False)]),
    ("Differentiation means:", "single",
     [("Adapting teaching to students' needs", 1), ("Giving everyone the same worksheet", 0),
      ("Seating students by height", 0)]),
    ("Name the feedback that tells a student what to do next (one word).", "text",
     [("feedforward", True)]),
    ("Think-pair-share is an example of:", "single",
     [("Cooperative learning", 1), ("Direct instruction only", 0), ("Summative testing", 0)]),
    ("A learning objective should be:", "single",
     [("Specific and measurable", 1), ("Secret until the end", 0), ("As broad as possible", 0)]),
]  # fmt: skip


def _vespa() -> Assessment:
    assessment, created = Assessment.objects.get_or_create(
        slug=VESPA_SLUG,
        defaults={
            "title": "VESPA mindset questionnaire",
            "kind": Assessment.Kind.QUESTIONNAIRE,
            "instructions": "Say how far you agree with each statement. There are no right "
            "answers; your profile shows Vision, Effort, Systems, Practice and Attitude.",
            "time_limit_minutes": 20,
            "category_aggregate": Assessment.CategoryAggregate.MEAN,
        },
    )
    if created:
        Question.objects.bulk_create(
            Question(
                assessment=assessment,
                position=position,
                kind=Question.Kind.LIKERT,
                text=text,
                category=category,
                reverse_keyed=reverse,
            )
            for position, (category, text, reverse) in enumerate(VESPA_STATEMENTS, start=1)
        )
        ScoreBand.objects.bulk_create(
            ScoreBand(assessment=assessment, category=category, min_raw=low, band=band)
            for category in dict.fromkeys(c for c, _, _ in VESPA_STATEMENTS)
            for low, band in VESPA_BANDS
        )
    return assessment


def _quiz() -> Assessment:
    assessment, created = Assessment.objects.get_or_create(
        slug=QUIZ_SLUG,
        defaults={
            "title": "Classroom practice quiz",
            "kind": Assessment.Kind.QUIZ,
            "instructions": "Ten questions on everyday classroom practice.",
            "time_limit_minutes": 15,
            "max_attempts": 2,
        },
    )
    if created:
        for position, (text, kind, choices) in enumerate(QUIZ_QUESTIONS, start=1):
            question = Question.objects.create(
                assessment=assessment, position=position, kind=kind, text=text, points=1
            )
            Choice.objects.bulk_create(
                Choice(
                    question=question,
                    position=index,
                    text=choice,
                    points=mark if kind == Question.Kind.SINGLE else 0,
                    is_correct=bool(mark),
                )
                for index, (choice, mark) in enumerate(choices, start=1)
            )
    return assessment


@transaction.atomic
def seed(*, stdout=None) -> None:
    now = timezone.now()
    for assessment in (_vespa(), _quiz()):
        # Open for every demo teacher (all districts and batches) from now on.
        if not Assignment.objects.filter(assessment=assessment, closes_at__gt=now).exists():
            Assignment.objects.create(
                assessment=assessment,
                opens_at=now - timedelta(minutes=5),
                closes_at=now + timedelta(days=OPEN_DAYS),
            )
            transaction.on_commit(services.dashboard_invalidate)
    if stdout:
        stdout.write("assessments: VESPA questionnaire (32 statements) and a 10-item quiz, open")
