"""The refusals of assessments' services and their messages (the core's ApplicationError
family: the edges give each its status, apps/core/errors.py). Messages are translated when
they are shown: `.format()` on one gives the text in the active language."""

from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError, Invalid, NotFound, Refused, Unavailable

ERR_NOT_AVAILABLE = _("This assessment is not open for you.")
ERR_NO_ATTEMPTS_LEFT = _("You have used all the attempts allowed for this assessment.")
ERR_WRONG_ATTEMPT_NUMBER = _("Start attempt {expected} next, not attempt {given}.")
ERR_DEADLINE_PASSED = _(
    "The time is up: this attempt was submitted automatically. "
    "Answers saved before the deadline count."
)
ERR_CREDIT_PENDING = _(
    "The service is back after an interruption and your lost time is being given back. "
    "Your answer will be sent again in a few seconds."
)
ERR_CREDIT_PENDING_RELOAD = _(
    "The service is back after an interruption and your lost time is being given back. "
    "Reload this page in a few seconds."
)
ERR_ALREADY_SUBMITTED = _("This attempt has been submitted; answers can no longer change.")
ERR_UNKNOWN_QUESTION = _("This question is not part of the assessment.")
ERR_NOT_A_NUMBER = _("The field {field} must be a whole number (digits 0-9).")
ERR_ATTEMPT_NUMBER = _("The attempt number must be from 1 to {high}.")
ERR_ONE_CHOICE = _("Choose one answer only.")
ERR_FOREIGN_CHOICE = _("That choice does not belong to this question.")
ERR_LIKERT_RANGE = _("Give a value from {low} to {high}.")
ERR_TEXT_NUL = _("The answer contains a null character, which cannot be saved.")
ERR_TEXT_TOO_LONG = _("The answer is longer than {limit} characters.")
ERR_WRONG_FIELD = _("This question does not take the field {field}.")
ERR_WINDOW = _("The window must close after it opens.")


class AssessmentError(ApplicationError):
    """A refusal by an assessments service, with a message for the teacher or staff (the
    core's ApplicationError family: the edges give it its status, apps/core/errors.py)."""


class AttemptNotFound(AssessmentError, NotFound):
    pass


class AssessmentNotAvailable(AssessmentError, NotFound):
    pass


class AttemptRefused(AssessmentError, Refused):
    pass


class AnswerInvalid(AssessmentError, Invalid):
    pass


class AttemptCreditPending(AssessmentError, Unavailable):
    """Past the deadline, but an outage credit is on its way (services/outages.py)."""
