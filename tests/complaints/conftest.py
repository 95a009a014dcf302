import django_rq
import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.complaints.reference import groups_sync, reference_data_load
from doubles.llm import FakeLLM
from tests.accounts.factories import OfficerFactory

# Smallest real files of each kind: content decides the type, not the name.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120  # an executable, whatever its name says

GOOD_DESCRIPTION = (
    "The clerk at the tehsil office demanded a bribe of Rs 5,000 to update my land record. "
    "He said the mutation would take months otherwise."
)


def upload(name="evidence.png", content=PNG, content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def filing_data(**overrides):
    data = {
        "description": GOOD_DESCRIPTION,
        "incident_date": "2026-01-15",
        "incident_place": "Pune",
        "contact_name": "Asha",
        "contact_email": "asha@example.org",
    }
    data.update(overrides)
    return data


@pytest.fixture
def reference_data(db):
    """Categories, sectors, acts, rules and groups: a transactional test's flush empties
    what the data migration loaded, so tests that need them load them again (idempotent)."""
    reference_data_load()
    groups_sync()


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test stores uploads in its own folder, so orphan files can be counted."""
    root = tmp_path / "private-media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(autouse=True)
def triage_settings(settings):
    settings.TRIAGE_BACKEND = "rules"
    settings.TRIAGE_RETRY_BASE_SECONDS = 0  # retries go straight back to the queue
    settings.TRIAGE_MAX_ATTEMPTS = 3
    settings.TRIAGE_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def queue():
    q = django_rq.get_queue("high")
    q.empty()
    yield q
    q.empty()


@pytest.fixture
def run_worker(queue):
    def run():
        django_rq.get_worker("high").work(burst=True)

    return run


@pytest.fixture
def fake_llm(settings):
    fake = FakeLLM(slow_seconds=3)
    settings.TRIAGE_BACKEND = "openai"
    settings.TRIAGE_API_BASE = fake.start()
    settings.TRIAGE_API_KEY = "test-key"
    settings.TRIAGE_MODEL = "fake-model"
    yield fake
    fake.stop()


def _member(group_name, **kwargs):
    user = OfficerFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def officer(reference_data):
    return _member("Officers", username="ravi")


@pytest.fixture
def supervisor(reference_data):
    return _member("Supervisors", username="meera")


def form_data(complaint, **changes):
    """The admin change form as posted: the complaint's current values, then `changes`."""
    data = {
        "status": complaint.status,
        "outcome": complaint.outcome,
        "priority": complaint.priority,
        "assigned_to": complaint.assigned_to_id or "",
        "category": complaint.category_id or "",
        "sector": complaint.sector_id or "",
        "act": complaint.act_id or "",
        "note": "",
        "reply": "",
    }
    data.update(changes)
    return data
