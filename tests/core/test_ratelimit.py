import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_login_limit(settings):
    settings.LOGIN_RATE_LIMIT = "2/m"


def _exhaust(client, **headers):
    for _ in range(2):
        client.post(reverse("login"), {"username": "nobody", "password": "x"}, **headers)
    return client.post(reverse("login"), {"username": "nobody", "password": "x"}, **headers)


def test_rate_limited_page_for_a_plain_request(client, tight_login_limit):
    response = _exhaust(client)
    assert response.status_code == 429
    body = response.content.decode()
    assert "<html" in body
    assert "Too many requests" in body


def test_rate_limited_fragment_for_htmx_goes_to_the_message_area(client, tight_login_limit):
    response = _exhaust(client, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    body = response.content.decode()
    assert "<html" not in body
    seconds = int(response["Retry-After"])
    assert f"Too many attempts in a short time. Please try again in {seconds} second" in body
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"


# --- The counter: one round trip per counted hit ------------------------------------------
@pytest.fixture
def counts():
    from django.core.cache import caches

    cache = caches["ratelimit"]
    cache.clear()
    return cache


def _usage(rate="3/m", value="teacher-1"):
    from django.test import RequestFactory
    from django_ratelimit.core import get_usage

    request = RequestFactory().post("/")
    return get_usage(
        request, group="test", key=lambda group, request: value, rate=rate, increment=True
    )


def test_django_ratelimit_counts_one_per_hit_and_limits_past_the_rate(counts):
    usages = [_usage() for _ in range(5)]
    assert [u["count"] for u in usages] == [1, 2, 3, 4, 5]
    assert [u["should_limit"] for u in usages] == [False, False, False, True, True]
    other = _usage(value="teacher-2")  # another key has its own count
    assert (other["count"], other["should_limit"]) == (1, False)


def test_a_counted_hit_is_one_round_trip_and_its_window_expires(counts, redis_round_trips):
    _usage()  # the key exists from now on
    with redis_round_trips() as sent:
        usage = _usage()
    assert usage["count"] == 2
    assert sent.n == 1  # add and incr in one script
    client = counts.client.get_client()
    (key,) = client.keys("*rl:*")  # django-ratelimit prefixes its keys "rl:"
    from django_ratelimit.core import EXPIRATION_FUDGE

    assert 60 < client.ttl(key) <= 60 + EXPIRATION_FUDGE  # the window plus the fudge


def test_a_hit_counts_on_after_the_server_forgot_its_scripts(counts, redis_round_trips):
    """A restarted or flushed Redis no longer knows the script: the hit sends its text."""
    _usage()
    counts.client.get_client().script_flush()
    with redis_round_trips() as sent:
        usage = _usage()
    assert usage["count"] == 2
    assert sent.n == 2  # EVALSHA refused (NOSCRIPT), then EVAL


def test_a_plain_add_and_incr_keep_their_meaning(counts):
    assert counts.add("plain", 5, 60) is True
    assert counts.add("plain", 7, 60) is False
    assert counts.get("plain") == 5
    assert counts.incr("plain") == 6
    assert counts.incr("plain", 10) == 16
