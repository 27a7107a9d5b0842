# health checks (issue 6, helper A)
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0004_consent_requests"),
    ]

    operations = []
