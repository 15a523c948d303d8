"""The synthetic data generator (detection/synthetic, ``generate_traffic``).

The data set is a contract for the demo, the detection tests and the benches: every row valid
in the ingest format, every account labelled, every cohort present, the same bytes for the same
seed, and counts that grow with the scale.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import itertools
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command

from detection.synthetic import generate, plan
from detection.synthetic.generate import BENIGN, COHORT_OF_KIND

SEED, SCALE = 3, 0.05
ACCOUNT_FIELDS = {"account_id", "created_at", "email_domain", "org_id", "payment_fingerprint",
                  "country", "plan"}  # fmt: skip
EXCHANGE_FIELDS = {"exchange_id", "account_id", "ts", "ip", "asn", "user_agent", "model",
                   "prompt", "input_tokens", "output_tokens", "tool_use"}  # fmt: skip
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, seed=SEED, scale=SCALE)
    return out


@pytest.fixture(scope="module")
def rows(dataset):
    return {
        "accounts": read_jsonl(dataset / "accounts.jsonl.gz"),
        "exchanges": read_jsonl(dataset / "exchanges.jsonl.gz"),
        "labels": read_jsonl(dataset / "labels.jsonl"),
        "manifest": orjson.loads((dataset / "manifest.json").read_bytes()),
    }


def parse_ts(value) -> datetime:
    assert isinstance(value, str) and RFC3339.fullmatch(value), value
    return datetime.fromisoformat(value)


def check_account(row: dict) -> None:
    """The contract's accounts table, field by field."""
    assert set(row) <= ACCOUNT_FIELDS, row
    assert isinstance(row["account_id"], str) and row["account_id"]
    parse_ts(row["created_at"])
    for name in ("email_domain", "org_id", "payment_fingerprint", "plan"):
        assert name not in row or (isinstance(row[name], str) and row[name]), row
    if "country" in row:
        assert re.fullmatch(r"[A-Z]{2}", row["country"]), row


def check_exchange(row: dict) -> None:
    """The contract's exchanges table, field by field."""
    assert set(row) <= EXCHANGE_FIELDS, row
    for name in ("exchange_id", "account_id", "model"):
        assert isinstance(row[name], str) and row[name], row
    parse_ts(row["ts"])
    ipaddress.ip_address(row["ip"])
    assert ipaddress.ip_address(row["ip"]).is_global, row["ip"]
    for name in ("asn", "input_tokens", "output_tokens"):
        if name in row:
            assert type(row[name]) is int and row[name] >= 0, row
    assert type(row.get("tool_use", False)) is bool
    assert isinstance(row.get("prompt", ""), str) and isinstance(row.get("user_agent", ""), str)


def test_every_row_is_valid_against_the_contract(rows):
    for row in rows["accounts"]:
        check_account(row)
    for row in rows["exchanges"]:
        check_exchange(row)
    # Every field of the contract is used somewhere.
    assert set().union(*rows["accounts"]) == ACCOUNT_FIELDS
    assert set().union(*(set(r) for r in rows["exchanges"][:5000])) == EXCHANGE_FIELDS


def test_ids_unique_references_resolve_and_times_make_sense(rows):
    accounts = {r["account_id"]: r for r in rows["accounts"]}
    assert len(accounts) == len(rows["accounts"])
    ids = [r["exchange_id"] for r in rows["exchanges"]]
    assert len(set(ids)) == len(ids)
    window = rows["manifest"]["window"]
    start, end = parse_ts(window["start"]), parse_ts(window["end"])
    for row in rows["exchanges"]:
        ts = parse_ts(row["ts"])
        assert start <= ts < end
        # No account talks before it registered.
        assert ts >= parse_ts(accounts[row["account_id"]]["created_at"]), row
    # Every account has traffic.
    assert set(accounts) == {r["account_id"] for r in rows["exchanges"]}


def test_rows_pass_the_ingest_parser(rows):
    parse = pytest.importorskip("detection.ingest.parse")
    notes: list[str] = []
    for row in rows["accounts"]:
        parse.parse_account(row, notes)
    for row in rows["exchanges"]:
        parse.parse_exchange(row, notes)
    assert notes == []


def test_labels_cover_every_account_once(rows):
    labels = rows["labels"]
    assert Counter(r["account_id"] for r in labels) == Counter(
        r["account_id"] for r in rows["accounts"]
    )
    for label in labels:
        assert set(label) == {"account_id", "cohort", "campaign", "malicious"}
        assert label["malicious"] is (label["campaign"] is not None)
        if label["campaign"] is not None:
            assert isinstance(label["campaign"], str)


def test_every_cohort_and_campaign_is_present(rows):
    labels = rows["labels"]
    cohorts = Counter(r["cohort"] for r in labels)
    for name in BENIGN:
        assert cohorts[name] >= 1, name
    for name in COHORT_OF_KIND.values():
        if name != "agentic_harvest":  # one seed in three has an agentic campaign
            assert cohorts[name] >= 8, name
    campaigns = Counter(r["campaign"] for r in labels if r["campaign"])
    assert 7 <= len(campaigns) <= 9
    assert min(campaigns.values()) >= 8
    manifest = rows["manifest"]
    assert set(manifest["campaigns"]) == set(campaigns)
    for campaign_id, info in manifest["campaigns"].items():
        assert info["accounts"] == campaigns[campaign_id]
    # Ordinary customers are by far the largest cohort (at this small scale every other cohort
    # sits on its floor, so they are not quite half); the small scale is still a usable set.
    assert cohorts["ordinary"] > 2 * max(n for c, n in cohorts.items() if c != "ordinary")
    assert cohorts["ordinary"] > len(labels) / 3
    assert len(labels) >= 150 and len(rows["exchanges"]) >= 20_000


def test_manifest_counts_match_the_files(rows):
    manifest = rows["manifest"]
    assert manifest["seed"] == SEED and manifest["scale"] == SCALE
    assert manifest["totals"]["accounts"] == len(rows["accounts"])
    assert manifest["totals"]["exchanges"] == len(rows["exchanges"])
    cohort_of = {r["account_id"]: r["cohort"] for r in rows["labels"]}
    per_cohort = Counter(cohort_of[r["account_id"]] for r in rows["exchanges"])
    assert {k: v["exchanges"] for k, v in manifest["cohorts"].items()} == dict(per_cohort)


def test_pivoting_campaign_moves_to_the_new_model_within_a_day(rows):
    manifest = rows["manifest"]
    new = manifest["new_model"]
    release = parse_ts(manifest["models"][new]["released"])
    pivot = {r["account_id"] for r in rows["labels"] if r["cohort"] == "capability_harvest"}
    before = [
        r for r in rows["exchanges"] if r["account_id"] in pivot and parse_ts(r["ts"]) < release
    ]
    after = [
        r for r in rows["exchanges"]
        if r["account_id"] in pivot and parse_ts(r["ts"]) >= release + timedelta(days=1)
    ]  # fmt: skip
    assert before and after
    assert not any(r["model"] == new for r in before)
    assert sum(r["model"] == new for r in after) / len(after) > 0.85


def test_same_seed_gives_the_same_bytes(dataset, tmp_path):
    generate(tmp_path, seed=SEED, scale=SCALE)
    for name in ("accounts.jsonl.gz", "exchanges.jsonl.gz", "labels.jsonl", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (dataset / name).read_bytes(), name


def test_different_seeds_differ():
    plans = {seed: plan(seed, 0.3) for seed in range(1, 9)}
    campaign_counts = {len(campaigns) for _, _, campaigns in plans.values()}
    assert campaign_counts <= {8, 9, 10} and len(campaign_counts) >= 2
    sizes = set()
    for _, specs, _ in plans.values():
        sizes.add(tuple(sorted(Counter(s.cohort for s in specs).items())))
    assert len(sizes) == len(plans)  # cohort sizes vary with the seed
    ids = [{s.account_id for s in specs} for _, specs, _ in plans.values()]
    assert not ids[0] & ids[1]
    releases = {world.release for world, _, _ in plans.values()}
    assert len(releases) >= 2


def test_counts_grow_linearly_with_scale():
    totals, shapes = {}, set()
    for scale in (0.25, 0.5, 1.0):
        _, specs, campaigns = plan(11, scale)
        totals[scale] = (len(specs), sum(s.n for s in specs))
        shapes.add(tuple(info["kind"] for info in campaigns.values()))
    assert totals[1.0][1] >= 500_000
    assert 2_000 <= totals[1.0][0] <= 6_000
    for scale in (0.25, 0.5):
        for k in (0, 1):
            assert totals[scale][k] / totals[1.0][k] == pytest.approx(scale, rel=0.1)
    # A seed keeps its shape across scales: the same campaigns, only smaller.
    assert len(shapes) == 1


def test_csv_format_writes_the_same_data_with_a_header(tmp_path, rows):
    generate(tmp_path, seed=SEED, scale=SCALE, fmt="csv")
    header, accounts = read_csv(tmp_path / "accounts.csv.gz")
    assert header == ["account_id", "created_at", "email_domain", "org_id",
                      "payment_fingerprint", "country", "plan"]  # fmt: skip
    header, exchanges = read_csv(tmp_path / "exchanges.csv.gz")
    assert set(header) == EXCHANGE_FIELDS
    assert [a["account_id"] for a in accounts] == [a["account_id"] for a in rows["accounts"]]
    assert len(exchanges) == len(rows["exchanges"])
    # The same rows: prompts with newlines, quotes and non-Latin text survive CSV quoting.
    for as_csv, as_json in zip(exchanges[::97], rows["exchanges"][::97], strict=True):
        assert as_csv["prompt"] == as_json["prompt"]
        assert as_csv["tool_use"] == ("true" if as_json["tool_use"] else "false")
        assert int(as_csv["input_tokens"]) == as_json["input_tokens"]
    parse = pytest.importorskip("detection.ingest.parse")
    notes: list[str] = []
    for row in exchanges:
        parse.parse_exchange(parse.csv_record(row), notes)
    for row in accounts:
        parse.parse_account(parse.csv_record(row), notes)


def test_campaign_cohort_names_are_labelled(rows):
    kinds = {r["cohort"] for r in rows["labels"] if r["malicious"]}
    assert kinds <= set(COHORT_OF_KIND.values())
    assert not kinds & set(BENIGN)


def test_command_writes_the_files_and_a_summary(tmp_path):
    out = io.StringIO()
    call_command("generate_traffic", str(tmp_path / "set"), "--seed", "5", "--scale", "0.02",
                 "--format", "csv", stdout=out)  # fmt: skip
    names = {p.name for p in (tmp_path / "set").iterdir()}
    assert names == {"accounts.csv.gz", "exchanges.csv.gz", "labels.jsonl", "manifest.json"}
    manifest = orjson.loads((tmp_path / "set" / "manifest.json").read_bytes())
    assert f"{manifest['totals']['exchanges']:,} exchanges" in out.getvalue()


@pytest.mark.parametrize("args", [["--scale", "0"], ["--scale", "-1"], ["--seed", "-3"]])
def test_command_refuses_bad_arguments(tmp_path, args):
    with pytest.raises(CommandError):
        call_command("generate_traffic", str(tmp_path), *args)
    assert list(tmp_path.iterdir()) == []


def test_command_refuses_a_file_as_out_dir(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    with pytest.raises(CommandError, match="not a folder"):
        call_command("generate_traffic", str(target), "--scale", "0.02")
    assert target.read_text() == "keep me"


@pytest.mark.django_db
def test_ingest_loads_every_generated_row(dataset, tmp_path):
    from detection.models import Account, Exchange

    try:
        call_command("ingest", str(dataset), "--rejects-dir", str(tmp_path), stdout=io.StringIO(),
                     stderr=io.StringIO())  # fmt: skip
    except SystemExit as exc:  # ingest exits 1 when rows were rejected
        pytest.fail(f"ingest exited {exc.code}")
    manifest = orjson.loads((dataset / "manifest.json").read_bytes())
    assert Account.objects.count() == manifest["totals"]["accounts"]
    assert Account.objects.filter(is_placeholder=True).count() == 0
    assert Exchange.objects.count() == manifest["totals"]["exchanges"]


def _account_traits(rows) -> dict[str, dict[str, bool]]:
    """Single traits a naive rule might ban on, per account."""
    from detection.synthetic import pools
    from detection.synthetic.prompts_harvest import ELICITATIONS

    hosting = {asn for asn, _ in pools.HOSTING + pools.VPN}
    cards = Counter(r.get("payment_fingerprint") for r in rows["accounts"])
    by_ip: dict[str, set[str]] = {}
    traits: dict[str, dict[str, bool]] = {r["account_id"]: {} for r in rows["accounts"]}
    for r in rows["exchanges"]:
        by_ip.setdefault(r["ip"], set()).add(r["account_id"])
        t = traits[r["account_id"]]
        t["hosting_asn"] = t.get("hosting_asn", False) or r["asn"] in hosting
        t["elicitation_phrase"] = t.get("elicitation_phrase", False) or any(
            phrase in r["prompt"] for phrase in ELICITATIONS
        )
        t["tool_use"] = t.get("tool_use", False) or r["tool_use"]
    shared_ip = {a for accounts in by_ip.values() if len(accounts) > 1 for a in accounts}
    for r in rows["accounts"]:
        t = traits[r["account_id"]]
        card = r.get("payment_fingerprint")
        t["shared_card"] = card is not None and cards[card] > 1
        t["disposable_mail"] = r.get("email_domain") in pools.DISPOSABLE_MAIL
        t["free_with_card"] = r.get("plan") == "free" and card is not None
        t["shared_ip"] = r["account_id"] in shared_ip
    return traits


def _first_requests(rows, cohort: str) -> dict[str, datetime]:
    members = {r["account_id"] for r in rows["labels"] if r["cohort"] == cohort}
    first: dict[str, datetime] = {}
    for r in rows["exchanges"]:
        if r["account_id"] in members:
            ts = parse_ts(r["ts"])
            first[r["account_id"]] = min(first.get(r["account_id"], ts), ts)
    return first


def test_rush_fleet_starts_within_a_day_of_the_release_on_the_new_model(rows):
    """Most accounts registered around the release and on the new model from their first
    request (no before); aged ones kept warm on the old model pivot on release day."""
    manifest = rows["manifest"]
    new = manifest["new_model"]
    release = parse_ts(manifest["models"][new]["released"])
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    first = _first_requests(rows, "rush_fleet")
    assert len(first) >= 8
    mine = [r for r in rows["exchanges"] if r["account_id"] in first]
    on_new: dict[str, datetime] = {}
    for r in mine:
        if r["model"] == new:
            ts = parse_ts(r["ts"])
            on_new[r["account_id"]] = min(on_new.get(r["account_id"], ts), ts)
    fresh = {a for a in first if created[a] >= release - timedelta(days=2)}
    aged = set(first) - fresh
    assert len(fresh) > len(aged) > 0
    for account in fresh:
        assert release - timedelta(hours=25) <= created[account] <= release + timedelta(hours=37)
        assert first[account] >= release
    for account in aged:
        assert first[account] < release <= on_new[account] <= release + timedelta(days=2)
    assert all(on_new[a] <= release + timedelta(days=2, hours=14) for a in fresh)
    assert sum(r["model"] == new for r in mine) / len(mine) > 0.6
    # Burned within five days of its rush.
    last = max(parse_ts(r["ts"]) - max(first[r["account_id"]], release) for r in mine)
    assert last <= timedelta(days=5)


def test_early_adopters_move_to_the_new_model_within_hours(rows):
    """Existing customers with a before, on the new model within a day of the release."""
    manifest = rows["manifest"]
    new = manifest["new_model"]
    release = parse_ts(manifest["models"][new]["released"])
    first = _first_requests(rows, "early_adopter")
    assert first and all(ts < release for ts in first.values())
    adopted: dict[str, datetime] = {}
    for r in rows["exchanges"]:
        if r["account_id"] in first and r["model"] == new:
            ts = parse_ts(r["ts"])
            adopted[r["account_id"]] = min(adopted.get(r["account_id"], ts), ts)
    assert adopted and all(release <= ts <= release + timedelta(days=2) for ts in adopted.values())


def test_hydra_accounts_are_quiet_each_and_rotate_over_a_shared_network(rows):
    """Low volume per account, an exit per request from the network the proxy customers use,
    and job texts that are rarely sent twice."""
    labels = {r["account_id"]: r["cohort"] for r in rows["labels"]}
    per: dict[str, list[dict]] = {}
    for r in rows["exchanges"]:
        if labels[r["account_id"]] in ("hydra_fleet", "proxy_user"):
            per.setdefault(r["account_id"], []).append(r)
    hydra = {a: ex for a, ex in per.items() if labels[a] == "hydra_fleet"}
    assert len(hydra) >= 8
    counts = sorted(len(ex) for ex in hydra.values())
    assert counts[len(counts) // 2] < 400
    exits = {r["ip"] for ex in hydra.values() for r in ex}
    customers = {r["ip"] for a, ex in per.items() if labels[a] == "proxy_user" for r in ex}
    assert exits & customers
    for ex in hydra.values():  # an exit per request: no exit carries a large part of it
        busiest = Counter(r["ip"] for r in ex).most_common(1)[0][1]
        assert busiest <= max(3, len(ex) / 5)
    prompts = [r["prompt"] for ex in hydra.values() for r in ex]
    assert len(set(prompts)) > 0.9 * len(prompts)


def test_sleeper_fleet_registered_apart_wakes_within_hours(rows):
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    first = _first_requests(rows, "sleeper_fleet")
    assert len(first) >= 8
    wake = sorted(first.values())
    assert wake[-1] - wake[0] <= timedelta(hours=4)
    registered = sorted(created[a] for a in first)
    assert registered[-1] - registered[0] >= timedelta(days=30)
    start = parse_ts(rows["manifest"]["window"]["start"])
    assert wake[0] - start >= timedelta(days=7)
    assert all(first[a] - created[a] >= timedelta(days=10) for a in first)


def test_their_look_alikes_start_alike(rows):
    """Launch-day sign-ups begin on the new model; returning customers after long silence."""
    manifest = rows["manifest"]
    release = parse_ts(manifest["models"][manifest["new_model"]]["released"])
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    launch = _first_requests(rows, "launch_user")
    assert launch and all(
        release <= created[a] <= release + timedelta(hours=36) and ts >= created[a]
        for a, ts in launch.items()
    )
    back = _first_requests(rows, "returning")
    start = parse_ts(manifest["window"]["start"])
    assert back and all(ts - start >= timedelta(days=6) for ts in back.values())
    assert all(ts - created[a] >= timedelta(days=60) for a, ts in back.items())


def test_no_single_trait_separates_fleets_from_customers(tmp_path):
    """Every trait a naive rule would ban on is shown by customers too (and by fleets)."""
    # A tenth of the default: the smallest world in which each trait's rarer side (a
    # customer on a disposable address) appears.
    generate(tmp_path, seed=SEED, scale=0.1)
    data = {
        "accounts": read_jsonl(tmp_path / "accounts.jsonl.gz"),
        "exchanges": read_jsonl(tmp_path / "exchanges.jsonl.gz"),
    }
    malicious = {r["account_id"]: r["malicious"] for r in read_jsonl(tmp_path / "labels.jsonl")}
    traits = _account_traits(data)
    names = {name for t in traits.values() for name in t}
    assert len(names) == 7
    for name in names:
        shown_by = Counter(malicious[a] for a, t in traits.items() if t.get(name))
        assert shown_by[True] > 0 and shown_by[False] > 0, (name, shown_by)


def test_fleets_register_in_bursts_and_work_shifts_but_evasive_and_hydra_ones_do_not(rows):
    labels = {r["account_id"]: r for r in rows["labels"]}
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    hours: dict[str, Counter] = {}
    for r in rows["exchanges"]:
        campaign = labels[r["account_id"]]["campaign"]
        if campaign:
            hours.setdefault(campaign, Counter())[parse_ts(r["ts"]).hour] += 1
    for campaign_id, info in rows["manifest"]["campaigns"].items():
        members = sorted(created[a] for a, lab in labels.items() if lab["campaign"] == campaign_id)
        # Share of members registered within 30 minutes of the previous member.
        close = sum(b - a <= timedelta(minutes=30) for a, b in itertools.pairwise(members))
        busy = sum(n for _, n in hours[campaign_id].most_common(12)) / hours[campaign_id].total()
        if info["kind"] in ("evasive", "hydra", "sleeper", "pivot", "quiet_rush"):  # one by one
            assert close / len(members) < 0.5, campaign_id
        elif info["kind"] == "rush":  # sittings around the release, beside aged accounts
            assert close / len(members) > 0.4, campaign_id
        else:
            assert close / len(members) > 0.6, campaign_id
            if info["crews"] == 1:
                # One crew: (nearly) all traffic in the 12 busiest UTC hours of the day.
                assert busy > 0.95, campaign_id


def test_reported_preset_has_the_published_shape_at_any_fraction():
    totals = {}
    for scale in (0.01, 0.02):
        _, specs, campaigns = plan(7, scale, "reported")
        fleets = Counter(s.campaign for s in specs if s.campaign)
        volume = Counter()
        for s in specs:
            volume[s.campaign or s.cohort] += s.n
        kinds = {c: info["kind"] for c, info in campaigns.items()}
        assert sorted(kinds.values()) == ["capability", "hydra", "reasoning"]
        by_kind = {kinds[c]: volume[c] for c in kinds}
        # About 150 thousand, 3.4 million and 13 million exchanges at scale 1.
        for kind, full in (("reasoning", 150_000), ("hydra", 3_400_000), ("capability", 13e6)):
            assert by_kind[kind] == pytest.approx(full * scale, rel=0.02)
        assert sum(fleets.values()) == pytest.approx(24_000 * scale, rel=0.02)
        benign = [s for s in specs if not s.campaign]
        # Ordinary traffic at least 100,000 accounts and 10 million exchanges at scale 1,
        # with every look-alike cohort.
        assert len(benign) >= 100_000 * scale and sum(s.n for s in benign) >= 10e6 * scale
        assert {s.cohort for s in benign} == set(BENIGN)
        totals[scale] = (len(specs), sum(s.n for s in specs))
    assert totals[0.02][1] == pytest.approx(2 * totals[0.01][1], rel=0.05)


def test_command_takes_the_preset_and_refuses_a_scale_past_it(tmp_path):
    out = io.StringIO()
    call_command("generate_traffic", str(tmp_path / "set"), "--preset", "reported",
                 "--scale", "0.002", stdout=out)  # fmt: skip
    manifest = orjson.loads((tmp_path / "set" / "manifest.json").read_bytes())
    assert (manifest["preset"], manifest["scale"]) == ("reported", 0.002)
    assert len(manifest["campaigns"]) == 3
    with pytest.raises(CommandError, match="fraction"):
        call_command("generate_traffic", str(tmp_path / "big"), "--preset", "reported",
                     "--scale", "20")  # fmt: skip


def test_pivot_fleet_is_aged_with_a_history_then_moves_to_the_new_model_within_a_day(rows):
    """Accounts registered one by one months before, a person's traffic on the old models
    from home addresses and ordinary clients, then within a day of the release most traffic
    to the new model at volume, through proxy providers' exits and SDK clients."""
    manifest = rows["manifest"]
    new = manifest["new_model"]
    release = parse_ts(manifest["models"][new]["released"])
    start = parse_ts(manifest["window"]["start"])
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    first = _first_requests(rows, "pivot_fleet")
    assert len(first) >= 8
    assert all(start - created[a] >= timedelta(days=30) for a in first)
    registered = sorted(created[a] for a in first)
    assert registered[-1] - registered[0] >= timedelta(days=60)
    before: dict[str, list[dict]] = {a: [] for a in first}
    after: dict[str, list[dict]] = {a: [] for a in first}
    for r in rows["exchanges"]:
        if r["account_id"] in first:
            side = before if parse_ts(r["ts"]) < release else after
            side[r["account_id"]].append(r)
    assert sum(bool(ex) for ex in before.values()) >= 0.8 * len(first)
    for account in first:
        old, late = before[account], after[account]
        assert all(r["model"] != new for r in old)
        assert not any(r["user_agent"].startswith(("openai", "anthropic")) for r in old)
        on_new = [parse_ts(r["ts"]) for r in late if r["model"] == new]
        assert on_new and min(on_new) <= release + timedelta(hours=26)
        assert len(late) > 2 * len(old)
        settled = [r for r in late if parse_ts(r["ts"]) >= release + timedelta(hours=26)]
        assert sum(r["model"] == new for r in settled) / len(settled) > 0.55
        # Its harvest leaves through other addresses and clients than its history.
        home = {r["ip"] for r in old}
        assert sum(r["ip"] not in home for r in settled) / len(settled) > 0.5
        assert {r["user_agent"] for r in settled}.isdisjoint({r["user_agent"] for r in old})
    # More than one proxy provider.
    assert manifest["campaigns"][_campaign_of(rows, "pivot_fleet")]["proxy_providers"] >= 2


def test_quiet_rush_fleet_shares_no_exits_or_cards_and_moves_to_the_new_model_within_a_day(rows):
    """Young accounts registered one at a time over the two weeks before the release, each
    on exits and a card of its own, every one on the new model within a day of the release
    and mostly on it from then on, harvesting in the fleet's house style."""
    manifest = rows["manifest"]
    new = manifest["new_model"]
    release = parse_ts(manifest["models"][new]["released"])
    created = {r["account_id"]: parse_ts(r["created_at"]) for r in rows["accounts"]}
    first = _first_requests(rows, "quiet_rush_fleet")
    assert len(first) >= 8
    assert all(timedelta(days=2) <= release - created[a] <= timedelta(days=17) for a in first)
    cards = [r.get("payment_fingerprint") for r in rows["accounts"] if r["account_id"] in first]
    cards = [c for c in cards if c]
    assert len(set(cards)) == len(cards)
    exits: dict[str, set] = {a: set() for a in first}
    after: dict[str, list[dict]] = {a: [] for a in first}
    for r in rows["exchanges"]:
        if r["account_id"] in first:
            exits[r["account_id"]].add(r["ip"])
            if parse_ts(r["ts"]) >= release:
                after[r["account_id"]].append(r)
    seen = Counter(ip for ips in exits.values() for ip in ips)
    assert sum(n > 1 for n in seen.values()) <= max(2, len(first) // 10)
    for account in first:
        on_new = sorted(parse_ts(r["ts"]) for r in after[account] if r["model"] == new)
        assert on_new and on_new[0] <= release + timedelta(hours=24)
        settled = [r for r in after[account] if parse_ts(r["ts"]) > on_new[0]]
        assert sum(r["model"] == new for r in settled) / max(1, len(settled)) > 0.5
    assert all(parse_ts(r["ts"]) >= created[a] for a in first for r in after[a])


def _campaign_of(rows, cohort: str) -> str:
    return next(r["campaign"] for r in rows["labels"] if r["cohort"] == cohort)


def test_a_company_of_several_offices_pays_with_several_cards_from_many_networks(rows):
    """One declared organisation whose keys pay with four cards at least and leave through
    more /24 networks than one office and one cloud region have."""
    labels = {r["account_id"]: r["cohort"] for r in rows["labels"]}
    org_of = {
        r["account_id"]: r["org_id"]
        for r in rows["accounts"]
        if labels[r["account_id"]] == "enterprise" and r.get("org_id")
    }
    cards: dict[str, set] = {}
    for r in rows["accounts"]:
        if r["account_id"] in org_of:
            cards.setdefault(org_of[r["account_id"]], set()).add(r.get("payment_fingerprint"))
    networks: dict[str, set] = {}
    for r in rows["exchanges"]:
        if r["account_id"] in org_of:
            net = ipaddress.ip_network(f"{r['ip']}/24", strict=False)
            networks.setdefault(org_of[r["account_id"]], set()).add(net)
    assert any(len(cards[o]) >= 4 and len(networks[o]) > 4 for o in cards)


def test_proxy_customers_and_hydra_members_meet_on_the_popular_agent(rows):
    """Some proxy customers run the popular agent through the network, and so does part of
    the hydra fleet: the same harness, word for word, within the same minutes now and then."""
    labels = {r["account_id"]: r["cohort"] for r in rows["labels"]}
    seen: dict[str, dict[str, set]] = {"hydra_fleet": {}, "proxy_user": {}}
    for r in rows["exchanges"]:
        cohort = labels[r["account_id"]]
        if cohort in seen and r["prompt"].startswith("You are Forge, an interactive"):
            minute = parse_ts(r["ts"]).timestamp() // 600
            seen[cohort].setdefault(r["account_id"], set()).add(minute)
    assert seen["hydra_fleet"] and len(seen["proxy_user"]) >= 2
    fleet = set().union(*seen["hydra_fleet"].values())
    met = [a for a, minutes in seen["proxy_user"].items() if minutes & fleet]
    assert met
    # Now and then, not in step: most of a customer's ten-minute slots are its own.
    assert all(len(m & fleet) < 0.5 * len(m) for m in seen["proxy_user"].values())


def _varied(seed: int, scale: float = 0.05):
    return plan(seed, scale, vary=True)


def test_varied_shapes_are_deterministic_and_labelled(tmp_path):
    """``--vary``: the same seed gives the same bytes, every fleet account is labelled with
    its campaign and a ``varied_*`` cohort, and the manifest says which shape each has."""
    first = generate(tmp_path / "a", seed=1001, scale=0.05, vary=True)
    generate(tmp_path / "b", seed=1001, scale=0.05, vary=True)
    for name in ("accounts.jsonl.gz", "exchanges.jsonl.gz", "labels.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["vary"] is True
    labels = read_jsonl(tmp_path / "a" / "labels.jsonl")
    fleets = [r for r in labels if r["malicious"]]
    assert fleets and all(r["cohort"].startswith("varied_") for r in fleets)
    assert {r["campaign"] for r in fleets} == set(first["campaigns"])
    for info in first["campaigns"].values():
        assert info["accounts"] >= 10 and {"timing", "cards", "exits"} <= set(info["shape"])
    assert any(r["cohort"] == "enterprise" for r in labels)


def test_varied_shapes_differ_from_fleet_to_fleet_and_seed_to_seed():
    """Across a few seeds the fleets take many shapes (timing, start, registration, cards,
    exits, mail, templates) and sizes from ten accounts up, and companies differ in how many
    keys declare the organisation and how many cards they pay with."""
    shapes, sizes, declared, cards, undeclared = [], [], set(), set(), []
    for seed in range(1001, 1007):
        _, specs, campaigns = _varied(seed)
        shapes += [info["shape"] for info in campaigns.values()]
        sizes += [info["shape"]["accounts"] for info in campaigns.values()]
        keys = [s for s in specs if s.cohort == "enterprise"]
        declared.add(round(sum(bool(s.org_id) for s in keys) / len(keys), 1))
        cards.add(len({s.payment_fingerprint for s in keys}))
        holders = Counter(s.payment_fingerprint for s in keys)
        silent = Counter(s.payment_fingerprint for s in keys if not s.org_id)
        undeclared += [c for c, n in holders.items() if n >= 10 and silent[c] == n]
    for trait in ("timing", "start", "registration", "cards", "exits", "mail", "templates"):
        assert len({s[trait] for s in shapes}) >= 3 or trait == "templates", trait
    assert len({s["templates"] for s in shapes}) == 2
    assert min(sizes) <= 12 and max(sizes) >= 20
    assert len(declared) >= 3 and len(cards) >= 3
    assert undeclared  # a company of ten keys or more on one card, none declaring it


def test_some_varied_fleets_run_the_popular_agent_that_customers_run():
    """Part of the varied fleets with agentic work send it through the popular coding agent
    (its client string and its harness before the operator's jobs) on a share of their
    accounts; a fleet with no agentic work never does."""
    from detection.synthetic.lookalikes import agent_job_prompt

    shares = []
    for seed in range(1001, 1011):
        _, specs, campaigns = _varied(seed)
        for campaign, info in campaigns.items():
            share = info["shape"]["popular_agent"]
            on_agent = [
                s
                for s in specs
                if s.campaign == campaign
                and getattr(s.behaviour.prompt, "func", None) is agent_job_prompt
                and s.behaviour.user_agents[0].startswith("forge-cli/")
            ]
            if "agentic" not in info["shape"]["mix"]:
                assert share == 0
            assert bool(on_agent) == (share > 0) or info["shape"]["cover"]
            shares.append(share)
    assert 0 < sum(s > 0 for s in shares) < len(shares)


def test_varied_data_has_coworkers_who_share_a_space_and_pay_alone():
    """``--vary`` adds freelancers at coworking spaces: each space's members leave through
    its addresses and work in one time zone, but each pays with a card of their own and
    declares no organisation; many run the popular agent. They come after every other
    account, so the accounts planned before them keep their positions (and so their rows)."""
    from detection.synthetic.lookalikes import harness_prompt

    _, specs, _ = _varied(1004, scale=0.1)
    coworkers = [s for s in specs if s.cohort == "coworker"]
    assert len(coworkers) >= 6
    assert specs[-len(coworkers) :] == coworkers
    assert len({s.payment_fingerprint for s in coworkers}) == len(coworkers)
    assert not any(s.org_id for s in coworkers)
    spaces = Counter(s.behaviour.ips[0] for s in coworkers)
    assert len(spaces) >= 2 and min(spaces.values()) >= 3
    on_agent = [s for s in coworkers if getattr(s.behaviour.prompt, "func", None) is harness_prompt]
    assert len(on_agent) >= len(coworkers) / 3


def test_the_default_data_set_has_no_varied_shapes(rows):
    assert rows["manifest"]["vary"] is False
    assert not any(r["cohort"].startswith("varied_") for r in rows["labels"])
    assert not any(r["cohort"] == "coworker" for r in rows["labels"])
    with pytest.raises(ValueError):
        plan(1, 0.05, preset="reported", vary=True)
