"""Watch-list figures: importing an indicator file and marking the accounts that match it.

    python bench/indicators.py [--accounts 20000] [--exchanges 1000000] [--indicators 2000]

Builds a scratch database (``bench_indicators``), fills it with accounts and exchanges by
SQL (addresses spread over 10.0.0.0/8, 200 networks, 5,000 prompt templates), writes a Meta
CSV of ``--indicators`` rows (addresses, ranges, networks, domains, cards, templates,
account ids; half of each kind present in the data), then prints the time to import it (which
marks the accounts at once), the time of the per-run refresh over the whole window, and the
time of the refresh with an empty watch list. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import time

from detection_common import setup_database


def fill(accounts: int, exchanges: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detection_account (account_id, email_domain, org_id, payment_fingerprint,"
            " country, plan, is_placeholder, platform_status, first_ingested_at, text_flags,"
            " text_originals, created_at)"
            " SELECT 'acct-' || g, 'd' || (g %% 500) || '.example', '', 'fp-' || (g %% 3000), 'GB',"
            " 'pro', false, 'active', now(), 0, '', now() - interval '40 days'"
            " FROM generate_series(1, %s) g",
            [accounts],
        )
        cursor.execute(
            "INSERT INTO detection_exchange (exchange_id, account_id, ts, ip, asn, user_agent,"
            " model, prompt, prompt_hash, text_flags, text_originals)"
            " SELECT 'ex-' || g, 1 + (g %% %s), now() - (g %% 86400) * interval '10 seconds',"
            " ('10.' || (g %% 251) || '.' || ((g / 251) %% 251) || '.'"
            " || ((g / 63001) %% 251))::inet,"
            " 64000 + (g %% 200), 'ua', 'm', '', g %% 5000, 0, ''"
            " FROM generate_series(1, %s) g",
            [accounts, exchanges],
        )
        cursor.execute("ANALYZE detection_exchange")
        cursor.execute("ANALYZE detection_account")


def indicator_file(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    kinds = ["ip", "cidr", "asn", "email_domain", "payment_fingerprint", "prompt_template",
             "account_id"]  # fmt: skip
    lines = ["indicator_type,indicator_value,comment"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        present = i % 2 == 0
        if kind == "ip":
            a, b, c = (rng.randrange(251) for _ in range(3))
            value = f"10.{a}.{b}.{c}" if present else f"172.16.{a}.{c}"
        elif kind == "cidr":
            value = (
                f"10.{rng.randrange(251)}.{rng.randrange(251)}.0/24"
                if present
                else (f"192.168.{rng.randrange(251)}.0/24")
            )
        elif kind == "asn":
            value = str(64000 + rng.randrange(200)) if present else str(65000 + i)
        elif kind == "email_domain":
            value = f"d{rng.randrange(500)}.example" if present else f"x{i}.example"
        elif kind == "payment_fingerprint":
            value = f"fp-{rng.randrange(3000)}" if present else f"fp-none-{i}"
        elif kind == "prompt_template":
            value = f"template {i}"  # hashes never equal the bench's small integers
        else:
            value = f"acct-{1 + rng.randrange(1000)}" if present else f"nobody-{i}"
        lines.append(f"{kind},{value},bench")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--indicators", type=int, default=2_000)
    args = parser.parse_args()
    setup_database("bench_indicators")
    from detection.indicators.matching import indicator_matches_refresh
    from detection.indicators.services import indicators_import
    from detection.models import Indicator, IndicatorMatch

    started = time.perf_counter()
    fill(args.accounts, args.exchanges)
    print(f"data: {args.accounts:,} accounts, {args.exchanges:,} exchanges "
          f"({time.perf_counter() - started:.1f} s to build)")  # fmt: skip

    started = time.perf_counter()
    IndicatorMatch.objects.all().delete()
    indicator_matches_refresh(Indicator.objects.none())
    print(f"refresh with an empty watch list: {time.perf_counter() - started:.3f} s")

    data = indicator_file(args.indicators)
    started = time.perf_counter()
    record = indicators_import(data=data, file_name="bench.csv", source="bench")
    seconds = time.perf_counter() - started
    print(f"import of {record.rows_read:,} rows ({record.added:,} added, {record.rejected} "
          f"refused), marking {record.matched_accounts:,} accounts: {seconds:.1f} s")  # fmt: skip

    IndicatorMatch.objects.all().delete()
    started = time.perf_counter()
    marked = indicator_matches_refresh()
    seconds = time.perf_counter() - started
    print(f"per-run refresh over every exchange, {Indicator.objects.count():,} indicators: "
          f"{seconds:.1f} s ({marked:,} marks)")  # fmt: skip


if __name__ == "__main__":
    main()
