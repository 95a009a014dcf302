"""Rate limits that know when they end, so the 429 page and Retry-After can say when to
retry. Counters are django-ratelimit's (same cache, keys and windows)."""

from functools import wraps

from django.conf import settings
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited


class RateLimited(Ratelimited):
    """Ratelimited with the seconds until the window that refused the request ends
    (None when unknown, e.g. the counter could not be read)."""

    def __init__(self, retry_after: int | None = None):
        super().__init__()
        self.retry_after = retry_after

    @classmethod
    def from_usage(cls, usage: dict) -> "RateLimited":
        """From django-ratelimit's get_usage() (time_left is -1 when the count failed)."""
        time_left = usage["time_left"]
        return cls(retry_after=max(time_left, 1) if time_left >= 0 else None)


def rate_limit(*, group: str, keys: tuple[str, ...], rate, method: str = "POST"):
    """View decorator: one counter per key in `keys` (django-ratelimit keys: "ip",
    "post:username", a callable...), all in `group`. Like stacked @ratelimit(block=True):
    the first key over the limit refuses the request, with RateLimited."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            for key in keys:
                rate_limit_count(request, group=group, key=key, rate=rate, method=method)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def rate_limit_count(request, *, group: str, key, rate, method: str = "POST") -> None:
    """Count one request against `key` in `group` (django-ratelimit's key and rate forms);
    RateLimited when it is over the limit."""
    usage = get_usage(request, group=group, key=key, rate=rate, method=method, increment=True)
    if usage and usage["should_limit"]:
        raise RateLimited.from_usage(usage)


def rate_setting(name: str):
    """A django-ratelimit rate read from the setting `name` at each request (so a changed
    setting applies at once): "300/m"."""

    def rate(group, request) -> str:
        return getattr(settings, name)

    rate.__name__ = f"rate_from_{name.lower()}"
    return rate
