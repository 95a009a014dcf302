"""The first ceiling of the chain: a WSGI callable that answers "ok" to every request, with
no Django at all, served by the bench under the same gunicorn config as the app. What it
serves is gunicorn's own cost per request on this machine.

    gunicorn bench.plain_wsgi -c config/gunicorn.conf.py
"""

BODY = b"ok"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
