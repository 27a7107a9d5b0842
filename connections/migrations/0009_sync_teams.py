# Teams directory and channel messages (issue 7, helper C)
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0008_sync_user_matching"),
    ]

    operations = []
