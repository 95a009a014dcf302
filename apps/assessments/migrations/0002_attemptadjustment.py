import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('assessments', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AttemptAdjustment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('extended', 'Extra minutes'), ('reopened', 'Re-opened')], max_length=16, verbose_name='kind')),
                ('minutes', models.PositiveSmallIntegerField(verbose_name='minutes')),
                ('reason', models.TextField(verbose_name='reason')),
                ('old_deadline', models.DateTimeField(verbose_name='deadline before')),
                ('new_deadline', models.DateTimeField(verbose_name='deadline after')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='recorded')),
                ('attempt', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='assessments.attempt')),
                ('by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='done by')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
            },
        ),
    ]
