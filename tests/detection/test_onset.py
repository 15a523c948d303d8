"""When accounts begin: the new-model rush and starting together, on small hand-built frames,
and a sleeper fleet found whole beside the customers a newsletter brought back."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from detection import onset
from detection.config import DetectionParams
from detection.signals import _pivots
from tests.detection.cohorts import COT, DAYS, START, TOPICS, Cohort
from tests.detection.test_coaction import _analyse

WINDOW = datetime(2026, 9, 1, tzinfo=UTC)
RELEASE = WINDOW + timedelta(days=14, hours=16)
PARAMS = DetectionParams()


def _models(rows: list[tuple[int, str, datetime, int]]) -> pl.DataFrame:
    """(account, model, day, first_ts, n) from (account, model, first request, requests)."""
    return pl.DataFrame(
        [
            {"account": a, "model": m, "day": ts.date(), "first_ts": ts, "n": n}
            for a, m, ts, n in rows
        ],
        schema={"account": pl.Int64, "model": pl.Utf8, "day": pl.Date,
                "first_ts": pl.Datetime("us", "UTC"), "n": pl.Int64},
    )  # fmt: skip


def _customers(adopters: int, count: int = 20) -> list[tuple[int, str, datetime, int]]:
    """``count`` customers active before and after the release, ``adopters`` of whom send a
    fifth of their traffic to the new model from its second day."""
    rows = [(99, "model-new", RELEASE, 1)]  # the release: the new model's first request
    for a in range(1, count + 1):
        for day in range(0, 20):
            ts = WINDOW + timedelta(days=day, hours=10)
            new = 2 if a <= adopters and ts.date() > RELEASE.date() else 0
            rows.append((a, "model-old", ts, 10 - new))
            if new:
                rows.append((a, "model-new", ts, new))
    return rows


def test_rush_compares_a_new_account_with_everyones_adoption_on_the_same_days():
    rush = [(100, "model-new", RELEASE + timedelta(hours=2), 18),
            (100, "model-old", RELEASE + timedelta(hours=3), 2),
            (100, "model-new", RELEASE + timedelta(days=1, hours=2), 20)]  # fmt: skip
    slow = onset.rush_columns(_models(_customers(adopters=0) + rush), WINDOW, PARAMS)
    row = slow.filter(pl.col("account") == 100).row(0, named=True)
    assert row["rush_share"] == pytest.approx(38 / 40)
    # Nobody else has adopted yet (the release's own first request and this account are all
    # the new model's traffic on those days).
    assert row["rush_adoption"] < 0.1
    assert row["rush_excess"] > 0.85
    # When every customer adopts as fast, the same account is less ahead of them: the
    # comparison is the population's own adoption, read from the data.
    fast = onset.rush_columns(_models(_customers(adopters=20) + rush), WINDOW, PARAMS)
    faster = fast.filter(pl.col("account") == 100).row(0, named=True)
    assert faster["rush_adoption"] > 0.05
    assert faster["rush_excess"] < row["rush_excess"]
    # Customers with traffic before the release have a before: not a rush, maybe a pivot.
    assert set(fast["account"].to_list()) == {99, 100}


def test_a_move_needs_a_before_so_a_new_account_is_a_rush_not_a_pivot():
    newcomer = [(100, "model-new", RELEASE + timedelta(hours=2), 30)]
    mover = [(101, "model-old", WINDOW + timedelta(days=3), 30),
             (101, "model-new", RELEASE + timedelta(hours=5), 30)]  # fmt: skip
    frame = _models(_customers(adopters=0) + newcomer + mover)
    pivots = _pivots(frame, WINDOW, PARAMS)
    assert 101 in pivots["account"].to_list()
    assert 100 not in pivots["account"].to_list()
    assert 100 in onset.rush_columns(frame, WINDOW, PARAMS)["account"].to_list()


def _accounts(rows: list[tuple[int, datetime, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"account": a, "created_at": c, "first_ts": f} for a, c, f in rows],
        schema={"account": pl.Int64, "created_at": pl.Datetime("us", "UTC"),
                "first_ts": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def test_an_account_begins_when_it_registers_or_wakes_from_a_silence_seen_in_the_window():
    wake = WINDOW + timedelta(days=12, hours=15)
    frame = _accounts(
        [
            (1, WINDOW - timedelta(days=300), WINDOW + timedelta(hours=1)),  # busy from the start
            (2, WINDOW - timedelta(days=90), wake),  # silent twelve days in the window: woke
            (3, WINDOW + timedelta(days=4), WINDOW + timedelta(days=4, hours=1)),  # new
            (4, WINDOW - timedelta(days=90), WINDOW + timedelta(days=2)),  # too soon to tell
        ]
    )
    starts = dict(onset.start_times(frame, WINDOW, PARAMS).iter_rows())
    assert starts == {2: wake, 3: WINDOW + timedelta(days=4)}


def _bands(rows: dict[int, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"account": a, "key": k} for a, keys in rows.items() for k in keys],
        schema={"account": pl.Int64, "key": pl.Utf8},
    )


def _groups(ids) -> pl.DataFrame:
    return pl.DataFrame({"account": list(ids), "group": [f"acct:{a}" for a in ids]})


def test_starting_together_needs_the_same_hour_and_the_same_uncommon_templates():
    wake = WINDOW + timedelta(days=12, hours=15)
    old = WINDOW - timedelta(days=120)
    rows = []
    rows += [(a, old - timedelta(days=9 * a), wake + timedelta(minutes=7 * a)) for a in range(1, 7)]
    # Woken the same afternoon by a newsletter: everyday questions, sent by many others too.
    rows += [(a, old, wake + timedelta(minutes=3 * (a - 10))) for a in range(10, 16)]
    # The same harvest templates, a week later: not the same start.
    rows += [(20, old, wake + timedelta(days=7))]
    # Everyone else: busy from the window's start, sending everyday phrases.
    rows += [(a, old, WINDOW + timedelta(hours=2)) for a in range(100, 140)]
    bands = {a: ["h1", "h2", "h3", "h4"] for a in range(1, 7)}
    bands |= {a: ["daily1", "daily2", "daily3"] for a in range(10, 16)}
    bands |= {20: ["h1", "h2", "h3", "h4"]}
    bands |= {a: ["daily1", "daily2", "daily3"] for a in range(100, 140)}
    frame = _accounts(rows)
    pairs = onset.start_pairs(frame, _bands(bands), _groups(frame["account"]), WINDOW, PARAMS)
    linked = set(pairs["a"].to_list()) | set(pairs["b"].to_list())
    assert linked == set(range(1, 7))
    assert pairs.height == 15  # every pair of the six
    assert pairs["templates"].min() >= PARAMS.start_min_templates
    # Accounts of one organisation are related: beginning together is what its keys do.
    related = _groups(frame["account"]).with_columns(
        pl.when(pl.col("account") < 7).then(pl.lit("org:x")).otherwise(pl.col("group"))
        .alias("group")
    )  # fmt: skip
    assert onset.start_pairs(frame, _bands(bands), related, WINDOW, PARAMS).is_empty()
    # A crowd beyond the cell cap pairs no one.
    capped = PARAMS.replace(start_cell_cap=4)
    assert onset.start_pairs(
        frame, _bands(bands), _groups(frame["account"]), WINDOW, capped
    ).is_empty()


def _sleepers_and_returning(cohort: Cohort, n: int = 10) -> None:
    """A sleeper fleet (registered months apart, each on an exit of its own, woken one
    afternoon, then the same templates in waves) and customers a newsletter brought back
    the same afternoon, asking their own questions."""
    wake = START + timedelta(days=9, hours=14)
    waves = [wake + timedelta(days=d, minutes=20 * w) for d in range(DAYS - 10) for w in range(24)]
    for k in range(n):
        acct = cohort.account("sleeper", created_at=START - timedelta(days=20 + 13 * k))
        ip = f"92.{40 + k}.7.{k + 1}"
        cohort.exchange(acct, wake + timedelta(minutes=4 * k), COT[0].format(a=k, t="graphs"),
                        ip=ip, output_tokens=1800)  # fmt: skip
        for j, wave in enumerate(cohort.rng.sample(waves, 70)):
            prompt = COT[j % len(COT)].format(
                a=cohort.rng.randint(1, 10**6), t=cohort.rng.choice(TOPICS)
            )
            cohort.exchange(acct, wave + timedelta(seconds=cohort.rng.randint(0, 300)), prompt,
                            ip=ip, output_tokens=1800)  # fmt: skip
    for k in range(n):
        acct = cohort.account("returning", created_at=START - timedelta(days=200 + k))
        cohort.exchange(acct, wake + timedelta(minutes=6 * k), cohort.chat())
        for ts in cohort.human_times(15):
            if ts > wake:
                cohort.exchange(acct, ts, cohort.chat())


@pytest.fixture(scope="module")
def woken():
    cohort = Cohort(seed=43)
    _sleepers_and_returning(cohort)
    cohort.ordinary(60)
    return _analyse(cohort)


def test_a_sleeper_fleet_is_one_campaign_and_the_returning_customers_are_not_in_it(woken):
    analysis, labels = woken
    decision = analysis.decision
    sleepers = labels == "sleeper"
    assert decision.flagged[sleepers].all()
    assert len(set(decision.campaign_of[sleepers].tolist())) == 1
    for bystander in ("returning", "ordinary"):
        assert not decision.flagged[labels == bystander].any(), bystander
    together = next(s for s in analysis.scores.signals if s.name == "started_together")
    assert (together.value[sleepers] >= 5).all()
    assert not together.value[labels == "returning"].any()


def test_without_beginning_together_the_sleepers_are_not_found_whole(woken):
    """Each sleeper is on an exit of its own, with its own card: without the start tie
    little links them, and most of the fleet goes unflagged."""
    cohort = Cohort(seed=43)
    _sleepers_and_returning(cohort)
    cohort.ordinary(60)
    analysis, labels = _analyse(cohort, DetectionParams().replace(start_min_templates=1000))
    sleepers = labels == "sleeper"
    assert analysis.decision.flagged[sleepers].sum() <= sleepers.sum() // 2


def test_the_explanation_says_why_a_returning_customer_is_not_tied(woken):
    from detection.analysis import campaign_evidence
    from detection.scoring import explain

    analysis, labels = woken
    row = int(np.flatnonzero(labels == "sleeper")[0])
    reasons = {s["name"]: s["reason"] for s in explain(analysis.scores, row)}
    assert "woke after" in reasons["started_together"]
    assert "newsletter" in reasons["started_together"]
    members = analysis.decision.campaigns[int(analysis.decision.campaign_of[row])]["members"]
    summary = campaign_evidence(analysis, members)["summary"]
    assert "began in the same hour" in summary and "each asks their own questions" in summary


def test_a_rush_fleet_is_one_campaign_and_early_adopters_beside_it_are_not_flagged():
    """Existing customers who move to a new model within hours of its release and use it
    hard, each with their own addresses and questions, stay unflagged beside a fleet
    registered in one sitting for the release that harvests the new model in waves."""
    cohort = Cohort(seed=47)
    release = START + timedelta(days=10, hours=15)
    waves = [release + timedelta(days=d, minutes=25 * w) for d in range(4) for w in range(30)]
    for k in range(12):
        acct = cohort.account("rush", created_at=release + timedelta(minutes=3 * k), plan="api")
        ip = f"92.{60 + k % 4}.9.{k + 1}"
        for j, wave in enumerate(cohort.rng.sample(waves, 50)):
            prompt = COT[j % len(COT)].format(
                a=cohort.rng.randint(1, 10**6), t=cohort.rng.choice(TOPICS)
            )
            cohort.exchange(acct, wave + timedelta(seconds=cohort.rng.randint(0, 300)), prompt,
                            ip=ip, model="model-new", output_tokens=1800)  # fmt: skip
    for _ in range(12):
        acct = cohort.account("early_adopter", plan="api")
        for ts in cohort.human_times(40):
            late = ts > release + timedelta(hours=3)
            model = "model-new" if late and cohort.rng.random() < 0.85 else "model-large-2"
            cohort.exchange(acct, ts, cohort.chat(), model=model, tool_use=True)
        for ts in cohort.human_times(40):  # the launch days are busier
            ts = release + timedelta(hours=3 + ts.hour, minutes=ts.minute, days=ts.day % 3)
            cohort.exchange(acct, ts, cohort.chat(), model="model-new", tool_use=True)
    cohort.ordinary(60)
    analysis, labels = _analyse(cohort)
    decision = analysis.decision
    rush = labels == "rush"
    assert decision.flagged[rush].all()
    assert len(set(decision.campaign_of[rush].tolist())) == 1
    assert not decision.flagged[labels == "early_adopter"].any()
    pivot = next(s for s in analysis.scores.signals if s.name == "model_pivot")
    assert (pivot.value[labels == "early_adopter"] > 0.5).mean() > 0.5  # they did move


def test_young_accounts_that_move_onto_a_new_model_together_are_paired_by_uncommon_templates():
    """Young accounts on the new model within a day of its release that send the same
    uncommon templates are paired; early adopters of long standing (however alike their
    tool's prompts), young movers asking everyday questions, a young account that moved days
    later and keys of one organisation are not."""
    young = RELEASE - timedelta(days=6)
    rows, created = [], {}
    for a in range(1, 9):  # the fleet: registered over days, moved at hours of its own
        created[a] = young + timedelta(hours=13 * a)
        rows += [(a, "model-old", young + timedelta(days=1, hours=a), 2),
                 (a, "model-new", RELEASE + timedelta(hours=2 * a), 30)]  # fmt: skip
    for a in range(10, 14):  # early adopters: old customers, moved within hours
        created[a] = WINDOW - timedelta(days=200)
        rows += [(a, "model-old", WINDOW + timedelta(days=2), 20),
                 (a, "model-new", RELEASE + timedelta(hours=a - 7), 30)]  # fmt: skip
    for a in range(20, 24):  # young movers asking everyday questions (sent by many)
        created[a] = young
        rows += [(a, "model-new", RELEASE + timedelta(hours=3), 30)]
    created[30] = young  # the fleet's templates, but on the new model four days later
    rows += [(30, "model-old", young + timedelta(days=1), 10),
             (30, "model-new", RELEASE + timedelta(days=4), 30)]  # fmt: skip
    for a in range(100, 140):
        created[a] = WINDOW - timedelta(days=300)
        rows += [(a, "model-old", WINDOW + timedelta(hours=2), 10)]
    harvest = ["h1", "h2", "h3", "h4"]
    bands = dict.fromkeys((*range(1, 9), 30), harvest)
    # The early adopters run one coding tool: its bands are theirs, but they are not young.
    bands |= {a: ["tool1", "tool2", "tool3"] for a in range(10, 14)}
    bands |= {a: ["daily1", "daily2", "daily3"] for a in (*range(20, 24), *range(100, 140))}
    models = _models(rows)
    accounts = pl.DataFrame(
        {"account": list(created), "created_at": list(created.values())},
        schema={"account": pl.Int64, "created_at": pl.Datetime("us", "UTC")},
    )
    moved = set(onset.movers(models, accounts, WINDOW, PARAMS)["account"].to_list())
    assert moved == set(range(1, 9)) | set(range(20, 24))
    groups = _groups(created)
    pairs = onset.move_pairs(models, accounts, _bands(bands), groups, WINDOW, PARAMS)
    linked = set(pairs["a"].to_list()) | set(pairs["b"].to_list())
    assert linked == set(range(1, 9))
    assert pairs["templates"].min() >= PARAMS.start_min_templates
    # The fixed order pairs each mover with its next few along a band: bounded, and every
    # member of a fleet of eight meets most of the others.
    assert pairs.height <= 8 * onset.MOVE_NEIGHBOURS
    partners = pl.concat([pairs["a"], pairs["b"]]).value_counts()
    assert partners["count"].min() >= onset.MOVE_NEIGHBOURS
    # Keys of one organisation are related: moving together is what its keys do.
    related = groups.with_columns(
        pl.when(pl.col("account") < 9).then(pl.lit("org:x")).otherwise(pl.col("group"))
        .alias("group")
    )  # fmt: skip
    assert onset.move_pairs(models, accounts, _bands(bands), related, WINDOW, PARAMS).is_empty()
    off = PARAMS.replace(move_max_age_days=0)
    assert onset.move_pairs(models, accounts, _bands(bands), groups, WINDOW, off).is_empty()


def _quiet_rush(cohort: Cohort, release: datetime, n: int = 12) -> None:
    """A rush fleet that shares no exit, card, client or hour: registered one at a time over
    the week before the release, each moving onto the new model at an hour of its own within
    a day of it and harvesting reasoning there at its own hours; beside it, early adopters
    (old customers who move as fast and use the new model hard, on their own questions)."""
    for k in range(n):
        acct = cohort.account(
            "quiet_rush", created_at=release - timedelta(days=7) + timedelta(hours=13 * k)
        )
        ip = f"92.{70 + k}.{k + 3}.{k + 1}"
        ua = f"python-requests/2.{k + 10}"
        moved = release + timedelta(hours=1 + 2 * k)
        for j in range(60):
            ts = moved + timedelta(hours=cohort.rng.uniform(0, 96))
            prompt = COT[j % len(COT)].format(
                a=cohort.rng.randint(1, 10**6), t=cohort.rng.choice(TOPICS)
            )
            cohort.exchange(acct, ts, prompt, ip=ip, user_agent=ua, model="model-new",
                            output_tokens=1800)  # fmt: skip
        cohort.exchange(acct, moved, COT[0].format(a=k, t="graphs"), ip=ip, user_agent=ua,
                        model="model-new", output_tokens=1800)  # fmt: skip
    for _ in range(12):
        acct = cohort.account("early_adopter", plan="api")
        for ts in cohort.human_times(40):
            late = ts > release + timedelta(hours=3)
            model = "model-new" if late and cohort.rng.random() < 0.85 else "model-large-2"
            cohort.exchange(acct, ts, cohort.chat(), model=model, tool_use=True)
        for ts in cohort.human_times(40):  # the launch days are busier
            ts = release + timedelta(hours=3 + ts.hour, minutes=ts.minute, days=ts.day % 3)
            cohort.exchange(acct, ts, cohort.chat(), model="model-new", tool_use=True)


def test_a_quiet_rush_fleet_is_one_campaign_and_early_adopters_beside_it_are_not_flagged():
    release = START + timedelta(days=10, hours=15)
    cohort = Cohort(seed=53)
    _quiet_rush(cohort, release)
    cohort.ordinary(60)
    analysis, labels = _analyse(cohort)
    decision = analysis.decision
    fleet = labels == "quiet_rush"
    assert decision.flagged[fleet].all()
    assert len(set(decision.campaign_of[fleet].tolist())) == 1
    info = decision.campaigns[int(decision.campaign_of[fleet][0])]
    assert info["evidence"] == ["start"]  # nothing else ties it
    for bystander in ("early_adopter", "ordinary"):
        assert not decision.flagged[labels == bystander].any(), bystander
    # Without the move onto the new model as a start, nothing ties the fleet.
    cohort = Cohort(seed=53)
    _quiet_rush(cohort, release)
    cohort.ordinary(60)
    analysis, labels = _analyse(cohort, DetectionParams().replace(move_max_age_days=0))
    assert not analysis.decision.flagged[labels == "quiet_rush"].any()
