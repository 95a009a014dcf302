"""Retention (issue #17): a category's retention after closing, a complaint's legal hold and
the time it was purged, and the audit actions for both.

Adding a column with a constant default is a catalogue change on PostgreSQL 11+, so the
complaints table is not rewritten."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0003_trigram_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Days after closing until a complaint is purged; empty keeps it forever.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="retention (days)",
            ),
        ),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.CheckConstraint(
                condition=models.Q(retention_days__isnull=True) | models.Q(retention_days__gt=0),
                name="category_retention_positive",
            ),
        ),
        migrations.AddField(
            model_name="complaint",
            name="legal_hold",
            field=models.BooleanField(
                default=False,
                help_text="Keeps the complaint whole past its retention period.",
                verbose_name="legal hold",
            ),
        ),
        migrations.AddField(
            model_name="complaint",
            name="purged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="purged"
            ),
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
                ],
                max_length=20,
            ),
        ),
    ]
