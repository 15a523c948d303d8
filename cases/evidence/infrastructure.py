"""Infrastructure the case's accounts share, inside the case and with accounts outside it,
and the account network those shared things draw (part of the built-in telemetry source)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Max, Q

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


def _exchanges(ca: CaseAccounts, window: Window):
    return Exchange.objects.filter(account_id__in=ca.pks, ts__gte=window.start, ts__lt=window.end)


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


def _shared_exchange_values(ca: CaseAccounts, window: Window, column: str) -> list[dict]:
    """Top values of an exchange column across the case, with accounts in and outside it."""
    qs = _exchanges(ca, window).exclude(**{f"{column}__isnull": True})
    if column == "user_agent":
        qs = qs.exclude(user_agent="")
    extra = {"asn": Max("asn")} if column == "ip" else {}
    rows = list(
        qs.values(column)
        .annotate(accounts=Count("account_id", distinct=True), exchanges=Count("id"), **extra)
        .order_by("-accounts", "-exchanges")[:TOP_VALUES]
    )
    everyone = window_reach(ca, window, column, [r[column] for r in rows])
    out = []
    for r in rows:
        item = {
            "value": str(r[column])[:TEXT_CHARS],
            "accounts": r["accounts"],
            "exchanges": r["exchanges"],
            "outside_accounts": max(everyone(r[column], r["accounts"]) - r["accounts"], 0),
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


def infrastructure(ca: CaseAccounts, window: Window) -> dict:
    kinds = asn_kinds()
    distinct = _exchanges(ca, window).aggregate(
        ips=Count("ip", distinct=True),
        asns=Count("asn", distinct=True),
        user_agents=Count("user_agent", distinct=True),
    )
    ips = _shared_exchange_values(ca, window, "ip")
    for item in ips:
        item["asn_kind"] = kinds.get(item["asn"], "") if item["asn"] is not None else ""
    asns = _shared_exchange_values(ca, window, "asn")
    for item in asns:
        item["kind"] = kinds.get(int(item["value"]), "")
    return {
        "distinct": distinct,
        "ips": ips,
        "asns": asns,
        "user_agents": _shared_exchange_values(ca, window, "user_agent"),
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


def network(ca: CaseAccounts, window: Window, scores: dict[int, dict]) -> dict:
    """Accounts, the things at least two of them share, and who uses what.

    Stored as three lists (accounts, keys, memberships as index pairs) that
    ``detection.charts.network_figure`` draws; links are never pairwise between accounts.
    """
    row_of = {pk: i for i, pk in enumerate(ca.pks)}
    kinds = asn_kinds()
    keys: list[list] = []
    memberships: list[list[int]] = []
    ex = _exchanges(ca, window)
    for kind, column in (
        ("ip", "ip"),
        ("asn", "asn"),
        ("user_agent", "user_agent"),
        ("template", "prompt_hash"),
    ):
        shared = list(
            ex.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(n=Count("account_id", distinct=True))
            .filter(n__gte=2)
            .order_by("-n")
            .values_list(column, flat=True)[: NETWORK_KEYS[kind]]
        )
        shared = [v for v in shared if v != ""]
        index = {}
        for value in shared:
            index[value] = len(keys)
            note = kinds.get(value, "") if kind == "asn" else ""
            keys.append([kind, str(value)[:120], note])
        pairs = ex.filter(**{f"{column}__in": shared}).values_list("account_id", column).distinct()
        memberships += [[row_of[a], index[v]] for a, v in pairs.order_by()]
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
