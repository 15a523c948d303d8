"""Stored configuration versions lose the case-policy keys.

Case priority and reopening rules are the cases app's policy, not detection parameters, and
detection's parameters now refuse keys they do not declare. Every other stored value stays as
it was: a version keeps its own patterns, lists and numbers.
"""

from django.db import migrations

CASE_POLICY_KEYS = (
    "priority_risk_cuts",
    "reopen_min_new_accounts",
    "reopen_account_growth",
    "reopen_exchange_growth",
    "reopen_risk_increase",
)


def strip_case_policy(apps, schema_editor):
    DetectionConfig = apps.get_model("detection", "DetectionConfig")
    for config in DetectionConfig.objects.all():
        params = config.params if isinstance(config.params, dict) else {}
        kept = {k: v for k, v in params.items() if k not in CASE_POLICY_KEYS}
        if kept != params:
            config.params = kept
            config.save(update_fields=["params"])


class Migration(migrations.Migration):
    dependencies = [("detection", "0002_exchange_id_collate_c")]

    # Backwards nothing is put back: the older code reads a missing key from its defaults.
    operations = [migrations.RunPython(strip_case_policy, migrations.RunPython.noop)]
