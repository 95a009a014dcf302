import pytest
from django.core.management import call_command

from apps.accounts.demo import DEMO_DISTRICTS, DEMO_PASSWORD, DEMO_TEACHERS_PER_DISTRICT
from apps.accounts.models import Batch, District, User

pytestmark = pytest.mark.django_db


def counts():
    return (District.objects.count(), Batch.objects.count(), User.objects.count())


def test_seed_demo_twice_leaves_the_same_data():
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    teachers = len(DEMO_DISTRICTS) * DEMO_TEACHERS_PER_DISTRICT
    assert first == (len(DEMO_DISTRICTS), 2, teachers + 2)


def test_demo_logins_work(client):
    call_command("seed_demo")
    for username in ("T1001", "officer", "staff"):
        assert client.login(username=username, password=DEMO_PASSWORD), username
    assert User.objects.get(username="staff").is_superuser
    assert User.objects.get(username="officer").role == User.Role.OFFICER
