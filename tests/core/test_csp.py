"""The Content-Security-Policy header, built once per process, is exactly django-csp's, and
a response that changes its policy (a decorator, a nonce) still gets django-csp's own build."""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.decorators import csp_exempt, csp_update
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from apps.core.middleware import ContentSecurityPolicyMiddleware

pytestmark = pytest.mark.django_db


def _through_middleware(view, path="/somewhere/"):
    request = RequestFactory().get(path)
    middleware = ContentSecurityPolicyMiddleware(view)
    return request, middleware(request)


def test_every_page_carries_django_csps_policy(client):
    response = client.get("/accounts/login/")
    assert response[HEADER] == build_policy()
    assert "script-src 'self'" in response[HEADER]
    assert HEADER_REPORT_ONLY not in response  # no report-only policy is configured


def test_a_per_view_update_still_changes_that_response_only():
    updated = csp_update({"img-src": "https://maps.example"})(lambda request: HttpResponse())
    _request, response = _through_middleware(updated)
    assert "img-src 'self' data: https://maps.example" in response[HEADER]
    _request, plain = _through_middleware(lambda request: HttpResponse())
    assert "https://maps.example" not in plain[HEADER]


@override_settings(
    CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'self'"], "script-src": [NONCE]}}
)
def test_a_nonce_asked_for_by_the_view_is_in_the_header():
    def view(request):
        return HttpResponse(str(request.csp_nonce))

    _request, response = _through_middleware(view)
    nonce = response.content.decode()
    assert f"'nonce-{nonce}'" in response[HEADER]


def test_an_exempt_view_and_an_existing_header_are_left_alone():
    _request, exempt = _through_middleware(csp_exempt()(lambda request: HttpResponse()))
    assert HEADER not in exempt

    def own(request):
        response = HttpResponse()
        response[HEADER] = "default-src 'none'"
        return response

    _request, kept = _through_middleware(own)
    assert kept[HEADER] == "default-src 'none'"


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error():
    request, _response = _through_middleware(lambda request: HttpResponse())
    with pytest.raises(Exception, match="not available after the CSP header"):
        str(request.csp_nonce)


@override_settings(
    CONTENT_SECURITY_POLICY_REPORT_ONLY={
        "DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"},
        "EXCLUDE_URL_PREFIXES": ["/static/"],
    }
)
def test_a_report_only_policy_and_its_excluded_prefixes_are_honoured():
    _request, response = _through_middleware(lambda request: HttpResponse())
    assert response[HEADER_REPORT_ONLY] == build_policy(report_only=True)
    _request, static = _through_middleware(lambda request: HttpResponse(), path="/static/x.css")
    assert HEADER_REPORT_ONLY not in static
