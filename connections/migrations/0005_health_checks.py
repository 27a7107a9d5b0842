# health checks
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0004_consent_requests"),
    ]

    operations = [
        migrations.CreateModel(
            name='HealthCheckResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('feature', models.CharField(max_length=64)),
                ('check_name', models.CharField(max_length=64)),
                ('side', models.CharField(max_length=16)),
                ('outcome', models.CharField(choices=[('passed', 'Passed'), ('failed', 'Failed'), ('skipped', 'Skipped')], max_length=16)),
                ('cause', models.CharField(blank=True, choices=[('', '—'), ('permission', 'A permission is missing'), ('needs_reauth', 'A credential is dead'), ('unavailable', 'The service did not answer'), ('other', 'Something else')], default='', max_length=16)),
                ('message', models.CharField(max_length=500)),
                ('remedy', models.CharField(blank=True, max_length=500)),
                ('checked_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('duration_ms', models.PositiveIntegerField(default=0)),
                ('is_latest', models.BooleanField(default=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='health_results', to='connections.connection')),
            ],
            options={
                'ordering': ['feature', 'check_name', '-checked_at'],
                'indexes': [models.Index(fields=['connection', 'is_latest'], name='health_latest')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('is_latest', True)), fields=('connection', 'feature', 'check_name'), name='health_one_latest_per_check')],
            },
        ),
    ]
