"""Every changelist of the admin, with every query parameter its own page offers (filters,
search, ordering, paging, date drill-down) fed malformed values: never a 500. A value the
admin cannot use is ignored or answered with a 4xx (Django's own filters redirect to `?e=1`,
the unfiltered list)."""

import re
from html import unescape
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.complaints.models import Complaint, ComplaintEvent
from tests.accounts.factories import OfficerFactory, verified_login
from tests.complaints.factories import TriageJobFactory
from tests.fuzz.strategies import CLASSES, FUZZ, assert_clear, fields

pytestmark = [
    pytest.mark.django_db,
    # Django's own date filters take a bare date ("at__gte=2026-01-15") as a naive datetime
    # and warn (an error under our pytest settings); in production a warning, not a 500.
    pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime"),
]

ADMINS = {
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist": model_admin
    for model, model_admin in admin.site._registry.items()
}
CHANGELISTS = sorted(ADMINS)
# The admin pages are the slowest to render: one value of each class per parameter.
SWEEP = ["\x00", "\u00b2\uff11\u0663", "9" * 25, "-1", "x" * 321]
# Parameters every changelist reads, whether or not a link on the page carries them.
COMMON = {"q": "pune", "o": "1", "p": "1", "all": "", "_facets": "1"}


@pytest.fixture
def staff_client(client):
    officer = OfficerFactory(is_superuser=True)
    officer.groups.add(Group.objects.get(name="Officers"))  # from the data migration
    TriageJobFactory(complaint__assigned_to=officer)  # so every filter has something to offer
    verified_login(client, officer)
    return client


def offered_parameters(client, name: str) -> dict[str, str]:
    """The query parameters the page's own links use (filters, date hierarchy, sorting)."""
    url = reverse(name)
    if url in _OFFERED:
        return _OFFERED[url]
    page = client.get(url).content.decode()
    offered = dict(COMMON)
    hierarchy = ADMINS[name].date_hierarchy  # its links show only years with rows
    if hierarchy:
        offered.update({f"{hierarchy}__year": "2026", f"{hierarchy}__month": "1"})
        offered[f"{hierarchy}__day"] = "15"
    for query in re.findall(r'href="\?([^"]*)"', page):
        for name, value in parse_qsl(unescape(query), keep_blank_values=True):
            offered.setdefault(name, value)
    _OFFERED[url] = offered
    return offered


_OFFERED: dict[str, dict[str, str]] = {}  # per page: hypothesis asks once per example


@pytest.mark.parametrize("name", CHANGELISTS)
@settings(FUZZ, max_examples=8)
@given(draw=st.data())
def test_changelist(staff_client, name, draw):
    url = reverse(name)
    query = draw.draw(fields(offered_parameters(staff_client, name)))
    query = {key: values for key, values in query.items() if values}
    assert_clear(staff_client.get(f"{url}?{urlencode(query, doseq=True)}", follow=True))


@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelist_sweep(staff_client, name):
    """The page's own parameters on every changelist; the common ones (search, ordering,
    paging) on the complaints' list only, the same Django code serving them everywhere."""
    url = reverse(name)
    common = set() if name == "admin:complaints_complaint_changelist" else set(COMMON)
    for parameter in offered_parameters(staff_client, name).keys() - common:
        for bad in SWEEP:
            query = urlencode({parameter: bad})
            assert_clear(staff_client.get(f"{url}?{query}", follow=True))


@FUZZ
@given(data=fields({"action": "assign_to_me", "_selected_action": "1", "index": "0"}))
def test_changelist_action(staff_client, data):
    """The action bar's post: the action, the selected ids (checkboxes) and the row index."""
    data = {key: values for key, values in data.items() if values}
    url = reverse("admin:complaints_complaint_changelist")
    assert_clear(staff_client.post(url, data, follow=True))


@pytest.mark.parametrize("name", CHANGELISTS)
@pytest.mark.parametrize("selected", ["abc", "\uff11", "9" * 25])
def test_every_changelist_action_with_ids_that_are_no_rows(staff_client, name, selected):
    data = {"action": "delete_selected", "_selected_action": selected, "index": "0"}
    assert_clear(staff_client.post(reverse(name), data, follow=True))


# --- The identity vault's reveal page (a supervisor's: the superuser may reveal) ---------
@FUZZ
@given(object_id=st.one_of(st.sampled_from(CLASSES), st.text(min_size=1, max_size=40)))
def test_contact_reveal_with_ids_that_are_no_rows(staff_client, object_id):
    """Any text where the complaint's id goes: a 404 with a message, nothing opened or
    recorded (the path converter takes anything, slashes included)."""
    url = f"/admin/complaints/complaint/{quote(object_id, safe='')}/contact/"
    for method in (staff_client.get, staff_client.post):
        assert_clear(method(url, follow=True))
    assert not ComplaintEvent.objects.filter(action="contact_revealed").exists()


@FUZZ
@given(data=fields({"csrfmiddlewaretoken": "x", "reveal": "1"}))
def test_contact_reveal_post(staff_client, data):
    """The reveal form has no fields of its own: whatever is posted, one audited reveal."""
    complaint = Complaint.objects.first()  # the fixture's, with a sealed contact
    url = reverse("admin:complaints_complaint_contact", args=[complaint.pk])
    before = ComplaintEvent.objects.filter(action="contact_revealed").count()
    response = staff_client.post(url, {key: values for key, values in data.items() if values})
    assert response.status_code == 200
    assert ComplaintEvent.objects.filter(action="contact_revealed").count() == before + 1


# --- Duplicates: the change page's "mark as duplicate" form and the bulk action ---------
@pytest.fixture
def merge_pair(staff_client):
    """The fixture's complaint and a second one it may be merged into."""
    return Complaint.objects.order_by("pk").first(), TriageJobFactory().complaint


def assert_merges_whole():
    """Whatever was posted: every duplicate closed as one, none a duplicate's duplicate."""
    duplicates = Complaint.objects.filter(duplicate_of__isnull=False)
    assert set(duplicates.values_list("status", "outcome")) <= {("closed", "duplicate")}
    assert not duplicates.filter(duplicate_of__duplicate_of__isnull=False).exists()


@FUZZ
@given(draw=st.data())
def test_merge_form(staff_client, merge_pair, draw):
    duplicate, primary = merge_pair
    data = draw.draw(fields({"primary": primary.reference}))
    url = reverse("admin:complaints_complaint_merge", args=[duplicate.pk])
    data = {key: values for key, values in data.items() if values}
    assert_clear(staff_client.post(url, data, follow=True))
    assert_merges_whole()


@pytest.mark.parametrize("object_id", ["abc", "\x00", "\uff11", "9" * 25, "-1", "1/2"])
def test_merge_form_with_ids_that_are_no_rows(staff_client, object_id):
    url = f"/admin/complaints/complaint/{quote(object_id, safe='')}/merge/"
    assert_clear(staff_client.post(url, {"primary": "CP-2026-000001"}, follow=True))


@FUZZ
@given(draw=st.data())
def test_mark_duplicate_action(staff_client, merge_pair, draw):
    """The bulk action: the selected ids and the primary's reference in the action bar."""
    duplicate, primary = merge_pair
    baseline = {
        "action": "mark_duplicate",
        "_selected_action": str(duplicate.pk),
        "index": "0",
        "primary": primary.reference,
    }
    data = {key: values for key, values in draw.draw(fields(baseline)).items() if values}
    url = reverse("admin:complaints_complaint_changelist")
    assert_clear(staff_client.post(url, data, follow=True))
    assert_merges_whole()
