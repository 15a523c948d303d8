"""The console's one way to write a date, shown and typed.

ISO 8601's order, which reads the same to every team whatever its locale: ``2026-12-04``, and
a moment ``2026-12-04 14:05 UTC`` (in TIME_ZONE; UTC unless set). Templates show dates with
``{% load display %}`` ``|day`` and ``|when``; date fields take the same text. They are
text fields, not ``type="date"``: a browser draws a date field in its own locale's format
(mm/dd/yyyy in an American browser), which is the second format this module exists to avoid.
"""

# django.utils.dateformat codes.
DAY_FORMAT = "Y-m-d"
WHEN_FORMAT = "Y-m-d H:i T"
# strftime, for date fields' values.
DAY_INPUT_FORMAT = "%Y-%m-%d"

DATE_INPUT_ATTRS = {
    "placeholder": "YYYY-MM-DD",
    "pattern": r"\d{4}-\d{2}-\d{2}",
    "inputmode": "numeric",
    "size": 10,
    "title": "A date as YYYY-MM-DD, e.g. 2026-12-04",
}
