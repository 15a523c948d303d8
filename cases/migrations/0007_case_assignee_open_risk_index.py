"""The assignee's index in the queue's default order, of open cases only: "My open cases" and
any assignee filter of the open queue read an analyst's open cases down it, however many they
have closed (through ``case_assignee_risk_idx``, kept for the other statuses, every closed
case of theirs was read and dropped). A partial index, so SQLite makes it too. Builds in well
under a second at 100,000 cases.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_case_open_risk_index")]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("status__in", ("actioned", "dismissed")), _negated=True),
                fields=["assignee", "-risk_score", "-id"],
                name="case_assignee_open_risk_idx",
            ),
        ),
    ]
