"""Campaigns named "Campaign N" take the name of what they do (detection.naming), from the
evidence their last run stored; a later run keeps it."""

from django.db import migrations


def name_campaigns(apps, schema_editor):
    from detection import naming

    Campaign = apps.get_model("detection", "Campaign")
    taken = set(
        Campaign.objects.filter(is_active=True)
        .exclude(label__startswith="Campaign ")
        .values_list("label", flat=True)
    )
    for campaign in Campaign.objects.order_by("pk"):
        if not naming.is_numbered(campaign.label):
            continue
        name = naming.campaign_name(campaign.evidence)
        if campaign.is_active and name in taken:
            name = f"{name} (campaign {campaign.pk})"
        if campaign.is_active:
            taken.add(name)
        campaign.label = name
        campaign.save(update_fields=["label"])


class Migration(migrations.Migration):
    dependencies = [("detection", "0009_allowlist_backtest")]

    operations = [migrations.RunPython(name_campaigns, migrations.RunPython.noop)]
