import csv
import io

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.demo import DEMO_PASSWORD
from apps.assessments import services
from apps.assessments.demo import QUIZ_SLUG, VESPA_SLUG
from apps.assessments.management.commands.export_results import ERR_CHUNK_SIZE, ERR_OUTPUT
from apps.assessments.models import Assessment, Assignment, Attempt, Question, ScoreBand
from tests.assessments.helpers import save

pytestmark = pytest.mark.django_db


def test_open_and_close_assessment(quiz, teacher):
    call_command("open_assessment", quiz.slug, "--district", teacher.district.code, "--hours", "1")
    window = Assignment.objects.filter(assessment=quiz, district=teacher.district).get()
    assert (window.closes_at - window.opens_at).total_seconds() == 3600
    attempt = services.attempt_start(user=teacher, assessment_id=quiz.pk)
    out = io.StringIO()
    call_command("close_assessment", str(quiz.pk), stdout=out)
    assert "1 running attempt(s) submitted" in out.getvalue()
    attempt.refresh_from_db()
    assert attempt.auto_submitted


def test_open_assessment_rejects_unknown_names(quiz):
    with pytest.raises(CommandError, match="No assessment"):
        call_command("open_assessment", "nope")
    with pytest.raises(CommandError, match="Unknown district"):
        call_command("open_assessment", quiz.slug, "--district", "atlantis")
    with pytest.raises(CommandError, match="Not a date"):
        call_command("open_assessment", quiz.slug, "--opens", "tomorrow")


def test_submit_expired_attempts_command(attempt):
    Attempt.objects.filter(pk=attempt.pk).update(deadline=attempt.started_at)
    out = io.StringIO()
    call_command("submit_expired_attempts", stdout=out)
    assert "1 expired attempt(s) submitted" in out.getvalue()


def test_export_results_streams_rows_with_category_columns(teacher, other_teacher, questionnaire):
    for user, value in ((teacher, 5), (other_teacher, 1)):
        attempt = services.attempt_start(user=user, assessment_id=questionnaire.pk)
        save(attempt, questionnaire.items[0], value=value)
        save(attempt, questionnaire.items[3], value=value)
        services.attempt_submit(attempt_id=attempt.pk, user=user)
    out = io.StringIO()
    call_command(
        "export_results", questionnaire.slug, "--format", "csv", "--chunk-size", "1",
        "--no-progress", stdout=out,
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["employee_id"] for row in rows] == [teacher.employee_id, other_teacher.employee_id]
    assert rows[0]["calm_band"] == "10" and rows[0]["grit_raw"] == "1.0"  # 5 reversed is 1
    assert rows[1]["calm_band"] == "1" and rows[1]["grit_band"] == "10"
    assert rows[0]["q1"] == "5" and rows[0]["q2"] == ""
    assert (rows[0]["total_score"], rows[0]["max_score"]) == ("6", "20")


def test_export_results_to_a_file_with_a_progress_bar(tmp_path, attempt, capsys):
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    target = tmp_path / "out.csv"
    call_command("export_results", attempt.assessment.slug, "--output", str(target))
    assert len(target.read_text().splitlines()) == 2
    assert "1/1" in capsys.readouterr().err  # tqdm's bar


def test_export_results_neutralises_formulas_in_text_and_keeps_numbers(attempt, quiz):
    formula = '=HYPERLINK("http://evil.example","x")'
    save(attempt, quiz.q["text"], text=formula)
    save(attempt, quiz.q["likert"], value=4)
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    out = io.StringIO()
    call_command("export_results", quiz.slug, "--no-progress", stdout=out)
    [row] = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["q4"] == "'" + formula
    # Numbers the app computed are written as numbers, never quoted.
    assert (row["q3"], row["total_score"], row["max_score"], row["percent"]) == (
        "4",
        "4",
        "12",
        "33.3",
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [("/nonexistent/x.csv", "No such file or directory"), ("/dev/full", "No space left on device")],
)
def test_export_results_output_errors_are_one_line(attempt, target, reason):
    services.attempt_submit(attempt_id=attempt.pk, user=attempt.user)
    with pytest.raises(CommandError) as raised:
        call_command("export_results", attempt.assessment.slug, "-o", target, "--no-progress")
    assert str(raised.value) == ERR_OUTPUT.format(path=target, reason=reason)


def test_export_results_refuses_a_chunk_size_below_one(quiz):
    with pytest.raises(CommandError) as raised:
        call_command("export_results", quiz.slug, "--chunk-size", "0")
    assert str(raised.value) == ERR_CHUNK_SIZE


def test_seed_demo_creates_the_questionnaire_and_quiz_open_for_demo_teachers(client):
    call_command("seed_demo")
    call_command("seed_demo")
    vespa = Assessment.objects.get(slug=VESPA_SLUG)
    assert vespa.questions.count() == 32
    assert set(vespa.questions.values_list("category", flat=True)) == {
        "vision", "effort", "systems", "practice", "attitude",
    }  # fmt: skip
    assert ScoreBand.objects.filter(assessment=vespa).count() == 50
    quiz = Assessment.objects.get(slug=QUIZ_SLUG)
    assert quiz.questions.count() == 10
    assert quiz.questions.filter(kind=Question.Kind.TEXT).exists()
    assert Assignment.objects.count() == 2
    assert client.login(username="T1020", password=DEMO_PASSWORD)
    page = client.get("/assessments/").content.decode()
    assert vespa.title in page and quiz.title in page
