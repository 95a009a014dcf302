"""The refusals of assessments' services and their messages (the core's ApplicationError
family: the edges give each its status, apps/core/errors.py)."""

from apps.core.exceptions import ApplicationError, Invalid, NotFound, Refused

ERR_NOT_AVAILABLE = "This assessment is not open for you."
ERR_NO_ATTEMPTS_LEFT = "You have used all the attempts allowed for this assessment."
ERR_WRONG_ATTEMPT_NUMBER = "Start attempt {expected} next, not attempt {given}."
ERR_DEADLINE_PASSED = (
    "The time is up: this attempt was submitted automatically. "
    "Answers saved before the deadline count."
)
ERR_ALREADY_SUBMITTED = "This attempt has been submitted; answers can no longer change."
ERR_UNKNOWN_QUESTION = "This question is not part of the assessment."
ERR_NOT_A_NUMBER = "The field {field} must be a whole number (digits 0-9)."
ERR_ATTEMPT_NUMBER = "The attempt number must be from 1 to {high}."
ERR_ONE_CHOICE = "Choose one answer only."
ERR_FOREIGN_CHOICE = "That choice does not belong to this question."
ERR_LIKERT_RANGE = "Give a value from {low} to {high}."
ERR_TEXT_NUL = "The answer contains a null character, which cannot be saved."
ERR_TEXT_TOO_LONG = "The answer is longer than {limit} characters."
ERR_WRONG_FIELD = "This question does not take the field {field}."
ERR_WINDOW = "The window must close after it opens."


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
