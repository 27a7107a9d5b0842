# user matching (issue 7, helper D)
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0007_sync_runs"),
    ]

    operations = []
