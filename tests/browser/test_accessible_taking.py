"""Accessible taking (issue #16 item 1) in real Chromium: the whole teacher journey by keyboard
alone, the timer's spoken announcements (10, 5, 1 minute and on request, never every second),
and the number of answers waiting to be sent while the save route is held up."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.assessments.models import Answer, Attempt
from tests.accounts.factories import TEST_PASSWORD
from tests.assessments.conftest import quiz, teacher  # noqa: F401 (fixtures)
from tests.browser.axe import assert_accessible
from tests.browser.test_assessments import wait_for_answers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plain_http(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server


def log_in(page, teacher) -> None:  # noqa: F811
    page.goto("/accounts/login/?next=/assessments/")
    page.fill("#id_username", teacher.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/assessments/$"))


def start(page, quiz) -> Attempt:  # noqa: F811
    page.locator(f"[data-assessment='{quiz.pk}'] button").click()
    expect(page).to_have_url(re.compile(r"/assessments/attempts/\d+/"))
    return Attempt.objects.get(assessment=quiz)


# --- keyboard only ----------------------------------------------------------------------
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {visible: el.matches(':focus-visible') && style.outlineStyle !== 'none'
                   && parseFloat(style.outlineWidth) >= 2,
          html: el.outerHTML.slice(0, 120)};
}"""


def tab_to(page, selector: str, *, back: bool = False, limit: int = 40) -> None:
    """Tab (Shift+Tab with `back`) until `selector` has the focus; every stop on the way must
    show a visible focus indicator."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = page.evaluate(FOCUSED)
        if focused:
            assert focused["visible"], f"no visible focus on {focused['html']}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with {'Shift+' if back else ''}Tab")


def expect_focus(page, selector: str) -> None:
    expect(page.locator(selector)).to_be_focused()


def test_the_whole_journey_by_keyboard_alone(page, plain_http, teacher, quiz):  # noqa: F811
    single, multiple, likert, text = (quiz.q[k] for k in ("single", "multiple", "likert", "text"))

    # Log in: the username field has the focus when the page opens.
    page.goto("/accounts/login/?next=/assessments/")
    expect_focus(page, "#id_username")
    page.keyboard.type(teacher.username)
    page.keyboard.press("Tab")
    page.keyboard.type(TEST_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/assessments/$"))

    # Dashboard: the skip link first, then on to the quiz's Start button.
    page.keyboard.press("Tab")
    expect_focus(page, ".skip-link")
    page.keyboard.press("Enter")
    expect_focus(page, "main")
    tab_to(page, f"[data-assessment='{quiz.pk}'] button")
    expect(page.locator(f"[data-assessment='{quiz.pk}'] button")).to_have_accessible_description(
        quiz.title
    )  # one of several "Start" buttons: it says which assessment it starts
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/assessments/attempts/\d+/"))
    attempt = Attempt.objects.get(assessment=quiz)

    # Single choice: Space picks the first choice, the arrows move between choices.
    tab_to(page, "#q-1 input[name=choice]")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(page.locator(f"#q-1 input[value='{single.right.pk}']")).to_be_checked()
    tab_to(page, "#q-1 a[rel=next]")
    page.keyboard.press("Enter")
    expect_focus(page, "#q-2 .question-text")  # the focus follows to the new question

    # Multiple choice: Space ticks each box.
    for choice in multiple.right:
        tab_to(page, f"#q-2 input[value='{choice.pk}']")
        page.keyboard.press("Space")
    tab_to(page, "#q-2 a[rel=next]")
    page.keyboard.press("Enter")
    expect_focus(page, "#q-3 .question-text")

    # Likert: arrows to "Agree", then Enter saves and moves on, like "Save and next".
    tab_to(page, "#q-3 input[name=value]")
    page.keyboard.press("Space")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#q-3 input[value='4']")).to_be_checked()
    page.keyboard.press("Enter")
    expect_focus(page, "#q-4 .question-text")

    # Short text, then back to question 1 through the question map and forward again.
    tab_to(page, "#q-4 textarea")
    page.keyboard.type("Paris")
    tab_to(page, f"#map-{single.pk}", back=True)
    page.keyboard.press("Enter")
    expect_focus(page, "#q-1 .question-text")
    expect(page.locator(f"#q-1 input[value='{single.right.pk}']")).to_be_checked()
    tab_to(page, f"#map-{text.pk}", back=True)
    expect(page.locator(f"#map-{single.pk}")).to_have_attribute("aria-current", "step")
    page.keyboard.press("Enter")
    expect_focus(page, "#q-4 .question-text")
    expect(page.locator("#q-4 textarea")).to_have_value("Paris")

    # Review (it waits for every answer to be on the server), submit, the result.
    tab_to(page, "a[data-needs-sync]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/review/$"))
    expect(page.locator("#review-list")).to_contain_text("4 of 4 answered")
    tab_to(page, "#submit-form button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/result/$"))

    answers = {a.question_id: a for a in Answer.objects.filter(attempt=attempt)}
    assert answers[single.pk].choice_ids == [single.right.pk]
    assert sorted(answers[multiple.pk].choice_ids) == sorted(c.pk for c in multiple.right)
    assert answers[likert.pk].value == 4
    assert answers[text.pk].text == "Paris"
    attempt.refresh_from_db()
    # 2 (single) + 3 (both right boxes) + 4 (the Likert value) + 2 (the text)
    assert attempt.is_submitted and attempt.total_score == Decimal(11)
    expect(page.locator("#total-score")).to_have_text("11")


# Every message the live region is given, in order.
SPOKEN_LOG = """() => {
  window.spoken = [];
  const region = document.getElementById('time-announcer');
  new MutationObserver(() => region.textContent && window.spoken.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


# --- the timer --------------------------------------------------------------------------
def test_the_timer_speaks_at_10_5_and_1_minute_and_when_asked(page, plain_http, teacher, quiz):  # noqa: F811
    log_in(page, teacher)
    page.clock.install()  # the page's clock only: the server's deadline stays the truth
    start(page, quiz)
    countdown = page.locator("#countdown")
    announcer = page.locator("#time-announcer")
    expect(countdown).to_have_attribute("role", "timer")
    expect(countdown).to_have_attribute("aria-live", "off")
    expect(countdown).to_have_accessible_name("Time left")
    expect(announcer).to_have_attribute("aria-live", "polite")
    seconds = int(countdown.get_attribute("data-seconds-left"))
    assert 1790 <= seconds <= 1800

    page.evaluate(SPOKEN_LOG)
    page.clock.run_for(5_000)  # seconds go by on screen, and nothing is said
    expect(countdown).to_have_text(re.compile(r"^(29:5\d|30:00)$"))
    expect(announcer).to_have_text("")

    elapsed = 5
    for threshold, spoken in (
        (600, "10 minutes left"),
        (300, "5 minutes left"),
        (60, "1 minute left"),
    ):
        just_before = seconds - threshold - 2
        page.clock.fast_forward((just_before - elapsed) * 1000)
        page.clock.run_for(1_000)
        expect(announcer).to_have_text(re.compile(r"^(\d+ minutes left)?$"))  # not yet this one
        page.clock.run_for(4_000)
        expect(announcer).to_have_text(spoken)
        elapsed = just_before + 5
    expect(countdown).to_have_class(re.compile("urgent"))
    assert_accessible(page, "take, the last minute")
    # Each said once, never once a second.
    assert page.evaluate("window.spoken") == ["10 minutes left", "5 minutes left", "1 minute left"]

    # On request: the button (by keyboard) and the shortcut, the same words read again.
    page.locator("#time-left").focus()
    page.keyboard.press("Enter")
    page.clock.run_for(200)
    expect(announcer).to_have_text(re.compile(r"^\d\d seconds left$"))
    page.clock.run_for(10_000)
    page.keyboard.press("Alt+Shift+M")
    page.clock.run_for(200)
    expect(announcer).to_have_text(re.compile(r"^\d\d seconds left$"))


def test_a_threshold_is_not_said_twice_when_a_save_moves_the_timer_up_a_little(
    page,
    plain_http,
    teacher,  # noqa: F811
    quiz,  # noqa: F811
):
    """Each save brings the server's time left, seconds more or less than the page's (the
    network's delay varies): a save just after "5 minutes left" must not make the page cross
    5 minutes, and say it, again. A real credit (minutes more) is news and is said again."""
    log_in(page, teacher)
    page.clock.install()
    attempt = start(page, quiz)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() + timedelta(seconds=303))
    page.reload()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^05:0[0-3]$"))
    page.evaluate(SPOKEN_LOG)
    page.clock.run_for(5_000)
    expect(page.locator("#time-announcer")).to_have_text("5 minutes left")

    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() + timedelta(seconds=306))
    page.locator(f"#q-1 input[value='{quiz.q['single'].right.pk}']").check()
    wait_for_answers(attempt.pk, 1)
    page.clock.run_for(1_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^05:0[2-5]$"))
    page.clock.run_for(8_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^04:5\d$"))
    assert page.evaluate("window.spoken") == ["5 minutes left"]

    # 4 minutes credited: 5 minutes is crossed again, and said again.
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() + timedelta(seconds=536))
    page.locator(f"#map-{quiz.q['likert'].pk}").click()
    page.locator("#q-3 input[value='5']").check()
    wait_for_answers(attempt.pk, 2)
    page.clock.run_for(1_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^08:5\d$"))
    page.clock.fast_forward(230_000)
    page.clock.run_for(5_000)
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^04:5\d$"))
    assert page.evaluate("window.spoken") == ["5 minutes left", "5 minutes left"]


# --- answers waiting to be sent ----------------------------------------------------------
def test_the_answers_waiting_to_be_sent_are_counted_in_the_teachers_language(
    page,
    context,
    live_server,
    plain_http,
    teacher,  # noqa: F811
    quiz,  # noqa: F811
):
    context.add_cookies([{"name": "django_language", "value": "ms", "url": live_server.url}])
    log_in(page, teacher)
    attempt = start(page, quiz)
    held, released = [], []

    def hold(route):  # the save route answers nothing until released
        route.continue_() if released else held.append(route)

    page.route(re.compile(r"/answer/$"), hold)

    page.locator(f"#q-1 input[value='{quiz.q['single'].right.pk}']").check()
    page.locator(f"#map-{quiz.q['likert'].pk}").click()
    page.locator("#q-3 input[value='5']").check()
    page.locator(f"#map-{quiz.q['text'].pk}").click()
    page.locator("#q-4 textarea").fill("Paris")

    pending = page.locator("#pending-count")
    expect(pending).to_have_text("3 jawapan menunggu untuk dihantar")
    expect(pending).to_be_visible()
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saving")
    # Told to screen readers once the number has stood for a moment.
    expect(page.locator("#queue-announcer")).to_have_text("3 jawapan menunggu untuk dihantar")
    assert len(held) == 1  # one at a time, in order
    assert_accessible(page, "take, answers waiting to be sent")
    assert not Answer.objects.filter(attempt=attempt).exists()

    released.append(True)
    for route in held:
        route.continue_()
    expect(pending).to_be_hidden()
    expect(pending).to_have_attribute("data-count", "0")
    expect(page.locator("#connection-state")).to_have_attribute("data-state", "saved")
    wait_for_answers(attempt.pk, 3)
    assert Answer.objects.get(attempt=attempt, question=quiz.q["text"]).text == "Paris"
    saved = page.locator("#connection-state").get_attribute("data-label-saved")
    expect(page.locator("#queue-announcer")).to_have_text(saved)
