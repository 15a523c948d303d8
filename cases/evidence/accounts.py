"""The case's accounts as ingest recorded them (built-in source): how their details changed,
and the text ingest had to clean (docs/ingest.md, "Accounts change" and "Text that cannot
be stored as sent"). Both are evidence: a fleet moves accounts onto its card, and salts its
prompts with characters meant to make ingest drop them."""

from __future__ import annotations

import json
from collections import Counter

from cases.evidence.aggregate import CaseTraffic
from cases.evidence.registrations import iso
from cases.evidence.sources import CaseAccounts, Window
from detection.models import Account, AccountChange
from detection.text import TEXT_FLAG_WORDS, text_flags_words

TOP_CHANGES = 50
TOP_ACCOUNTS = 25
ORIGINAL_CHARS = 200


def account_details(ca: CaseAccounts, window: Window, agg: CaseTraffic) -> dict:
    changes = AccountChange.objects.filter(account_id__in=ca.pks)
    recent = changes.order_by("-changed_at", "-pk").values(
        "account__account_id", "field", "old_value", "new_value", "changed_at", "source"
    )[:TOP_CHANGES]
    id_of = dict(zip(ca.pks, ca.account_ids, strict=True))
    by_kind: Counter[str] = Counter()
    by_account: Counter[str] = Counter()
    for pk, flags, n in agg.flagged_text():
        by_account[id_of.get(pk, str(pk))] += n
        for words in text_flags_words(flags):
            by_kind[words] += n
    cleaned_accounts = (
        Account.objects.filter(pk__in=ca.pks).exclude(text_flags=0).order_by("account_id")
    )
    return {
        "changes": [
            {
                "account_id": c["account__account_id"],
                "field": AccountChange.Field(c["field"]).label,
                "old": c["old_value"],
                "new": c["new_value"],
                "changed_at": iso(c["changed_at"]),
                "source": c["source"],
            }
            for c in recent
        ],
        "changed_accounts": changes.values("account_id").distinct().count(),
        "marked_exchanges": sum(by_account.values()),
        # In the order of the flags' meaning, so the sentence reads the same every time.
        "marked_by_kind": {w: by_kind[w] for w in TEXT_FLAG_WORDS.values() if by_kind[w]},
        "marked_accounts": [
            {"account_id": a, "exchanges": n} for a, n in by_account.most_common(TOP_ACCOUNTS)
        ],
        "cleaned_accounts": [
            {
                "account_id": a.account_id,
                "found": text_flags_words(a.text_flags),
                # The originals as ingest kept them: escaped, so safe to show as text.
                "originals": {
                    k: v[:ORIGINAL_CHARS]
                    for k, v in (json.loads(a.text_originals) if a.text_originals else {}).items()
                },
            }
            for a in cleaned_accounts.only("account_id", "text_flags", "text_originals")[
                :TOP_ACCOUNTS
            ]
        ],
    }
