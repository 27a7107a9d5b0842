# per-project switches and disconnect (issue 6, helper B)
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0005_health_checks"),
    ]

    operations = []
