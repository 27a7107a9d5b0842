# user matching
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0007_sync_runs"),
        ("tenants", "0005_site_authorization"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OrganizationMatchingSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "store_emails",
                    models.BooleanField(
                        default=False,
                        help_text="Off: addresses are used while matching and then forgotten (only ids are kept).",
                        verbose_name="Store email addresses",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="matching_settings",
                        to="tenants.organization",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="UserMatchingState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "identity_mode",
                    models.CharField(
                        choices=[
                            ("entra", "Entra: the Atlassian email is the Microsoft UPN"),
                            ("non_entra", "Non-Entra: a regular expression turns the Atlassian email into the UPN"),
                        ],
                        default="entra",
                        max_length=16,
                    ),
                ),
                ("upn_pattern", models.CharField(blank=True, max_length=300)),
                ("upn_replacement", models.CharField(blank=True, max_length=300)),
                ("delta_link", models.TextField(blank=True)),
                ("generation", models.PositiveIntegerField(default=0)),
                ("microsoft_users", models.PositiveIntegerField(default=0)),
                ("last_full_at", models.DateTimeField(blank=True, null=True)),
                ("last_incremental_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="user_matching",
                        to="connections.connection",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ManualMapping",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account_id", models.CharField(max_length=128)),
                ("microsoft_user_id", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="manual_mappings",
                        to="connections.connection",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "account_id"), name="manualmapping_unique_account")
                ],
            },
        ),
        migrations.CreateModel(
            name="MicrosoftUserKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("user_id", models.CharField(max_length=64)),
                ("digest", models.CharField(max_length=32)),
                ("kinds", models.PositiveSmallIntegerField()),
                ("value", models.CharField(blank=True, max_length=320)),
                ("generation", models.PositiveIntegerField(default=0)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="connections.connection"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["connection", "digest"], name="msuserkey_digest")],
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "user_id", "digest"), name="msuserkey_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="UserMatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account_id", models.CharField(max_length=128)),
                ("display_name", models.CharField(blank=True, max_length=255)),
                ("account_type", models.CharField(blank=True, max_length=32)),
                ("active", models.BooleanField(default=True)),
                ("email_key", models.CharField(blank=True, max_length=32)),
                ("upn_key", models.CharField(blank=True, max_length=32)),
                ("email", models.CharField(blank=True, max_length=320)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("matched", "Matched"),
                            ("unmatched", "Unmatched"),
                            ("ambiguous", "Ambiguous"),
                            ("hidden", "Hidden email"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("mail", "by mail"),
                            ("upn", "by UPN"),
                            ("proxy", "by proxy address"),
                            ("regex", "by the UPN rule"),
                            ("manual", "manually"),
                        ],
                        max_length=16,
                    ),
                ),
                ("microsoft_user_id", models.CharField(blank=True, max_length=64)),
                ("candidates", models.JSONField(blank=True, default=list)),
                ("generation", models.PositiveIntegerField(default=0)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="user_matches",
                        to="connections.connection",
                    ),
                ),
            ],
            options={
                "ordering": ["display_name", "account_id"],
                "indexes": [
                    models.Index(fields=["connection", "outcome", "method"], name="usermatch_outcome"),
                    models.Index(fields=["connection", "email_key"], name="usermatch_email_key"),
                    models.Index(fields=["connection", "upn_key"], name="usermatch_upn_key"),
                    models.Index(fields=["connection", "microsoft_user_id"], name="usermatch_ms_user"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "account_id"), name="usermatch_unique_account")
                ],
            },
        ),
    ]
