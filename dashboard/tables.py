"""The dashboard's tables, drawn by ``{% render_table %}`` with the project's table template
(see ``cases/tables.py``)."""

import django_tables2 as tables

from cases.tables import LinkedTable


class SignalQualityTable(LinkedTable):
    """Each signal against the labels (rows from ``cases.labels.selectors.signal_quality``,
    noisiest first until another column is chosen). Sorted in memory: one row per signal."""

    name = tables.Column(verbose_name="Signal", order_by=("name",))
    precision = tables.Column(verbose_name="Precision", order_by=("precision_order", "name"))
    confirmed = tables.Column(verbose_name="Confirmed", order_by=("confirmed", "name"))
    legitimate = tables.Column(verbose_name="Legitimate", order_by=("legitimate", "name"))
    unsure = tables.Column(verbose_name="Unsure", order_by=("unsure", "name"))
    confirmed_examples = tables.Column(verbose_name="Examples: confirmed", orderable=False)
    legitimate_examples = tables.Column(verbose_name="Examples: legitimate", orderable=False)

    class Meta:
        template_name = "dashboard/_partials/signal_quality_table.html"
        empty_text = (
            "No labelled account was scored in this period. Labels come from closing cases, "
            "dismissing accounts and approving actions."
        )
        attrs = {"class": "table", "id": "signal-quality"}

    def __init__(self, data, **kwargs):
        # A signal no decided account has fired on has no precision: it sorts below 0%.
        rows = [{**row, "precision_order": _or_below(row["precision"])} for row in data]
        super().__init__(rows, **kwargs)


def _or_below(value: float | None) -> float:
    return -1.0 if value is None else value
