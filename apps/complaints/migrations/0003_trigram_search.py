"""Indexes for the officers' search (see Complaint.Meta.indexes).

Built CONCURRENTLY: on a live table with many complaints, filing must not wait for them.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations, models
from django.db.models.functions import Upper


def trigram_index(field: str) -> AddIndexConcurrently:
    return AddIndexConcurrently(
        model_name="complaint",
        index=GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"complaint_{field}_trgm"),
    )


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("complaints", "0002_reference_data_and_groups"),
    ]

    operations = [
        TrigramExtension(),
        AddIndexConcurrently(
            model_name="complaint",
            index=models.Index(Upper("reference"), name="complaint_reference_upper"),
        ),
        trigram_index("description"),
        trigram_index("contact_name"),
        trigram_index("contact_email"),
        # Statistics for the new expressions now rather than at autovacuum's next visit:
        # without them the planner guesses the matches and may walk the date index instead.
        migrations.RunSQL("ANALYZE complaints_complaint", reverse_sql=migrations.RunSQL.noop),
    ]
