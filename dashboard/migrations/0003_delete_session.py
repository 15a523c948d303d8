# Sessions are Django's own again (django.contrib.sessions, table django_session): the
# table that named each session's user goes, and with it every session, so deploying this
# logs everyone out once.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_session"),
    ]

    operations = [
        migrations.DeleteModel(
            name="Session",
        ),
    ]
