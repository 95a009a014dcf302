import pytest

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_healthz_answers_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_every_part_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["parts"] == {"postgres": "ok", "cache": "ok", "queue": "ok"}


def test_readyz_names_the_queue_when_its_redis_is_unreachable(client, settings):
    settings.REDIS_URL = UNREACHABLE
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["queue"]
    assert body["parts"]["queue"].startswith("error:")


def test_readyz_names_the_cache_when_its_redis_is_unreachable(client, settings):
    settings.CACHE_URL = UNREACHABLE
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
