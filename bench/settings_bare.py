"""The app's settings with no middleware at all: the bench serves the constant view with
them (a second gunicorn, same config) to measure Django's own cost per request, apart from
what our middleware adds. Bench only: without middleware there are no sessions, CSRF or
security headers.
"""

from config.settings import *  # noqa: F403

MIDDLEWARE: list[str] = []
