"""Infrastructure the case's accounts share, inside the case and with accounts outside it,
and the account network those shared things draw (part of the built-in telemetry source)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q

from cases.evidence.aggregate import CaseTraffic
from cases.evidence.sources import CaseAccounts, Window
from detection.config import DetectionParams
from detection.models import Account, DetectionConfig, Exchange
from detection.reach import reach_key
from detection.selectors import value_reach

TOP_VALUES = 20
TEXT_CHARS = 300
# Network: how many shared things of each kind become nodes, and a cap on memberships so a
# pathological case cannot blow up the stored evidence.
NETWORK_KEYS = {"ip": 200, "asn": 50, "user_agent": 50, "template": 50, "payment": 100, "org": 100}
MAX_MEMBERSHIPS = 60_000


def asn_kinds() -> dict[int, str]:
    """ASNs known to be hosting or proxy ranges: ``hosting_asns`` of the detection parameters
    in force (the latest version, or the defaults before there is one), plus the
    ``EVIDENCE_HOSTING_ASNS`` / ``EVIDENCE_PROXY_ASNS`` settings (lists of integers)."""
    stored = DetectionConfig.objects.order_by("-version").values_list("params", flat=True).first()
    kinds: dict[int, str] = dict.fromkeys(
        DetectionParams.from_stored(stored).hosting_asns, "hosting"
    )
    for kind, setting in (("hosting", "EVIDENCE_HOSTING_ASNS"), ("proxy", "EVIDENCE_PROXY_ASNS")):
        for value in getattr(settings, setting, []):
            try:
                kinds[int(value)] = kind
            except (TypeError, ValueError):
                continue
    return kinds


def _window_exchanges(window: Window):
    return Exchange.objects.filter(ts__gte=window.start, ts__lt=window.end)


# Exchange column -> ``ValueReach`` kind.
REACH_KINDS = {"ip": "ip", "asn": "asn", "user_agent": "user_agent", "prompt_hash": "template"}


def window_reach(ca: CaseAccounts, window: Window, column: str, values: list):
    """``reach(value, in_case)``: accounts anywhere in the window that used ``value``.

    Read from the reach the case's detection run stored (an index lookup) when the window is
    that run's; otherwise (a manual case, a run whose reach was pruned) by one scan of the
    window for these values. A value the run did not store had one account: the case's own.
    """
    stored = value_reach(
        ca.detection_run_id, (window.start, window.end), REACH_KINDS[column], values
    )
    if stored is not None:
        return lambda value, in_case: stored.get(reach_key(value), (in_case, None))[0]
    scanned = dict(
        _window_exchanges(window)
        .filter(**{f"{column}__in": values})
        .values(column)
        .annotate(n=Count("account_id", distinct=True))
        .values_list(column, "n")
    )
    return lambda value, in_case: scanned.get(value, 0)


# Exchange column -> the kind of its rows in the case's grouped traffic.
AGG_KINDS = {"ip": "ip", "asn": "asn", "user_agent": "user_agent", "prompt_hash": "template"}


def _typed(column: str, value: str):
    """A value as the grouped traffic gives it (text) back in its column's type."""
    return int(value) if column in ("asn", "prompt_hash") else value


def _shared_exchange_values(
    ca: CaseAccounts, window: Window, column: str, agg: CaseTraffic
) -> list[dict]:
    """Top values of an exchange column across the case, with accounts in and outside it."""
    rows = agg.top(AGG_KINDS[column], TOP_VALUES)
    values = [_typed(column, r["value"]) for r in rows]
    everyone = window_reach(ca, window, column, values)
    out = []
    for r, value in zip(rows, values, strict=True):
        item = {
            "value": str(value)[:TEXT_CHARS],
            "accounts": r["accounts"],
            "exchanges": r["exchanges"],
            "outside_accounts": max(everyone(value, r["accounts"]) - r["accounts"], 0),
        }
        if column == "ip":
            item["asn"] = r["asn"]
        out.append(item)
    return out


def _shared_account_values(ca: CaseAccounts, column: str) -> list[dict]:
    rows = list(
        Account.objects.filter(pk__in=ca.pks)
        .exclude(**{column: ""})
        .values(column)
        .annotate(accounts=Count("id"))
        .order_by("-accounts", column)[:TOP_VALUES]
    )
    values = [r[column] for r in rows]
    everyone = dict(
        Account.objects.filter(**{f"{column}__in": values})
        .values(column)
        .annotate(n=Count("id"))
        .values_list(column, "n")
    )
    return [
        {
            "value": r[column][:TEXT_CHARS],
            "accounts": r["accounts"],
            "outside_accounts": max(everyone.get(r[column], 0) - r["accounts"], 0),
        }
        for r in rows
    ]


def infrastructure(ca: CaseAccounts, window: Window, agg: CaseTraffic) -> dict:
    kinds = asn_kinds()
    distinct = {
        "ips": agg.distinct("ip"),
        "asns": agg.distinct("asn"),
        "user_agents": agg.distinct("user_agent"),
    }
    ips = _shared_exchange_values(ca, window, "ip", agg)
    for item in ips:
        item["asn_kind"] = kinds.get(item["asn"], "") if item["asn"] is not None else ""
    asns = _shared_exchange_values(ca, window, "asn", agg)
    for item in asns:
        item["kind"] = kinds.get(int(item["value"]), "")
    return {
        "distinct": distinct,
        "ips": ips,
        "asns": asns,
        "user_agents": _shared_exchange_values(ca, window, "user_agent", agg),
        "payment_fingerprints": _shared_account_values(ca, "payment_fingerprint"),
        "orgs": _shared_account_values(ca, "org_id"),
        "email_domains": _shared_account_values(ca, "email_domain"),
        "countries": _shared_account_values(ca, "country"),
        # How many different values each account column has on the case, so a table of the
        # most common says "of how many" (and agrees with the summary's organisations).
        "distinct_accounts": Account.objects.filter(pk__in=ca.pks).aggregate(
            **{
                name: Count(column, distinct=True, filter=~Q(**{column: ""}))
                for name, column in (
                    ("payment_fingerprints", "payment_fingerprint"),
                    ("orgs", "org_id"),
                    ("email_domains", "email_domain"),
                    ("countries", "country"),
                )
            }
        ),
    }


def network(ca: CaseAccounts, window: Window, scores: dict[int, dict], agg: CaseTraffic) -> dict:
    """Accounts, the things at least two of them share, and who uses what.

    Stored as three lists (accounts, keys, memberships as index pairs) that
    ``detection.charts.network_figure`` draws; links are never pairwise between accounts.
    """
    row_of = {pk: i for i, pk in enumerate(ca.pks)}
    kinds = asn_kinds()
    keys: list[list] = []
    memberships: list[list[int]] = []
    key_of: dict[str, dict[str, int]] = {}
    for kind, column in (
        ("ip", "ip"),
        ("asn", "asn"),
        ("user_agent", "user_agent"),
        ("template", "prompt_hash"),
    ):
        shared = agg.top(AGG_KINDS[column], NETWORK_KEYS[kind], min_accounts=2)
        key_of[AGG_KINDS[column]] = {}
        for row in shared:
            value = row["value"]
            key_of[AGG_KINDS[column]][value] = len(keys)
            note = kinds.get(int(value), "") if kind == "asn" else ""
            keys.append([kind, value[:120], note])
    used = agg.members({kind: list(values) for kind, values in key_of.items()})
    memberships += [[row_of[a], key_of[kind][v]] for kind, a, v in used]
    for kind, column in (("payment", "payment_fingerprint"), ("org", "org_id")):
        rows = Account.objects.filter(pk__in=ca.pks).exclude(**{column: ""})
        shared = list(
            rows.values(column)
            .annotate(n=Count("id"))
            .filter(n__gte=2)
            .order_by("-n")
            .values_list(column, flat=True)[: NETWORK_KEYS[kind]]
        )
        index = {}
        for value in shared:
            index[value] = len(keys)
            keys.append([kind, str(value)[:120], ""])
        for pk, value in rows.filter(**{f"{column}__in": shared}).values_list("pk", column):
            memberships.append([row_of[pk], index[value]])
    accounts = []
    for pk, account_id in zip(ca.pks, ca.account_ids, strict=True):
        score = scores.get(pk) or {}
        accounts.append(
            [
                account_id,
                round(float(score.get("risk_score") or 0.0), 4),
                score.get("campaign__label") or ca.campaign_label or "",
            ]
        )
    return {
        "accounts": accounts,
        "keys": keys,
        "memberships": memberships[:MAX_MEMBERSHIPS],
        "truncated": len(memberships) > MAX_MEMBERSHIPS,
    }
