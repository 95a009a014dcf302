"""Writes for assessments, by concern: `windows` opens and closes assessments and bumps
content versions (and the dashboard cache with them); `deadlines` computes an attempt's
deadline (accommodations included) and schedules its auto-submit; `start` starts an attempt;
`answers` checks and saves an answer (the hot path: one SQL statement), for the session or
for a `save_grants` grant of the take page, which spares the session and the user lookups;
`submit` scores and submits, and sweeps the attempts whose job was lost; `incidents` gives
running attempts extra minutes or re-opens auto-submitted ones, with an audit row; `outages`
does the same by itself for a gap in the service's heartbeat; `grace` takes an answer held
up by a server failure shortly after the deadline; `receipts` signs a submitted attempt's
answers for its teacher and checks such a receipt; `errors` holds the refusals.

Views, admin, commands and jobs import the names below from `apps.assessments.services`, so
a rule lives here once; the modules import each other directly."""

from apps.assessments.services.answers import (
    ANSWER_FIELDS,
    AnswerInput,
    AnswerSaved,
    CleanAnswer,
    answer_clean,
    answer_save,
    answer_save_granted,
    attempt_number_parse,
)
from apps.assessments.services.deadlines import (
    AUTO_SUBMIT_JOB,
    accommodation_set,
    attempt_deadline,
    attempt_deadline_refresh,
    auto_submit_job_id,
)
from apps.assessments.services.errors import (
    ERR_ALREADY_SUBMITTED,
    ERR_ATTEMPT_NUMBER,
    ERR_CREDIT_PENDING,
    ERR_CREDIT_PENDING_RELOAD,
    ERR_DEADLINE_PASSED,
    ERR_FOREIGN_CHOICE,
    ERR_LIKERT_RANGE,
    ERR_NO_ATTEMPTS_LEFT,
    ERR_NOT_A_NUMBER,
    ERR_NOT_AVAILABLE,
    ERR_ONE_CHOICE,
    ERR_TEXT_NUL,
    ERR_TEXT_TOO_LONG,
    ERR_UNKNOWN_QUESTION,
    ERR_WINDOW,
    ERR_WRONG_ATTEMPT_NUMBER,
    ERR_WRONG_FIELD,
    AnswerInvalid,
    AssessmentError,
    AssessmentNotAvailable,
    AttemptCreditPending,
    AttemptNotFound,
    AttemptRefused,
)
from apps.assessments.services.incidents import (
    EXTRA_MINUTES_MAX,
    EXTRA_MINUTES_MIN,
    attempt_reopen,
    attempts_extend,
)
from apps.assessments.services.outages import (
    attempt_credit_pending,
    outage_credit_minutes,
    outages_credit,
)
from apps.assessments.services.receipts import (
    ERR_RECEIPT_NOT_SUBMITTED,
    RECEIPT_MAX_BYTES,
    ReceiptCheck,
    ReceiptInvalid,
    attempt_receipt,
    receipt_check,
    receipt_dumps,
    receipt_loads,
)
from apps.assessments.services.save_grants import (
    SAVE_GRANT_FIELD,
    SAVE_GRANT_HEADER,
    SaveGrant,
    save_grant_issue,
    save_grant_read,
)
from apps.assessments.services.start import attempt_start
from apps.assessments.services.submit import (
    EVENT_ATTEMPT_SUBMITTED,
    Scores,
    Submitted,
    attempt_scores,
    attempt_submit,
    attempt_submit_granted,
    attempts_submit_expired,
)
from apps.assessments.services.windows import (
    assessment_bump_version,
    assessment_close,
    assessment_open,
    dashboard_invalidate,
)

__all__ = [
    "ANSWER_FIELDS",
    "AUTO_SUBMIT_JOB",
    "ERR_ALREADY_SUBMITTED",
    "ERR_ATTEMPT_NUMBER",
    "ERR_CREDIT_PENDING",
    "ERR_CREDIT_PENDING_RELOAD",
    "ERR_DEADLINE_PASSED",
    "ERR_FOREIGN_CHOICE",
    "ERR_LIKERT_RANGE",
    "ERR_NOT_AVAILABLE",
    "ERR_NOT_A_NUMBER",
    "ERR_NO_ATTEMPTS_LEFT",
    "ERR_ONE_CHOICE",
    "ERR_RECEIPT_NOT_SUBMITTED",
    "ERR_TEXT_NUL",
    "ERR_TEXT_TOO_LONG",
    "ERR_UNKNOWN_QUESTION",
    "ERR_WINDOW",
    "ERR_WRONG_ATTEMPT_NUMBER",
    "ERR_WRONG_FIELD",
    "EVENT_ATTEMPT_SUBMITTED",
    "EXTRA_MINUTES_MAX",
    "EXTRA_MINUTES_MIN",
    "RECEIPT_MAX_BYTES",
    "SAVE_GRANT_FIELD",
    "SAVE_GRANT_HEADER",
    "AnswerInput",
    "AnswerInvalid",
    "AnswerSaved",
    "AssessmentError",
    "AssessmentNotAvailable",
    "AttemptCreditPending",
    "AttemptNotFound",
    "AttemptRefused",
    "CleanAnswer",
    "ReceiptCheck",
    "ReceiptInvalid",
    "SaveGrant",
    "Scores",
    "Submitted",
    "accommodation_set",
    "answer_clean",
    "answer_save",
    "answer_save_granted",
    "assessment_bump_version",
    "assessment_close",
    "assessment_open",
    "attempt_credit_pending",
    "attempt_deadline",
    "attempt_deadline_refresh",
    "attempt_number_parse",
    "attempt_receipt",
    "attempt_reopen",
    "attempt_scores",
    "attempt_start",
    "attempt_submit",
    "attempt_submit_granted",
    "attempts_extend",
    "attempts_submit_expired",
    "auto_submit_job_id",
    "dashboard_invalidate",
    "outage_credit_minutes",
    "outages_credit",
    "receipt_check",
    "receipt_dumps",
    "receipt_loads",
    "save_grant_issue",
    "save_grant_read",
]
