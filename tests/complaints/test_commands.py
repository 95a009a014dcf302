import json
import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.complaints.demo import DEMO_COMPLAINTS
from apps.complaints.models import Complaint, ComplaintEvent, TriageJob
from apps.complaints.reference import (
    REFERENCE_FILE,
    ReferenceDataError,
    reference_data_load,
    reference_data_read,
)
from apps.complaints.services import complaint_file
from tests.complaints.conftest import GOOD_DESCRIPTION, stored_files, upload
from tests.complaints.factories import ComplaintFactory

pytestmark = pytest.mark.django_db


class Out:
    def __init__(self):
        self.text = ""

    def write(self, value):
        self.text += value


def test_escalate_overdue_marks_and_reports_overdue_cases():
    late = ComplaintFactory(due_at=timezone.now() - timezone.timedelta(days=2))
    ComplaintFactory(
        due_at=timezone.now() - timezone.timedelta(days=2), status="closed", outcome="withdrawn"
    )
    ComplaintFactory()
    call_command("escalate_overdue", stdout=(out := Out()))
    assert f"escalated {late.reference}" in out.text
    assert "1 newly escalated; 1 overdue in all." in out.text
    late.refresh_from_db()
    assert late.escalated_at and late.priority == Complaint.Priority.HIGH
    assert ComplaintEvent.objects.filter(complaint=late, action="escalated").count() == 1
    call_command("escalate_overdue", stdout=(out := Out()))
    assert "0 newly escalated; 1 overdue in all." in out.text


def test_seed_demo_adds_complaints_once_and_puts_the_officer_in_his_group():
    call_command("seed_demo", stdout=Out())
    assert Complaint.objects.count() == DEMO_COMPLAINTS
    statuses = set(Complaint.objects.values_list("status", flat=True))
    assert statuses == set(Complaint.Status.values) - {"triaging"}
    assert TriageJob.objects.count() == DEMO_COMPLAINTS
    assert User.objects.get(username="officer").groups.filter(name="Officers").exists()
    references = list(Complaint.objects.order_by("reference").values_list("reference", flat=True))
    assert len(set(references)) == DEMO_COMPLAINTS
    call_command("seed_demo", stdout=Out())
    assert Complaint.objects.count() == DEMO_COMPLAINTS


def test_the_reference_data_is_realistic_and_loads_idempotently(reference_data):
    data = reference_data_read()
    assert {"bribery", "abuse-of-power", "procurement-fraud"} <= {
        c["code"] for c in data["categories"]
    }
    reference_data_load()
    from apps.complaints.models import TriageRule

    assert TriageRule.objects.count() == len(data["rules"])


def test_a_rule_naming_an_unknown_code_is_refused(tmp_path):
    data = json.loads(REFERENCE_FILE.read_text())
    data["rules"].append({"pattern": "hawala", "category": "smuggling"})
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ReferenceDataError, match="names an unknown category 'smuggling'"):
        reference_data_read(path=path)
    data["rules"][-1] = {"pattern": "(unclosed", "category": "bribery"}
    path.write_text(json.dumps(data))
    with pytest.raises(ReferenceDataError, match="is not a valid regular expression"):
        reference_data_read(path=path)


def test_the_attachment_sweep_deletes_only_old_orphans(private_media, queue):
    complaint_file(description=GOOD_DESCRIPTION, anonymous=True, uploads=[upload()])
    orphan = default_storage.save("complaints/2026/01/deadbeef", ContentFile(b"%PDF-1.4"))
    call_command("attachments_sweep", stdout=(out := Out()))
    assert "0 orphan file(s) deleted." in out.text  # too recent: may belong to a filing
    an_hour_ago = time.time() - 3601
    os.utime(default_storage.path(orphan), (an_hour_ago, an_hour_ago))
    call_command("attachments_sweep", stdout=(out := Out()))
    assert f"deleted {orphan}" in out.text and "1 orphan file(s) deleted." in out.text
    [kept] = stored_files(private_media)
    assert kept.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("older_than", ["-1", "0", "599", "315360001", str(10**30)])
def test_the_attachment_sweep_refuses_an_age_that_could_take_a_filing_in_flight(
    private_media, older_than
):
    """A filing stores its files before its rows commit: sweeping files younger than ten
    minutes could delete those of a filing in progress (and a huge age overflows)."""
    orphan = default_storage.save("complaints/2026/01/deadbeef", ContentFile(b"%PDF-1.4"))
    with pytest.raises(CommandError, match="Only files older than 600 to 315360000 seconds"):
        call_command("attachments_sweep", "--older-than", older_than)
    assert default_storage.exists(orphan)
