"""Reads for assessments, by concern: `content` holds an assessment's questions cached by
version; `attempts` an attempt's meta (cached for the answer save), its answers and resume
position; `dashboard` the teacher's dashboard and the open window to start in; `results`
the staff's summary figures and the export. Everything here is read-only, so a replica
router may take it.

Callers import from here; the modules are an internal layout."""

# Each process's copy of the attempt metas (one dict, the module's own): the tests clear it
# here, so each test starts like a fresh web process.
from apps.assessments.selectors.attempts import _LOCAL_META as _LOCAL_META
from apps.assessments.selectors.attempts import (
    LOCAL_META_MAX,
    AttemptMeta,
    attempt_answers,
    attempt_for_user,
    attempt_meta,
    attempt_meta_key,
    attempt_meta_load,
    attempt_meta_remember,
    attempt_resume_position,
    seconds_left,
)
from apps.assessments.selectors.content import (
    LOCAL_CONTENT_MAX,
    AssessmentContent,
    ChoiceContent,
    QuestionContent,
    assessment_by_ref,
    assessment_content,
    content_key,
)
from apps.assessments.selectors.dashboard import (
    DASHBOARD_GENERATION_KEY,
    Dashboard,
    DashboardEntry,
    assignment_open_for,
    assignments_for_cohort,
    teacher_dashboard,
)
from apps.assessments.selectors.results import (
    PERCENT_BUCKETS,
    RESULTS_LOCK_SECONDS,
    results_assessments,
    results_cache_key,
    results_export,
    results_generation_key,
    results_summary,
)

__all__ = [
    "DASHBOARD_GENERATION_KEY",
    "LOCAL_CONTENT_MAX",
    "LOCAL_META_MAX",
    "PERCENT_BUCKETS",
    "RESULTS_LOCK_SECONDS",
    "AssessmentContent",
    "AttemptMeta",
    "ChoiceContent",
    "Dashboard",
    "DashboardEntry",
    "QuestionContent",
    "assessment_by_ref",
    "assessment_content",
    "assignment_open_for",
    "assignments_for_cohort",
    "attempt_answers",
    "attempt_for_user",
    "attempt_meta",
    "attempt_meta_key",
    "attempt_meta_load",
    "attempt_meta_remember",
    "attempt_resume_position",
    "content_key",
    "results_assessments",
    "results_cache_key",
    "results_export",
    "results_generation_key",
    "results_summary",
    "seconds_left",
    "teacher_dashboard",
]
