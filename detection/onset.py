"""When accounts begin: fleets born around a model's release, and fleets that wake together.

Two things about *when* a fleet's accounts start that its operator cannot spread out the way
it spreads traffic over exits:

- **New-model rush** (``rush_columns``). A fleet registered for a model's release sends most
  of its traffic to the new model from its first request: there is no older model to move
  from, so a signal that looks for a move (``model_pivot``) does not see it. What it does show
  is an adoption far ahead of everyone else's: in an account's first ``rush_days`` days on or
  after the release, the share of its traffic on the new model is compared with the adoption
  curve of the whole population on the same days (each account one vote, read from the data,
  not a constant), and the excess is the value.
- **Starting together** (``start_pairs``). A fleet's accounts begin within the same hour: new
  accounts registered in one sitting, or old accounts, silent for weeks, woken by one
  orchestrator on one afternoon (a *sleeper* fleet, registered months apart so that no
  registration burst shows). Starting together is also what a launch's sign-ups and a
  re-engagement email's returning customers do, so it is a tie only between accounts that
  then work the same *uncommon* prompt templates: templates few accounts outside the group
  send. People who sign up on a launch day, or come back after a newsletter, ask their own
  questions.

Pure: frames in, frames out. The pairs are made inside time cells (``start_minutes`` long)
of at most ``start_cell_cap`` starters, so they grow with the starters, never with all pairs
of accounts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from detection.templating import Bands, key_parts

if TYPE_CHECKING:
    from detection.config import DetectionParams

RUSH_SCHEMA = {
    "account": pl.Int64,
    "rush_share": pl.Float64,
    "rush_adoption": pl.Float64,
    "rush_excess": pl.Float64,
}
# The starters of a band are counted over this many consecutive days: a fleet registered for
# a release signs up from half a day before it to a day or so after.
START_DAYS = 3
START_SCHEMA = {"a": pl.Int64, "b": pl.Int64, "templates": pl.Int64, "minutes": pl.Float64}


def new_models(models: pl.DataFrame, window_start: datetime, params: DetectionParams):
    """(model, released) for the models first used ``new_model_min_age_days`` or more into
    the window: a model the window saw from its start may be old."""
    release = models.group_by("model").agg(pl.col("first_ts").min().alias("released"))
    cutoff = window_start + timedelta(days=params.new_model_min_age_days)
    return release.filter(pl.col("released") >= cutoff).sort("model")


def rush_columns(
    models: pl.DataFrame, window_start: datetime, params: DetectionParams
) -> pl.DataFrame:
    """Per account that began with a new model (no request earlier than a day before its
    release; an older account's move is ``model_pivot``'s) and used it: rush_share (its share
    of traffic on the new model in its first ``rush_days`` days on or after the release),
    rush_adoption (the population's share on the same days) and rush_excess (the first less
    the second, at least 0); the largest excess over the new models.

    ``models`` is (account, model, day, first_ts, n): requests per account, model and day.
    The population's share on a day is the mean over the accounts active that day of each
    one's share on the new model (one account, one vote: a fleet's volume does not make its
    own adoption look ordinary).
    """
    if models.is_empty():
        return pl.DataFrame(schema=RUSH_SCHEMA)
    rows = []
    began = models.group_by("account").agg(pl.col("first_ts").min().alias("began"))
    for model, released in new_models(models, window_start, params).iter_rows():
        # Accounts with traffic before the release have a "before": ``model_pivot``'s case.
        fresh = began.filter(pl.col("began") >= pl.lit(released) - timedelta(days=1))
        since = models.filter(pl.col("day") >= released.date())
        daily = since.group_by("account", "day").agg(
            pl.col("n").sum().alias("total"),
            pl.col("n").filter(pl.col("model") == model).sum().alias("on_new"),
        )
        curve = (
            daily.with_columns((pl.col("on_new") / pl.col("total")).alias("share"))
            .group_by("day")
            .agg(pl.col("share").mean().alias("adoption"))
        )
        first = (
            daily.join(fresh.select("account"), on="account")
            .with_columns(pl.col("day").min().over("account").alias("start"))
            .filter(
                (pl.col("day") - pl.col("start")).dt.total_days() < params.rush_days,
            )
            .join(curve, on="day")
            .group_by("account")
            .agg(
                pl.col("total").sum(),
                pl.col("on_new").sum(),
                (pl.col("adoption") * pl.col("total")).sum().alias("expected"),
            )
            .filter(pl.col("on_new") > 0)
        )
        rows.append(
            first.select(
                "account",
                (pl.col("on_new") / pl.col("total")).alias("rush_share"),
                (pl.col("expected") / pl.col("total")).alias("rush_adoption"),
            )
        )
    if not rows:
        return pl.DataFrame(schema=RUSH_SCHEMA)
    return (
        pl.concat(rows)
        .with_columns(
            (pl.col("rush_share") - pl.col("rush_adoption")).clip(0, None).alias("rush_excess")
        )
        .sort("rush_excess", descending=True)
        .unique("account", keep="first")
        .select(list(RUSH_SCHEMA))
        .cast(RUSH_SCHEMA)
    )


def start_times(accounts: pl.DataFrame, window_start: datetime, params: DetectionParams):
    """(account, start): when an account began, for accounts that began inside the window.

    A new account began when it registered (inside the window). An old one began when it
    woke: its first request in the window came ``dormant_days`` or more after its
    registration *and* after the first request anyone made in the window (the silence is
    seen, not assumed: an account quiet before the data begins may have been busy before
    it). ``accounts`` is (account, created_at, first_ts).
    """
    created = pl.col("created_at")
    first = pl.col("first_ts")
    quiet = timedelta(days=params.dormant_days)
    seen_from = pl.max_horizontal(pl.lit(window_start), first.min())
    woke = created.is_not_null() & (first - created >= quiet) & (first - seen_from >= quiet)
    return accounts.select(
        "account",
        pl.when(created >= pl.lit(window_start))
        .then(created)
        .when(woke)
        .then(first)
        .otherwise(None)
        .alias("start"),
    ).filter(pl.col("start").is_not_null())


def bands_of(
    template_links: pl.DataFrame | Bands, accounts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(account, key): the bands ``accounts`` (account) send, each once; and (key, users):
    how many accounts send each of those bands. Only these accounts' bands are made unique,
    never a run's tens of millions of band rows at once, and those a part of the keys at a
    time (``key_parts``)."""
    mines, users = [], []
    for part in key_parts(template_links):
        mine = part.join(accounts, on="account", how="semi").select("account", "key").unique()
        mines.append(mine)
        users.append(
            part.join(mine.select("key").unique(), on="key", how="semi")
            .select("account", "key")
            .unique()
            .group_by("key")
            .len("users")
        )
    return pl.concat(mines), pl.concat(users)


# The most rows ``common_bands`` widens at once: a pair is one row per band of one of its
# accounts, and a large fleet that began together is millions of pairs of hundreds of bands.
COMMON_PART_ROWS = 5_000_000


def common_bands(pairs: pl.DataFrame, bands: pl.DataFrame, name: str) -> pl.DataFrame:
    """(a, b, ``name``): how many bands each pair of ``pairs`` (a, b) sends in common, for
    the pairs with at least one. ``bands`` is (account, key), each row once. Each pair is
    read from the one of its two accounts with fewer bands, and the pairs are counted a part
    at a time, at most about ``COMMON_PART_ROWS`` of those bands in a part: the count is the
    same, and its memory does not grow with the pairs times their bands."""
    schema = {"a": pl.Int64, "b": pl.Int64, name: pl.UInt32}
    count = bands.group_by("account").len("n")
    pairs = (
        pairs.join(count.rename({"account": "a", "n": "na"}), on="a")
        .join(count.rename({"account": "b", "n": "nb"}), on="b")
        .with_columns((pl.col("nb") < pl.col("na")).alias("swap"))
        .select(
            "a",
            "b",
            pl.when("swap").then("b").otherwise("a").alias("x"),
            pl.when("swap").then("a").otherwise("b").alias("y"),
            pl.min_horizontal("na", "nb").alias("n"),
        )
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=schema)
    part = (pl.col("n").cum_sum() // COMMON_PART_ROWS).alias("part")
    out = []
    for (_,), rows in pairs.with_columns(part).partition_by("part", as_dict=True).items():
        out.append(
            rows.join(bands.rename({"account": "x"}), on="x")
            .join(bands.rename({"account": "y"}), on=["y", "key"])
            .group_by("a", "b")
            .len(name)
        )
    return pl.concat(out).cast(schema)


def start_pairs(
    accounts: pl.DataFrame,
    template_links: pl.DataFrame | Bands,
    groups: pl.DataFrame,
    window_start: datetime,
    params: DetectionParams,
) -> pl.DataFrame:
    """Pairs of unrelated accounts that began within ``start_minutes`` of each other and work
    the same uncommon templates: (a, b, templates, minutes), a < b.

    ``template_links`` is (account, key, item): the LSH bands of each account's sampled
    prompts (``features.template_features``). A band counts for a pair when both send it and
    few others do: at most ``start_outside_accounts`` accounts, and at most half as many as
    the paired starters of the busiest ``START_DAYS`` days who send it, send it besides those
    starters (an everyday phrase, a popular tool's harness or a public benchmark is sent by
    many who began at other times, or long before the window); the pair needs
    ``start_min_templates`` such bands. Starters are cut into cells of ``start_minutes``
    (each also paired with the next cell, so a pair across a boundary is not lost), and a
    cell of more than ``start_cell_cap`` starters pairs no one: a crowd (a launch's sign-up
    hour at scale) is no one's accomplice.
    """
    empty = pl.DataFrame(schema=START_SCHEMA)
    starts = start_times(accounts, window_start, params)
    if starts.height < 2:
        return empty
    span = 60 * params.start_minutes
    starters = (
        starts.join(groups, on="account")
        .with_columns(pl.col("start").dt.epoch("s").alias("t"))
        .with_columns((pl.col("t") // span).alias("cell"))
    )
    crowded = starters.group_by("cell").len().filter(pl.col("len") > params.start_cell_cap)
    starters = starters.join(crowded.select("cell"), on="cell", how="anti")
    if starters.height < 2:
        return empty
    # Each starter meets its own cell and the next one; |t_a - t_b| <= span decides.
    right = pl.concat(
        [
            starters.select("cell", pl.col("account").alias("b"), pl.col("group").alias("gb"),
                            pl.col("t").alias("tb")),
            starters.select((pl.col("cell") - 1).alias("cell"), pl.col("account").alias("b"),
                            pl.col("group").alias("gb"), pl.col("t").alias("tb")),
        ]
    )  # fmt: skip
    met = (
        starters.select("cell", pl.col("account").alias("a"), "group", "t")
        .join(right, on="cell")
        .filter(
            (pl.col("a") != pl.col("b"))
            & (pl.col("group") != pl.col("gb"))
            & ((pl.col("t") - pl.col("tb")).abs() <= span)
        )
        .select(
            pl.min_horizontal("a", "b").alias("a"),
            pl.max_horizontal("a", "b").alias("b"),
            ((pl.col("t") - pl.col("tb")).abs() / 60).alias("minutes"),
        )
        .unique(["a", "b"])
    )
    if met.is_empty():
        return empty
    # Uncommon bands: few accounts send them besides the starters of a few days (a fleet
    # born or woken together); everyday phrases, a popular tool's harness or a public
    # benchmark are sent by many who began long before, or never began in the window.
    # Only the paired starters' bands are looked at (``bands_of``).
    paired = pl.concat([met.select(pl.col("a").alias("account")),
                        met.select(pl.col("b").alias("account"))]).unique()  # fmt: skip
    mine, users = bands_of(template_links, paired)
    days = starters.select("account", (pl.col("t") // 86400).alias("day"))
    # A starter begins on one day and sends a band once (``mine``), so the starters of a few
    # days who send a band are the sum of each day's: counted per band and day first, so
    # that only those counts are spread over the days they anchor, not every band row.
    near = pl.concat(
        part.join(days, on="account")
        .group_by("key", "day")
        .len("starters")
        .with_columns(pl.col("day").sub(pl.int_ranges(0, START_DAYS)).alias("anchor"))
        .explode("anchor")
        .group_by("key", "anchor")
        .agg(pl.col("starters").sum().alias("near"))
        .group_by("key")
        .agg(pl.col("near").max().cast(pl.UInt32))
        for part in key_parts(mine)
    )
    uncommon = (
        near.join(users, on="key")
        .with_columns((pl.col("users") - pl.col("near")).alias("outside"))
        .filter(
            (pl.col("outside") <= params.start_outside_accounts)
            & (2 * pl.col("outside") <= pl.col("near"))
        )
        .select("key")
    )
    keyed = mine.join(uncommon, on="key")
    shared = common_bands(met.select("a", "b"), keyed, "templates").filter(
        pl.col("templates") >= params.start_min_templates
    )
    return (
        met.join(shared, on=["a", "b"]).select(list(START_SCHEMA)).cast(START_SCHEMA).sort("a", "b")
    )


# A young account moved together with others only when it then sends most of its traffic of
# those days to the new model: trying it is what everyone does.
MOVE_MIN_SHARE = 0.5
# A new model's movers are paired along each uncommon band, each with this many next movers
# in one fixed order of accounts (the same for every band), so the pairs grow with the rows.
MOVE_NEIGHBOURS = 3
MOVE_HOURS = 24


def movers(models: pl.DataFrame, accounts: pl.DataFrame, window_start: datetime, params):
    """(account, moved): young accounts that moved onto a newly released model (first used
    ``new_model_min_age_days`` or more after the data's first request) within
    ``MOVE_HOURS`` of its release and sent at least ``MOVE_MIN_SHARE`` of their traffic from
    that day on to it. Young: registered at most ``move_max_age_days`` before the release
    (or after it). ``models`` is (account, model, day, first_ts, n); ``accounts`` is
    (account, created_at)."""
    schema = {"account": pl.Int64, "moved": pl.Datetime("us", "UTC")}
    rows = []
    if models.is_empty() or params.move_max_age_days <= 0:
        return pl.DataFrame(schema=schema)
    # A release is seen, not assumed: a model first used when the data begins (the window
    # may open before it) was not released then.
    seen_from = max(window_start, models["first_ts"].min())
    for model, released in new_models(models, seen_from, params).iter_rows():
        first = (
            models.filter(pl.col("model") == model)
            .group_by("account")
            .agg(pl.col("first_ts").min().alias("moved"))
            .filter(pl.col("moved") < pl.lit(released) + timedelta(hours=MOVE_HOURS))
            .join(accounts.select("account", "created_at"), on="account")
            .filter(
                pl.col("created_at") >= pl.lit(released) - timedelta(days=params.move_max_age_days)
            )
        )
        on_new = pl.col("n").filter(pl.col("model") == model)
        share = (
            models.join(first.select("account", "moved"), on="account")
            .filter(pl.col("day") >= pl.col("moved").dt.date())
            .group_by("account")
            .agg(on_new.sum().truediv(pl.col("n").sum()).alias("share"))
        )
        rows.append(
            first.join(share.filter(pl.col("share") >= MOVE_MIN_SHARE), on="account").select(
                "account", "moved"
            )
        )
    if not rows:
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(rows)
        .sort("moved")
        .unique("account", keep="first")
        .select(pl.col("account").cast(pl.Int64), pl.col("moved").cast(schema["moved"]))
    )


def move_pairs(
    models: pl.DataFrame,
    accounts: pl.DataFrame,
    template_links: pl.DataFrame | Bands,
    groups: pl.DataFrame,
    window_start: datetime,
    params: DetectionParams,
) -> pl.DataFrame:
    """Pairs of unrelated young accounts that both moved onto a new model within a day of its
    release (``movers``) and work the same uncommon templates: (a, b, templates, minutes),
    a < b, minutes between their moves.

    A rush fleet that shares no exits, cards or waves still moves onto the new model as one
    and harvests it with its operator's templates. Early adopters move as fast, but are
    older accounts or ask their own questions; a popular tool's harness or a public
    benchmark is sent by many who did not move (a band counts when at most
    ``start_outside_accounts`` accounts besides the movers send it, and at most half as many
    as the movers who send it); a pair needs ``start_min_templates`` such bands in common.

    Linear: along each uncommon band, movers (in one fixed order of accounts) meet the next
    ``MOVE_NEIGHBOURS``; each pair met is then counted exactly over all its bands.
    """
    empty = pl.DataFrame(schema=START_SCHEMA)
    moved = movers(models, accounts, window_start, params).join(groups, on="account")
    if moved.height < 2:
        return empty
    mine, users = bands_of(template_links, moved.select("account"))
    uncommon = (
        mine.group_by("key")
        .len("near")
        .join(users, on="key")
        .with_columns((pl.col("users") - pl.col("near")).alias("outside"))
        .filter(
            (pl.col("near") >= 2)
            & (pl.col("outside") <= params.start_outside_accounts)
            & (2 * pl.col("outside") <= pl.col("near"))
        )
        .select("key")
    )
    keyed = mine.join(uncommon, on="key")
    if keyed.is_empty():
        return empty
    ring = keyed.with_columns(pl.col("account").hash(17).alias("order")).sort("key", "order")
    met = (
        pl.concat(
            [
                ring.select(
                    pl.col("account").alias("a"),
                    pl.col("account").shift(-k).over("key").alias("b"),
                )
                for k in range(1, MOVE_NEIGHBOURS + 1)
            ]
        )
        .drop_nulls("b")
        .select(pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"))
        .unique()
    )
    group = moved.select("account", "group")
    shared = (
        common_bands(met, keyed, "templates")
        .filter(pl.col("templates") >= params.start_min_templates)
        .join(group.rename({"account": "a", "group": "ga"}), on="a")
        .join(group.rename({"account": "b", "group": "gb"}), on="b")
        .filter(pl.col("ga") != pl.col("gb"))
    )
    when = moved.select("account", pl.col("moved").dt.epoch("s").alias("t"))
    return (
        shared.join(when.rename({"account": "a", "t": "ta"}), on="a")
        .join(when.rename({"account": "b", "t": "tb"}), on="b")
        .with_columns(((pl.col("ta") - pl.col("tb")).abs() / 60).alias("minutes"))
        .select(list(START_SCHEMA))
        .cast(START_SCHEMA)
        .sort("a", "b")
    )


# Two accounts that began together are tied only when at least this share of the template
# bands of the one with fewer are the other's too: a fleet's accounts work parts of one
# library, while two operators whose templates happen to share a few phrases (or a fleet
# and a customer) share a few bands of many.
START_MIN_OVERLAP = 0.25


def alike(pairs: pl.DataFrame, template_links: pl.DataFrame | Bands) -> pl.DataFrame:
    """``pairs`` (a, b, templates, minutes) of accounts at least ``START_MIN_OVERLAP`` of
    whose template bands (all of them, not only the uncommon ones: the share of the one of
    the two with fewer) are the other's too. Reads each pair's bands once: the pairs are
    already bounded."""
    if pairs.is_empty():
        return pairs
    paired = pl.concat([pairs.select(pl.col("a").alias("account")),
                        pairs.select(pl.col("b").alias("account"))]).unique()  # fmt: skip
    bands = pl.concat(
        part.join(paired, on="account", how="semi").select("account", "key").unique()
        for part in key_parts(template_links)
    )
    count = bands.group_by("account").len("bands")
    both = common_bands(pairs.select("a", "b"), bands, "common")
    return (
        pairs.join(both, on=["a", "b"])
        .join(count.rename({"account": "a", "bands": "na"}), on="a")
        .join(count.rename({"account": "b", "bands": "nb"}), on="b")
        .filter(pl.col("common") >= START_MIN_OVERLAP * pl.min_horizontal("na", "nb"))
        .select(pairs.columns)
    )
