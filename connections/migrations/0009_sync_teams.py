# Teams directory and channel messages
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0008_sync_user_matching"),
        ("tenants", "0005_site_authorization"),
    ]

    operations = [
        migrations.CreateModel(
            name="TeamsTeam",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("team_id", models.CharField(max_length=64)),
                ("display_name", models.CharField(max_length=256)),
                ("visibility", models.CharField(blank=True, max_length=32)),
                ("first_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("removed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="teams", to="connections.connection"
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
            ],
            options={
                "ordering": ["display_name"],
            },
        ),
        migrations.CreateModel(
            name="TeamsChannel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("channel_id", models.CharField(max_length=200)),
                ("display_name", models.CharField(max_length=256)),
                ("membership_type", models.CharField(blank=True, max_length=32)),
                ("first_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("removed_at", models.DateTimeField(blank=True, null=True)),
                ("messages_cursor_id", models.CharField(blank=True, max_length=64)),
                ("messages_cursor_at", models.DateTimeField(blank=True, null=True)),
                ("messages_synced_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="channels",
                        to="connections.connection",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="channels", to="connections.teamsteam"
                    ),
                ),
            ],
            options={
                "ordering": ["team__display_name", "display_name"],
            },
        ),
        migrations.CreateModel(
            name="SyncSchedule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("user_matching", "User matching"),
                            ("teams_directory", "Teams directory"),
                            ("channel_messages", "Channel messages"),
                        ],
                        max_length=32,
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("full_every_minutes", models.PositiveIntegerField(default=1440)),
                ("incremental_every_minutes", models.PositiveIntegerField(default=60)),
                ("last_full_at", models.DateTimeField(blank=True, null=True)),
                ("last_incremental_at", models.DateTimeField(blank=True, null=True)),
                ("next_full_at", models.DateTimeField(blank=True, null=True)),
                ("next_incremental_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sync_schedules",
                        to="connections.connection",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
            ],
            options={
                "ordering": ["kind"],
                "constraints": [models.UniqueConstraint(fields=("connection", "kind"), name="sync_schedule_unique")],
            },
        ),
        migrations.CreateModel(
            name="TeamsMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("message_id", models.CharField(max_length=64)),
                ("author_id", models.CharField(blank=True, max_length=64)),
                ("mention_ids", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField()),
                ("body", models.TextField(blank=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="connections.teamschannel",
                    ),
                ),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="connections.connection"
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.organization"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "constraints": [models.UniqueConstraint(fields=("channel", "message_id"), name="teams_message_unique")],
            },
        ),
        migrations.AddConstraint(
            model_name="teamsteam",
            constraint=models.UniqueConstraint(fields=("connection", "team_id"), name="teams_team_unique"),
        ),
        migrations.AddConstraint(
            model_name="teamschannel",
            constraint=models.UniqueConstraint(fields=("connection", "channel_id"), name="teams_channel_unique"),
        ),
    ]
