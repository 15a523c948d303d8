"""What a delivery backend reports, and which backends a newly approved action goes to.

A backend takes one ``OutboxMessage`` and reports a :class:`DeliveryResult`; it never
touches the message's status (the outbox service does, compare-and-set). Two backends:

* ``webhook``: POSTs the action to the account platform (``ENFORCEMENT_WEBHOOK_URL``),
  signed with HMAC-SHA256, with a stable idempotency key. Only used when the URL is set.
* ``banlist``: publishes the accounts on the ban list that operators and the platform can
  download. Always on.

An action is executed when every backend it was sent to has confirmed.
"""

from dataclasses import dataclass

from django.conf import settings

from cases.enforcement.models import OutboxMessage


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status_code: int | None = None
    error: str = ""
    # A failure that retrying cannot fix (a 4xx answer, a missing secret): dead-letter now.
    permanent: bool = False


def backends_for_new_action() -> list[str]:
    """The backends an action approved now is delivered to, in order."""
    names = [OutboxMessage.Backend.BANLIST.value]
    if settings.ENFORCEMENT_WEBHOOK_URL:
        names.append(OutboxMessage.Backend.WEBHOOK.value)
    return names
