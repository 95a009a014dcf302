"""sentinel:// URLs for the queue and the cache (apps/core/redis_config.py): what django-rq and
django-redis are given. That they reach a real Sentinel-managed primary, before and after a
failover, is tested in tests/cluster/test_topology.py."""

import pytest

from apps.core.redis_config import (
    ERR_SENTINEL_URL,
    cache_connection,
    parse_sentinel_url,
    queue_connection,
)

SENTINELS = "sentinel://:s3cr%40t@10.0.0.1:26379,10.0.0.2:26380,[::1]:26381/crowdproof/2"


def test_a_sentinel_url_names_the_sentinels_the_master_the_db_and_its_password():
    parsed = parse_sentinel_url(SENTINELS)

    assert parsed.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381)]
    assert (parsed.master, parsed.db, parsed.password) == ("crowdproof", 2, "s3cr@t")


def test_other_urls_are_used_as_they_are():
    for url in ("redis://localhost:6379/0", "unix:///run/valkey.sock", "rediss://h:6380/1"):
        assert parse_sentinel_url(url) is None
        assert queue_connection(url) == {"URL": url}
        assert cache_connection(url) == (url, {})


def test_the_queue_goes_through_django_rqs_sentinels():
    config = queue_connection("sentinel://127.0.0.1:26379/crowdproof")

    assert config["SENTINELS"] == [("127.0.0.1", 26379)]
    assert (config["MASTER_NAME"], config["DB"], config["PASSWORD"]) == ("crowdproof", 0, None)
    assert "URL" not in config


def test_the_cache_goes_through_django_redis_sentinel_client():
    location, options = cache_connection(SENTINELS)

    assert location == "redis://:s3cr%40t@crowdproof/2"  # redis-py unquotes it
    assert options["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"][0] == ("10.0.0.1", 26379)


@pytest.mark.parametrize(
    "url",
    ["sentinel://", "sentinel://host:26379", "sentinel://host/crowdproof", "sentinel://:1/m"],
)
def test_a_broken_sentinel_url_says_what_the_form_is(url):
    with pytest.raises(ValueError) as error:
        parse_sentinel_url(url)

    assert str(error.value) == ERR_SENTINEL_URL.format(url=url)
