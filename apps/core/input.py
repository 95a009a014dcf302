"""User input turned into numbers and dates in one place, and the request-level guards.

Numbers and dates take the ASCII digits 0-9 only. Python's int() and strptime() also accept
fullwidth (U+FF11), Arabic-Indic (U+0663) and other Unicode decimal digits, and `str.isdigit()`
accepts "²", which int() then refuses: a number typed in another script would be saved as if
it were typed in ASCII, and a check-then-convert pair can disagree. One strict parser, used
by every view, service and form that reads a number, makes them agree.

Text: PostgreSQL `text`/`varchar` cannot hold NUL (0x00). Django's forms.CharField refuses
it with a message (ProhibitNullCharactersValidator); code that reads request data without a
form refuses it itself (the answer text), and a query string holding one is refused before
any view by QueryStringGuardMiddleware.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, HttpResponseNotFound
from django.middleware import common
from django.utils.translation import gettext_lazy as _

# The bounds of PostgreSQL's integer columns.
SMALLINT_MAX = 32767
INTEGER_MAX = 2147483647
BIGINT_MAX = 9223372036854775807

ERR_NUL_IN_ADDRESS = _("The address contains a null character, which is not allowed.")
ERR_NEEDS_SLASH = _("Nothing can be sent to this address. Did you mean %(path)s (with a slash)?")
ERR_ASCII_DATE = _("Enter a valid date, with the digits 0-9.")

_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}\Z")


def parse_int(value, *, minimum: int, maximum: int) -> int:
    """A whole number written with ASCII digits (and an optional leading minus), within
    [minimum, maximum]. Anything else (spaces, "+", "1_000", fullwidth digits, "²", None) raises
    ValueError, like int() does."""
    if not isinstance(value, str) or not _ASCII_INTEGER.match(value):
        raise ValueError(f"not a whole number of ASCII digits: {value!r}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise ValueError(f"{number} is outside {minimum}..{maximum}")
    return number


class AsciiDateField(forms.DateField):
    """A DateField that refuses dates written with digits other than 0-9."""

    def to_python(self, value):
        if isinstance(value, str) and not value.isascii():
            raise ValidationError(ERR_ASCII_DATE, code="invalid")
        return super().to_python(value)


def model_max_length(model, field: str) -> int:
    """A form field's limit comes from its column, so the two cannot drift apart."""
    return model._meta.get_field(field).max_length


class QueryStringGuardMiddleware:
    """Refuse a query string holding a NUL character with a 400 and a message: no view, no
    filter and no admin search can then send one to PostgreSQL, which cannot store it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Every request passes here: parse the query only when its raw form holds a NUL,
        # escaped or (past a lenient server) as it is.
        query = request.META.get("QUERY_STRING", "")
        if ("%00" in query or "\x00" in query) and any(
            "\x00" in key + "".join(values) for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                str(ERR_NUL_IN_ADDRESS), content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware, but a POST (or any unsafe method) to an address that lacks
    its trailing slash gets a 404 naming the right address: a redirect would turn it into a
    GET and lose its body, and with DEBUG on Django raises RuntimeError (a 500) instead."""

    SAFE_METHODS = ("GET", "HEAD")

    def should_redirect_with_slash(self, request):
        return request.method in self.SAFE_METHODS and self._slash_would_match(request)

    def _slash_would_match(self, request) -> bool:
        return super().should_redirect_with_slash(request)

    def process_response(self, request, response):
        if (
            response.status_code == 404
            and request.method not in self.SAFE_METHODS
            and self._slash_would_match(request)
        ):
            message = ERR_NEEDS_SLASH % {"path": f"{request.path}/"}
            return HttpResponseNotFound(message, content_type="text/plain; charset=utf-8")
        return super().process_response(request, response)
