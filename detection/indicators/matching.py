"""Which accounts show which indicators: the marks the ``watch_list`` signal counts.

Account fields (id, email domain, card) are matched through their indexes. Traffic is
matched in one pass per kind over the exchanges since a given time: exact addresses, AS
numbers and prompt-template hashes by membership in a set, ranges by containment
(PostgreSQL's ``inet <<= cidr``; elsewhere in Python over the distinct addresses). Marks
are only added: an account that once used a watched address keeps the mark, and an expired
indicator's marks stop counting because detection reads active indicators only.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Count, F, QuerySet
from django.db.models.functions import Lower

from detection.models import Account, Exchange, Indicator, IndicatorMatch

K = Indicator.Kind
ACCOUNT_FIELDS = {
    K.ACCOUNT: "account_id",
    K.EMAIL_DOMAIN: "email_domain",
    K.PAYMENT: "payment_fingerprint",
}
BATCH = 5000


def _ids_by(indicators: Iterable[tuple[int, str, str, int | None]]):
    by: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for pk, kind, value, digest in indicators:
        key = str(digest) if kind == K.PROMPT else value
        by[kind][key].append(pk)
    return by


def _account_pairs(by, kind: str) -> set[tuple[int, int]]:
    values = by.get(kind)
    if not values:
        return set()
    field = ACCOUNT_FIELDS[kind]
    accounts = Account.objects.all()
    if kind == K.EMAIL_DOMAIN:
        # Indicators hold domains in lower case; sign-up data may not.
        accounts = accounts.annotate(matched=Lower(field))
    else:
        accounts = accounts.annotate(matched=F(field))
    pairs = set()
    keys = list(values)
    for i in range(0, len(keys), BATCH):
        found = accounts.filter(matched__in=keys[i : i + BATCH]).values_list("pk", "matched")
        for pk, value in found:
            pairs.update((indicator, pk) for indicator in values.get(value, ()))
    return pairs


def _exchange_pairs(by, kind: str, since: datetime | None) -> set[tuple[int, int]]:
    values = by.get(kind)
    if not values:
        return set()
    exchanges = Exchange.objects.all()
    if since is not None:
        exchanges = exchanges.filter(ts__gte=since)
    field = {K.ASN: "asn", K.PROMPT: "prompt_hash", K.IP: "ip"}[kind]
    keys = [int(k) for k in values] if kind != K.IP else list(values)
    pairs = set()
    for i in range(0, len(keys), BATCH):
        rows = (
            exchanges.filter(**{f"{field}__in": keys[i : i + BATCH]})
            .values_list(field, "account_id")
            .distinct()
        )
        for found, account in rows:
            pairs.update((indicator, account) for indicator in values.get(str(found), ()))
    return pairs


def _range_pairs(by, since: datetime | None) -> set[tuple[int, int]]:
    values = by.get(K.CIDR)
    if not values:
        return set()
    networks = [(ipaddress.ip_network(v), ids) for v, ids in values.items()]
    exchanges = Exchange.objects.all() if since is None else Exchange.objects.filter(ts__gte=since)
    if connection.vendor == "postgresql":
        found = _addresses_in_ranges([n for n, _ in networks], since)
    else:
        found = exchanges.values_list("ip", "account_id").distinct().iterator()
    pairs = set()
    for ip, account in found:
        address = ipaddress.ip_address(ip)
        for network, ids in networks:
            if address.version == network.version and address in network:
                pairs.update((indicator, account) for indicator in ids)
    return pairs


def _addresses_in_ranges(networks, since: datetime | None) -> list[tuple[str, int]]:
    """(address, account) of the exchanges inside any of ``networks``, in one scan.

    Containment tests each row against each range; instead each row's address is cut to
    each prefix length the ranges use and looked up among the ranges of that length (a
    hashed ``= ANY``), so the cost grows with the number of distinct lengths, not ranges.
    """
    by_length: dict[tuple[int, int], list[str]] = defaultdict(list)
    for network in networks:
        by_length[(network.version, network.prefixlen)].append(str(network))
    tests, params = [], []
    for (version, length), nets in sorted(by_length.items()):
        tests.append(
            "CASE WHEN family(ip) = %s THEN network(set_masklen(ip, %s)) END = ANY(%s::cidr[])"
        )
        params += [version, length, nets]
    table = Exchange._meta.db_table
    sql = f"SELECT DISTINCT host(ip), account_id FROM {table} WHERE ({' OR '.join(tests)})"  # noqa: S608 (constants)
    if since is not None:
        sql += " AND ts >= %s"
        params.append(since)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def indicator_matches_refresh(
    indicators: QuerySet[Indicator] | None = None, *, since: datetime | None = None
) -> int:
    """Mark the accounts that show ``indicators`` (default: every active one) in their
    details or in traffic since ``since`` (default: all of it). Returns the accounts newly
    marked; marks that exist already are kept as they are."""
    if indicators is None:
        indicators = Indicator.objects.active()
    by = _ids_by(indicators.values_list("pk", "kind", "value", "prompt_hash"))
    pairs: set[tuple[int, int]] = set()
    for kind in ACCOUNT_FIELDS:
        pairs |= _account_pairs(by, kind)
    for kind in (K.IP, K.ASN, K.PROMPT):
        pairs |= _exchange_pairs(by, kind, since)
    pairs |= _range_pairs(by, since)
    if not pairs:
        return 0
    before = IndicatorMatch.objects.count()
    IndicatorMatch.objects.bulk_create(
        [IndicatorMatch(indicator_id=i, account_id=a) for i, a in pairs],
        ignore_conflicts=True,
        batch_size=BATCH,
    )
    return IndicatorMatch.objects.count() - before


def watch_list_counts(accounts: list[int], now: datetime | None = None) -> dict[int, int]:
    """Account pk -> distinct active indicators it matches (accounts without any left out).

    One value shared by several sources counts once: two partners naming the same address
    is one fact, seen twice."""
    active = Indicator.objects.active(now)
    rows = (
        IndicatorMatch.objects.filter(account_id__in=accounts, indicator__in=active)
        .values("account_id")
        .annotate(n=Count("indicator__value", distinct=True))
    )
    return {row["account_id"]: row["n"] for row in rows}


def external_flag_counts(accounts: list[int]) -> dict[int, int]:
    """Account pk -> distinct systems (sources) that flagged it directly."""
    from detection.models import ExternalFlag

    rows = (
        ExternalFlag.objects.filter(account_id__in=accounts)
        .values("account_id")
        .annotate(n=Count("source", distinct=True))
    )
    return {row["account_id"]: row["n"] for row in rows}
