from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox_microsoft", "0002_user_purged"),
    ]

    operations = [
        migrations.AddField(
            model_name="directoryuser",
            name="proxy_addresses",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
