# sync runs (issue 7)
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0006_projects_and_disconnect"),
    ]

    operations = []
