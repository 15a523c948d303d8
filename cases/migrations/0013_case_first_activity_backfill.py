"""Every existing case gets its first activity, as ``Case.refresh_first_activity`` writes it
for a case from now on: the first request of any of its live accounts, or their first
registration for a case with no traffic at all.

The cases are written in batches of ``BATCH`` by primary key, each batch its own transaction
(the migration is not atomic), so a large table is never locked whole and memory stays flat.
Running it again rewrites the same values: an interrupted backfill is simply run again.
"""

from django.db import migrations, transaction
from django.db.models import DateTimeField, OuterRef, Subquery
from django.db.models.functions import Coalesce

BATCH = 1000


def first_activity(apps) -> Coalesce:
    """``cases.models.case.first_activity``, on the models as they are at this migration."""
    Exchange = apps.get_model("detection", "Exchange")
    CaseAccount = apps.get_model("cases", "CaseAccount")
    first_request = Exchange.objects.filter(account=OuterRef("account_id")).order_by("ts")
    links = CaseAccount.objects.filter(case=OuterRef("pk"), removed_at__isnull=True)
    earliest_request = (
        links.annotate(first=Subquery(first_request.values("ts")[:1]))
        .filter(first__isnull=False)
        .order_by("first")
        .values("first")[:1]
    )
    earliest_registration = (
        links.filter(account__created_at__isnull=False)
        .order_by("account__created_at")
        .values("account__created_at")[:1]
    )
    return Coalesce(
        Subquery(earliest_request), Subquery(earliest_registration), output_field=DateTimeField()
    )


def backfill(apps, schema_editor) -> None:
    Case = apps.get_model("cases", "Case")
    expression = first_activity(apps)
    last = 0
    while True:
        batch = list(
            Case.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH]
        )
        if not batch:
            return
        with transaction.atomic():
            Case.objects.filter(pk__gt=last, pk__lte=batch[-1]).update(first_activity_at=expression)
        last = batch[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0012_case_first_activity_at"),
        ("detection", "0010_campaigns_named_by_what_they_do"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
