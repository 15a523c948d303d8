"""Campaign cases titled "Campaign N: 32 linked accounts" read as their campaign's new name
and size ("Reasoning extraction via templated prompts, 32 accounts"). A title an analyst
changed is left alone: only the exact old form is rewritten."""

import re

from django.db import migrations

OLD_TITLE = re.compile(r"^Campaign \d+: (\d+) linked accounts$")


def retitle(apps, schema_editor):
    from detection.naming import campaign_title

    Case = apps.get_model("cases", "Case")
    cases = Case.objects.filter(title__regex=OLD_TITLE.pattern, campaign__isnull=False)
    for case in cases.select_related("campaign").iterator():
        match = OLD_TITLE.match(case.title)
        if match and not case.campaign.label.startswith("Campaign "):
            case.title = campaign_title(case.campaign.label, int(match.group(1)))[:255]
            case.save(update_fields=["title"])


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_enforcement_terms_saved_views"),
        ("detection", "0010_campaigns_named_by_what_they_do"),
    ]

    operations = [migrations.RunPython(retitle, migrations.RunPython.noop)]
