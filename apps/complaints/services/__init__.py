"""Writes for complaints, one module per concern (as Zulip's zerver/actions/): filing,
attachments, triage jobs, the lifecycle (status moves), the officers' workflow, deadlines,
the audit trail, retention, the complainant's follow-ups and the dashboard cache. Views,
admin actions, management commands and jobs import the names below from
`apps.complaints.services`; the modules import each other directly."""

from apps.complaints.services.attachments import (
    MB,
    attachment_filename_clean,
    attachment_orphans_delete,
)
from apps.complaints.services.audit import (
    attachment_download_record,
    complaint_export_record,
    complaint_view_record,
)
from apps.complaints.services.dashboard import dashboard_invalidate
from apps.complaints.services.deadlines import complaint_escalate_overdue, due_at_for
from apps.complaints.services.duplicates import (
    ERR_MERGE_GONE,
    ERR_MERGE_SELF,
    complaint_merge,
    complaint_merge_many,
)
from apps.complaints.services.filing import (
    CONTACT_FIELDS,
    ERR_CONTACT_OR_ANONYMOUS,
    ERR_REFERENCE_OUTSIDE_TRANSACTION,
    FILING_FIELDS,
    Filed,
    Filing,
    complaint_file,
    filing_check,
    reference_block,
    reference_format,
)
from apps.complaints.services.follow_up import (
    ERR_FOLLOW_UP_DUPLICATE,
    ERR_FOLLOW_UP_EMPTY,
    ERR_FOLLOW_UP_PURGED,
    ERR_FOLLOW_UP_RESENT,
    complaint_follow_up,
    complaint_follow_up_check,
    complaint_follow_up_refusal,
)
from apps.complaints.services.identity import (
    ERR_REVEAL_NOT_ALLOWED,
    ERR_VAULT_UNREADABLE,
    REVEAL_PERMISSION,
    complaint_contact_reveal,
    vault_rotate_batch,
)
from apps.complaints.services.lifecycle import (
    ERR_DUPLICATE_NEEDS_PRIMARY,
    ERR_OUTCOME_ONLY_WHEN_CLOSED,
    ERR_OUTCOME_REQUIRED,
    TRANSITIONS,
    complaint_status_check,
    complaint_transition,
    complaint_transition_check,
)
from apps.complaints.services.retention import (
    REDACTED,
    SUPERVISOR_NOTICE,
    complaint_legal_hold_set,
    complaint_purge,
    retention_due,
)
from apps.complaints.services.triage_jobs import (
    TriageRetry,
    triage_job_timeout,
    triage_requeue,
    triage_requeue_stale,
    triage_retry_intervals,
    triage_run,
)
from apps.complaints.services.workflow import (
    STATUSES_BEFORE_ASSIGNMENT,
    complaint_assign,
    complaint_set_status,
    complaint_update,
    complaint_update_check,
)

__all__ = [
    "CONTACT_FIELDS",
    "ERR_CONTACT_OR_ANONYMOUS",
    "ERR_DUPLICATE_NEEDS_PRIMARY",
    "ERR_FOLLOW_UP_DUPLICATE",
    "ERR_FOLLOW_UP_EMPTY",
    "ERR_FOLLOW_UP_PURGED",
    "ERR_FOLLOW_UP_RESENT",
    "ERR_MERGE_GONE",
    "ERR_MERGE_SELF",
    "ERR_OUTCOME_ONLY_WHEN_CLOSED",
    "ERR_OUTCOME_REQUIRED",
    "ERR_REFERENCE_OUTSIDE_TRANSACTION",
    "ERR_REVEAL_NOT_ALLOWED",
    "ERR_VAULT_UNREADABLE",
    "FILING_FIELDS",
    "MB",
    "REDACTED",
    "REVEAL_PERMISSION",
    "STATUSES_BEFORE_ASSIGNMENT",
    "SUPERVISOR_NOTICE",
    "TRANSITIONS",
    "Filed",
    "Filing",
    "TriageRetry",
    "attachment_download_record",
    "attachment_filename_clean",
    "attachment_orphans_delete",
    "complaint_assign",
    "complaint_contact_reveal",
    "complaint_escalate_overdue",
    "complaint_export_record",
    "complaint_file",
    "complaint_follow_up",
    "complaint_follow_up_check",
    "complaint_follow_up_refusal",
    "complaint_legal_hold_set",
    "complaint_merge",
    "complaint_merge_many",
    "complaint_purge",
    "complaint_set_status",
    "complaint_status_check",
    "complaint_transition",
    "complaint_transition_check",
    "complaint_update",
    "complaint_update_check",
    "complaint_view_record",
    "dashboard_invalidate",
    "due_at_for",
    "filing_check",
    "reference_block",
    "reference_format",
    "retention_due",
    "triage_job_timeout",
    "triage_requeue",
    "triage_requeue_stale",
    "triage_retry_intervals",
    "triage_run",
    "vault_rotate_batch",
]
