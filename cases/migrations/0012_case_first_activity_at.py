from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0011_campaign_case_titles"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="first_activity_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["opened_at", "kind", "first_activity_at"], name="case_opened_report_idx"
            ),
        ),
    ]
