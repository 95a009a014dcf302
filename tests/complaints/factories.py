import factory
from django.utils import timezone

from apps.complaints.models import Complaint, TriageJob
from apps.complaints.receipts import receipt_hash
from apps.complaints.services import due_at_for
from apps.complaints.vault import Contact, contact_columns

RECEIPT = "ABCDE-FGHJK-MNPQR-STVWX"


class ComplaintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Complaint

    reference = factory.Sequence(lambda n: f"CP-2020-{n + 1:06d}")
    receipt_hash = receipt_hash(RECEIPT)
    received_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: due_at_for(o.received_at, None))
    description = "The clerk asked for a bribe of Rs 2,000 to issue my caste certificate."
    incident_place = "Pune"
    # Sealed like a filing's: pass contact_name / contact_email / contact_phone as plain text.
    contact_sealed = factory.LazyAttribute(lambda o: o.columns["contact_sealed"])
    contact_email_index = factory.LazyAttribute(lambda o: o.columns["contact_email_index"])

    class Params:
        contact_name = ""
        contact_email = factory.Sequence(lambda n: f"citizen{n}@example.org")
        contact_phone = ""
        columns = factory.LazyAttribute(
            lambda o: contact_columns(Contact(o.contact_name, o.contact_email, o.contact_phone))
        )


class TriageJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TriageJob

    complaint = factory.SubFactory(ComplaintFactory)
    updated_at = factory.LazyFunction(timezone.now)
