from django.db import migrations


def forwards(apps, schema_editor):
    from apps.complaints.reference import groups_sync, reference_data_load

    reference_data_load(apps=apps)
    groups_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("complaints", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
