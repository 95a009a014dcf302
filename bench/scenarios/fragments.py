"""Scenario 6: every HTMX fragment's bytes against the full page it updates (goal <= 5%).

The page is fetched as a browser would (no HX-Request), the fragment as htmx asks for it;
both bodies are measured uncompressed, as the server renders them. Region partials (the
main region of a page, for a filter change or an htmx request to a page's own URL) are
reported too, without the 5% goal: they carry most of the page by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from apps.complaints.selectors import complaint_public_status, complaint_status_fingerprint
from apps.complaints.services import complaint_file
from bench.assessments import (
    answers_fill,
    attempts_create,
    questionnaire_create,
    questionnaire_delete,
)
from bench.complaints import DESCRIPTION
from bench.context import Bench
from bench.data import bench_staff
from bench.report import ScenarioResult, fmt_bytes, fmt_pct
from bench.scenarios.base import Scenario
from bench.sessions import csrf_secret, sessions_create

SHARE_GOAL = 0.05


@dataclass(frozen=True)
class Fragment:
    label: str
    path: str  # the fragment's own request (sent with HX-Request: true)
    page: str = ""  # the page it updates (GET); "" = the same request without HX-Request
    session: tuple[str, str] | None = None
    method: str = "GET"
    data: dict[str, str] = field(default_factory=dict)
    region: bool = False  # the page's main region, not a row or status fragment


class Fragments(Scenario):
    name = "fragments"
    title = "Fragments"

    def run(self, bench: Bench) -> ScenarioResult:
        result = self.result()
        fragments = self.assessment_fragments(bench) + self.complaint_fragments()
        for fragment in fragments:
            self.measure(bench, result, fragment)
        return result

    @staticmethod
    def measure(bench: Bench, result: ScenarioResult, fragment: Fragment) -> None:
        request = {
            "method": fragment.method,
            "session": fragment.session,
            "data": fragment.data if fragment.method == "POST" else None,
        }
        if fragment.page:
            page_status, _, page = bench.fetch(fragment.page, session=fragment.session)
        else:
            page_status, _, page = bench.fetch(fragment.path, **request)
        part_status, _, part = bench.fetch(fragment.path, htmx=True, **request)
        if page_status >= 500 or part_status >= 500:
            raise RuntimeError(f"{fragment.label}: page {page_status}, fragment {part_status}")
        share = len(part) / len(page)
        result.add(
            f"region: {fragment.label}" if fragment.region else fragment.label,
            {"fragment": len(part), "page": len(page), "share": share, "status": part_status},
            f"{fmt_bytes(len(part))} of {fmt_bytes(len(page))} ({fmt_pct(share)})",
            "" if fragment.region else f"<= {fmt_pct(SHARE_GOAL)}",
            None if fragment.region else share <= SHARE_GOAL,
        )

    @staticmethod
    def assessment_fragments(bench: Bench) -> list[Fragment]:
        questionnaire_delete("fragments")
        questionnaire = questionnaire_create("fragments")
        running, done = attempts_create(questionnaire, bench.teachers()[:2])
        answers_fill(questionnaire, [running.pk, done.pk])
        teacher, finished, staff = sessions_create(users=[running.user, done.user, bench_staff()])
        # The second attempt goes through the real submit, so its result page is real.
        bench.fetch(
            reverse("assessments:submit", args=[done.pk]), method="POST", session=finished, data={}
        )
        take = reverse("assessments:take", args=[running.pk])
        results = reverse("assessments:results-detail", args=[questionnaire.assessment.pk])
        return [
            Fragment(
                "answer saved (status fragment) vs question page",
                path=reverse(
                    "assessments:answer", args=[running.pk, questionnaire.questions[1].pk]
                ),
                page=take,
                session=teacher,
                method="POST",
                data={"value": "4"},
            ),
            Fragment(
                "question list vs question page",
                path=f"{take}?q=2",
                session=teacher,
                region=True,
            ),
            Fragment(
                "teacher dashboard lists",
                path=reverse("assessments:dashboard"),
                session=teacher,
                region=True,
            ),
            Fragment(
                "review list",
                path=reverse("assessments:review", args=[running.pk]),
                session=teacher,
                region=True,
            ),
            Fragment(
                "result body",
                path=reverse("assessments:result", args=[done.pk]),
                session=finished,
                region=True,
            ),
            Fragment("results charts (staff)", path=results, session=staff, region=True),
        ]

    @staticmethod
    def complaint_fragments() -> list[Fragment]:
        filed = complaint_file(description=DESCRIPTION, anonymous=True)
        anonymous = ("", csrf_secret())  # a visitor: a CSRF cookie and no session
        officer = sessions_create(users=[bench_staff()])[0]
        form = reverse("complaints:file")
        status = reverse("complaints:status")
        lookup = {"reference": filed.complaint.reference, "receipt": filed.receipt}
        seen = complaint_status_fingerprint(complaint_public_status(**lookup))
        return [
            Fragment(
                "complaint field validation vs filing page",
                path=reverse("complaints:validate") + "?field=description",
                page=form,
                session=anonymous,
                method="POST",
                data={"description": "too short"},
            ),
            Fragment(
                "complaint filing refused: the field errors (out of band)",
                path=form,
                page=form,
                session=anonymous,
                method="POST",
                data={"description": "too short"},
            ),
            Fragment(
                "complaint status panel (first look, or a poll after a change)",
                path=status,
                page=status,
                session=anonymous,
                method="POST",
                data=lookup,
            ),
            Fragment(
                "complaint status poll, nothing new (204)",
                path=status,
                page=status,
                session=anonymous,
                method="POST",
                data={**lookup, "seen": seen},
            ),
            Fragment(
                "complaints dashboard body (filters)",
                path=reverse("complaints:dashboard") + "?days=30",
                session=officer,
                region=True,
            ),
        ]
