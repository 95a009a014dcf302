"""The one error type services raise for what a user did: ApplicationError and its family.

A service refuses by raising one of these with a message the user can read (translated at
the raise, in the user's language); it never knows about HTTP. The edges map them, each in
one place (apps/core/errors.py): a view to a response (`application_error_response`), an
admin action to a message (`application_error_message`), a form to its errors
(`application_error_into_form`).

- NotFound: what they asked for does not exist, or is not theirs to see.
- Refused: well formed, but the current state does not allow it (already closed, too late).
- Invalid: what they sent breaks a rule; `errors` says which field (None: the whole).
- Unavailable: not yet, for a passing reason of ours: the same request, sent again in a few
  seconds, will be taken (503 with Retry-After).

`code` is an optional stable name for the case (for tests, logs and API clients).
"""

from collections.abc import Mapping, Sequence


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(ApplicationError):
    pass


class Refused(ApplicationError):
    pass


class Unavailable(ApplicationError):
    pass


class Invalid(ApplicationError):
    def __init__(
        self,
        message: str = "",
        *,
        errors: Mapping[str | None, Sequence[str]] | None = None,
        code: str = "",
    ):
        self.errors = {name: list(messages) for name, messages in (errors or {}).items()}
        if message and not errors:
            self.errors = {None: [message]}
        # The whole story in one line, for a log or a place with no fields to show them by.
        summary = message or " ".join(str(m) for messages in self.errors.values() for m in messages)
        super().__init__(summary, code=code)
