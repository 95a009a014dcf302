"""The signed-in user comes from the cache, and every change to it reaches the next request."""

import io

import pytest
from django.urls import reverse

from apps.accounts.backends import CachedModelBackend
from apps.accounts.services import teachers_import
from tests.accounts.factories import DistrictFactory, TeacherFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("assessments:dashboard")


@pytest.fixture
def teacher():
    return TeacherFactory()


@pytest.fixture
def signed_in(client, teacher):
    client.force_login(teacher)
    assert client.get(DASHBOARD).status_code == 200  # the user is cached from here on
    return client


def test_the_user_is_read_from_the_database_once(signed_in, teacher, django_assert_num_queries):
    backend = CachedModelBackend()
    with django_assert_num_queries(0):
        assert backend.get_user(teacher.pk) == teacher


def test_a_deactivated_user_is_signed_out_at_once(
    signed_in, teacher, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        teacher.is_active = False
        teacher.save(update_fields=["is_active"])
    response = signed_in.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_password_change_ends_the_other_sessions(
    signed_in, teacher, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        teacher.set_password("a-brand-new-passphrase")
        teacher.save()
    assert signed_in.get(DASHBOARD).status_code == 302


def test_a_deleted_user_is_gone(signed_in, teacher, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        teacher.delete()
    assert signed_in.get(DASHBOARD).status_code == 302


def test_a_reimport_that_moves_a_teacher_is_seen_at_once(
    signed_in, teacher, django_capture_on_commit_callbacks
):
    pune = DistrictFactory(name="Pune", code="pune")
    csv = (
        "employee_id,first_name,last_name,email,district,batch\n"
        f"{teacher.employee_id},Asha,Rao,asha@example.org,pune,{teacher.batch.code}\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = teachers_import(file=io.StringIO(csv))
    assert not result.errors
    assert CachedModelBackend().get_user(teacher.pk).district_id == pune.pk


def test_nothing_is_forgotten_before_the_commit(
    signed_in, teacher, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Dropped before the commit, a request in between would cache the old row again."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        teacher.first_name = "Changed"
        teacher.save(update_fields=["first_name"])
        with django_assert_num_queries(0):
            assert CachedModelBackend().get_user(teacher.pk).first_name != "Changed"
    assert len(callbacks) == 1
