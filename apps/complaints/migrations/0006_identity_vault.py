"""The identity vault (issue #17 item 2): contact name, email and phone move from plain
columns into one sealed token (apps/complaints/vault.py, keys from the settings), with a
keyed blind index of the email for exact search; the plain columns and their indexes
(btree and trigram) are dropped, and Supervisors get the permission to reveal a contact.

Reversible: going back opens every token again with the configured keys. The plain values
also leave the live rows before their columns are dropped; PostgreSQL keeps the old row
versions until VACUUM, and earlier backups still hold them (README, Identity vault)."""

from django.db import migrations, models
from django.db.models import Q

PLAIN = ("contact_name", "contact_email", "contact_phone")
BATCH = 1000


def _in_batches(queryset, fields, change):
    """`change(row)` for every row, written back `BATCH` rows at a time."""
    batch = []
    for row in queryset.order_by("pk").iterator(chunk_size=BATCH):
        change(row)
        batch.append(row)
        if len(batch) == BATCH:
            queryset.model.objects.bulk_update(batch, fields)
            batch = []
    if batch:
        queryset.model.objects.bulk_update(batch, fields)


def seal(apps, schema_editor):
    from apps.complaints.vault import Contact, contact_columns

    def change(row):
        contact = Contact(row.contact_name, row.contact_email, row.contact_phone)
        for name, value in contact_columns(contact).items():
            setattr(row, name, value)
        for name in PLAIN:
            setattr(row, name, "")

    Complaint = apps.get_model("complaints", "Complaint")
    rows = Complaint.objects.exclude(contact_name="", contact_email="", contact_phone="")
    _in_batches(rows, ["contact_sealed", "contact_email_index", *PLAIN], change)


def unseal(apps, schema_editor):
    from apps.complaints.vault import contact_open

    def change(row):
        contact = contact_open(row.contact_sealed)
        row.contact_name, row.contact_email, row.contact_phone = (
            contact.name,
            contact.email,
            contact.phone,
        )
        row.contact_sealed = row.contact_email_index = ""

    Complaint = apps.get_model("complaints", "Complaint")
    rows = Complaint.objects.exclude(contact_sealed="")
    _in_batches(rows, ["contact_sealed", "contact_email_index", *PLAIN], change)


def groups(apps, schema_editor):
    from apps.complaints.reference import groups_sync

    groups_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0005_duplicates"),
    ]

    operations = [
        migrations.AddField(
            model_name="complaint",
            name="contact_sealed",
            field=models.TextField(blank=True, editable=False, verbose_name="contact (encrypted)"),
        ),
        migrations.AddField(
            model_name="complaint",
            name="contact_email_index",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(seal, unseal),
        migrations.RemoveIndex(model_name="complaint", name="complaint_contact_email"),
        migrations.RemoveIndex(model_name="complaint", name="complaint_contact_name_trgm"),
        migrations.RemoveIndex(model_name="complaint", name="complaint_contact_email_trgm"),
        migrations.RemoveField(model_name="complaint", name="contact_name"),
        migrations.RemoveField(model_name="complaint", name="contact_email"),
        migrations.RemoveField(model_name="complaint", name="contact_phone"),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                condition=~Q(contact_email_index=""),
                fields=["contact_email_index"],
                name="complaint_email_index",
            ),
        ),
        migrations.AlterModelOptions(
            name="complaint",
            options={
                "ordering": ["-received_at"],
                "permissions": [
                    ("download_attachment", "Can download complaint attachments"),
                    ("export_complaint", "Can export complaints as CSV"),
                    ("requeue_triage", "Can requeue complaint triage"),
                    ("view_dashboard", "Can view the complaints dashboard"),
                    ("view_complainant_identity", "Can reveal complainants' contact details"),
                ],
            },
        ),
        migrations.AlterField(
            model_name="complaintevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("filed", "Filed"),
                    ("triaged", "Triaged"),
                    ("triage_manual", "Sent to manual triage"),
                    ("triage_failed", "Triage failed"),
                    ("triage_requeued", "Triage requeued"),
                    ("viewed", "Viewed"),
                    ("downloaded", "Attachment downloaded"),
                    ("assigned", "Assigned"),
                    ("status", "Status changed"),
                    ("priority", "Priority changed"),
                    ("override", "Classification overridden"),
                    ("note", "Internal note added"),
                    ("reply", "Public reply sent"),
                    ("escalated", "Escalated as overdue"),
                    ("exported", "Exported"),
                    ("legal_hold", "Legal hold changed"),
                    ("purged", "Purged after retention"),
                    ("merged", "Merged as a duplicate"),
                    ("duplicate_added", "Duplicate merged in"),
                    ("contact_revealed", "Contact details revealed"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(groups, migrations.RunPython.noop),
    ]
