"""Thin views: parse, call a service or selector, render a page or (htmx) its partial."""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.two_factor import two_factor_verified_required
from apps.assessments import selectors, services
from apps.assessments.models import LIKERT_MAX, LIKERT_MIN, Assessment
from apps.core.errors import application_error_status, into_messages, retry_later
from apps.core.htmx import HtmxHttpRequest, page_or_partial
from apps.core.input import INTEGER_MAX, parse_int
from apps.core.ratelimit import rate_limit_count, rate_setting

LIKERT_SCALE = list(
    zip(
        range(LIKERT_MIN, LIKERT_MAX + 1),
        [_("Strongly disagree"), _("Disagree"), _("Neutral"), _("Agree"), _("Strongly agree")],
        strict=True,
    )
)


def _refusal(request: HtmxHttpRequest, error: services.AssessmentError) -> HttpResponse:
    """A clear 4xx: for htmx a fragment in the message area, else a small page with the way
    back to the teacher's assessments."""
    status = application_error_status(error)
    if status == 404 and not request.htmx:
        raise Http404(error.message)
    context = {"message": error.message}
    if request.htmx:
        response = render(request, "assessments/refused.html#refusal", context, status=status)
        return retry_later(into_messages(response))
    return retry_later(render(request, "assessments/refused.html", context, status=status))


def _credit_pending(attempt, now) -> bool:
    """Past its deadline, and just back from an outage whose credit is on its way."""
    return services.attempt_credit_pending(
        status=attempt.status,
        auto_submitted=attempt.auto_submitted,
        started_at=attempt.started_at,
        deadline=attempt.deadline,
        now=now,
    )


def _redirect(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    board = selectors.teacher_dashboard(user=request.user, now=timezone.now())
    return page_or_partial(
        request, "assessments/dashboard.html", "dashboard-lists", {"board": board}
    )


@require_POST
@login_required
def start(request: HtmxHttpRequest, assessment_id: int) -> HttpResponse:
    try:
        number = services.attempt_number_parse(request.POST.get("number", "1"))
        attempt = services.attempt_start(
            user=request.user, assessment_id=assessment_id, number=number
        )
    except services.AssessmentError as error:
        return _refusal(request, error)
    return _redirect(request, reverse("assessments:take", args=[attempt.pk]))


def _take_context(attempt, now, position: int | None = None) -> dict:
    assessment = attempt.assessment
    content = selectors.assessment_content(assessment_id=assessment.pk, version=assessment.version)
    answers = selectors.attempt_answers(attempt=attempt)
    if position is None or not 1 <= position <= content.total:
        position = selectors.attempt_resume_position(content=content, answers=answers)
    return {
        "attempt": attempt,
        "assessment": assessment,
        "items": [(question, answers.get(question.id)) for question in content.questions],
        "position": position,
        "total": content.total,
        "answered_count": sum(1 for answer in answers.values() if answer.answered),
        "seconds_left": selectors.seconds_left(deadline=attempt.deadline, now=now),
        "likert": LIKERT_SCALE,
        "text_limit": settings.ASSESSMENTS_TEXT_MAX_LENGTH,
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def take(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    """One question at a time; the page holds them all, so next/previous and answering keep
    working while the connection is down. `?q=N` opens question N, else the last answered."""
    attempt = selectors.attempt_for_user(attempt_id=attempt_id, user=request.user, with_credit=True)
    now = timezone.now()
    if not attempt.is_running(now):
        return _redirect(request, reverse("assessments:result", args=[attempt.pk]))
    selectors.attempt_meta_remember(attempt=attempt)  # warm the answer saves' cache
    try:
        position = parse_int(request.GET.get("q", ""), minimum=1, maximum=INTEGER_MAX)
    except ValueError:
        position = None  # no or a bad question number: the last answered one
    context = _take_context(attempt, now, position)
    context["save_grant"] = _save_grant_issue(request, attempt)
    return page_or_partial(request, "assessments/take.html", "questions", context)


def _save_grant_issue(request: HtmxHttpRequest, attempt) -> str:
    return services.save_grant_issue(
        attempt_id=attempt.pk, user=request.user, session_key=request.session.session_key
    )


SAVE_RATE_GROUP = "apps.assessments.views.answer"  # the name django-ratelimit gave it before
_SAVE_RATE = rate_setting("ASSESSMENTS_SAVE_RATE_LIMIT")


def _save_grant(request: HtmxHttpRequest, attempt_id: int) -> services.SaveGrant | None:
    """The take page's save grant that came with this request (the script's header, or the
    field of a form that submits), if it is good for this attempt and this session cookie."""
    return services.save_grant_read(
        grant=request.headers.get(services.SAVE_GRANT_HEADER)
        or request.POST.get(services.SAVE_GRANT_FIELD, ""),
        session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME, ""),
        attempt_id=attempt_id,
    )


def _teacher_key(teacher_id: int):
    """A django-ratelimit key: the same counter whichever way the teacher was recognised."""
    return lambda group, request: str(teacher_id)


@require_POST
def answer(request: HtmxHttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    """Save one answer: 1 SQL statement and 1 Redis round trip (the rate limit) with the take
    page's save grant, which stands in for the session and the user; otherwise the session
    path, which also gives every refusal its reason. htmx: a tiny fragment with the saved
    state, progress and time left; a plain form post goes on to the next question."""
    grant = _save_grant(request, attempt_id)
    if grant is None and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    teacher_id = grant.user_id if grant is not None else request.user.pk
    rate_limit_count(request, group=SAVE_RATE_GROUP, key=_teacher_key(teacher_id), rate=_SAVE_RATE)
    answer_input = services.AnswerInput.from_post(request.POST)
    saved = None
    if grant is not None:
        saved = services.answer_save_granted(
            grant=grant, question_id=question_id, answer=answer_input
        )
    if saved is None:  # the session path: it saves, or refuses with the reason
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.user.pk != teacher_id:  # another teacher's grant in this browser
            rate_limit_count(
                request, group=SAVE_RATE_GROUP, key=_teacher_key(request.user.pk), rate=_SAVE_RATE
            )
        try:
            saved = services.answer_save(
                user=request.user,
                attempt_id=attempt_id,
                question_id=question_id,
                answer=answer_input,
            )
        except services.AssessmentError as error:
            return _refusal(request, error)
    if not request.htmx:
        following = saved.question.position + 1
        return redirect(f"{reverse('assessments:take', args=[attempt_id])}?q={following}")
    # Rendered without the request: the fragment needs no token, user or messages, and the
    # hottest path of the site skips the context processors.
    return HttpResponse(
        render_to_string(
            "assessments/take.html#save-status",
            {
                "question": saved.question,
                "answer": saved,
                "answered_count": saved.answered_count,
                "total": saved.total,
                "seconds_left": selectors.seconds_left(deadline=saved.deadline, now=timezone.now()),
                "attempt_id": attempt_id,
            },
        )
    )


@require_GET
@login_required
@vary_on_headers("HX-Request")
def review(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    attempt = selectors.attempt_for_user(attempt_id=attempt_id, user=request.user, with_credit=True)
    now = timezone.now()
    if not attempt.is_running(now):
        return _redirect(request, reverse("assessments:result", args=[attempt.pk]))
    context = _take_context(attempt, now)
    context["unanswered"] = context["total"] - context["answered_count"]
    context["save_grant"] = _save_grant_issue(request, attempt)
    return page_or_partial(request, "assessments/review.html", "review-list", context)


@require_POST
def submit(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    """Idempotent: a double click, a second tab or a replay all land on the same result.
    With the take page's save grant it neither loads the session nor the user (the lock
    checks what they would); otherwise, or if the grant no longer holds, the session path
    submits or refuses with the reason."""
    grant = _save_grant(request, attempt_id)
    submitted = services.attempt_submit_granted(grant=grant) if grant is not None else None
    if submitted is None:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            submitted = services.attempt_submit(attempt_id=attempt_id, user=request.user)
        except services.AssessmentError as error:
            return _refusal(request, error)
    if submitted.late:
        if request.htmx:
            return _refusal(request, services.AttemptRefused(services.ERR_DEADLINE_PASSED))
        messages.error(request, services.ERR_DEADLINE_PASSED)
    return _redirect(request, reverse("assessments:result", args=[attempt_id]))


@require_GET
@login_required
@vary_on_headers("HX-Request")
def result(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    attempt = selectors.attempt_for_user(attempt_id=attempt_id, user=request.user)
    now = timezone.now()
    if attempt.is_running(now):
        return _redirect(request, reverse("assessments:take", args=[attempt.pk]))
    if _credit_pending(attempt, now):  # no result while its time is being given back
        return _refusal(request, services.AttemptCreditPending(services.ERR_CREDIT_PENDING_RELOAD))
    context = {"attempt": attempt, "assessment": attempt.assessment}
    if attempt.is_submitted:
        context["bars"] = [
            (name.title(), score["band"] or 0) for name, score in attempt.category_scores.items()
        ]
        if attempt.assessment.allow_review:
            context.update(_take_context(attempt, timezone.now()))
    return page_or_partial(request, "assessments/result.html", "result-body", context)


@require_GET
@login_required
def receipt(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    """The signed receipt of the teacher's own submitted attempt, as a JSON download
    (2 queries with the user cached: the attempt, its answers)."""
    try:
        document = services.attempt_receipt(attempt_id=attempt_id, user=request.user)
    except services.AssessmentError as error:
        return _refusal(request, error)
    response = HttpResponse(services.receipt_dumps(document), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="receipt-{attempt_id}.json"'
    return response


@require_GET
@login_required
def time_left(request: HtmxHttpRequest, attempt_id: int) -> HttpResponse:
    """The timer's check with the server, never on an answer save: when it reaches zero, and
    a while after the saves recover from a failure (an outage credit comes after the service
    is back). The seconds left and the time credited, as a fragment (1 query, the user
    cached)."""
    attempt = selectors.attempt_for_user(attempt_id=attempt_id, user=request.user, with_credit=True)
    now = timezone.now()
    running = attempt.is_running(now)
    if not running and _credit_pending(attempt, now):  # the timer asks again, not submits
        return _refusal(request, services.AttemptCreditPending(services.ERR_CREDIT_PENDING))
    left = selectors.seconds_left(deadline=attempt.deadline, now=now)
    context = {"attempt": attempt, "seconds_left": left if running else 0}
    return render(request, "assessments/time_credit.html#time-sync", context)


@require_GET
@staff_member_required
@two_factor_verified_required
def preview(request: HtmxHttpRequest, assessment_id: int) -> HttpResponse:
    assessment = get_object_or_404(Assessment, pk=assessment_id)
    content = selectors.assessment_content(assessment_id=assessment.pk, version=assessment.version)
    return render(
        request,
        "assessments/preview.html",
        {
            "assessment": assessment,
            "items": [(question, None) for question in content.questions],
            "likert": LIKERT_SCALE,
        },
    )


@require_GET
@staff_member_required
@two_factor_verified_required
def results_index(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request, "assessments/results_index.html", {"assessments": selectors.results_assessments()}
    )


@require_GET
@staff_member_required
@two_factor_verified_required
@vary_on_headers("HX-Request")
def results_detail(request: HtmxHttpRequest, assessment_id: int) -> HttpResponse:
    assessment = get_object_or_404(Assessment, pk=assessment_id)
    summary = selectors.results_summary(assessment=assessment)
    return page_or_partial(
        request,
        "assessments/results_detail.html",
        "results-charts",
        {"assessment": assessment, "summary": summary},
    )
