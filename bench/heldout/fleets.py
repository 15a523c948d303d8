"""Distillation fleets. Each is run by a controller that hands work to its accounts in
waves during the operators' shifts, keeps every account under a daily cap, and sends it
through the fleet's network. What differs between fleets is what they harvest, how they pay
and sign up, which network they hide in, and which benign habit they imitate."""

from __future__ import annotations

from bench.heldout import fleet_texts, texts
from bench.heldout.context import Ctx
from bench.heldout.controller import Plan, build_fleet, register
from bench.heldout.emit import emit
from bench.heldout.schedule import DAY, HOUR, profile, sessions
from bench.heldout.world import (
    BUDGET_HOSTS,
    CLOUDS,
    DISPOSABLE,
    TLDS_CHEAP,
    WEBMAIL,
    ExitPool,
    browser,
    card,
    coding_agent_ua,
    pool_from,
    sdk,
    word,
)


def _burst_created(ctx: Ctx, days_before: list[float]):
    anchors = [ctx.start - d * DAY for d in days_before]
    return lambda k: ctx.rng.choice(anchors) + ctx.rng.uniform(0, 5 * HOUR)


def _domains(ctx: Ctx, n: int) -> list[str]:
    return [word(ctx.rng, 3) + ctx.rng.choice(TLDS_CHEAP) for _ in range(n)]


def reasoning_fleet(ctx: Ctx, campaign: str, size: int, *, salt: bool) -> None:
    """Harvests step-by-step reasoning. Signed up in bursts with throwaway domains and a few
    shared cards (some accounts added the card later); rented data-centre addresses; shifts
    in the operators' time zone; moves to the new model within a day of its release."""
    rng = ctx.rng
    mimic = rng.random() < 0.5
    maker = fleet_texts.ReasoningHarvest(rng, mimic_benchmarks=mimic)
    if salt:
        maker = fleet_texts.Salted(maker, 0.3)
    cards, domains = [card(rng) for _ in range(rng.randint(2, 6))], _domains(ctx, rng.randint(1, 3))
    clients = [sdk(rng)] if rng.random() < 0.5 else [browser(rng) for _ in range(12)]
    if salt:
        clients = [c + "\x00" for c in clients[:1]] + clients
    offset = rng.choice([8, 8, 3, 5.5])
    plan = Plan(
        campaign,
        "reasoning",
        size,
        maker,
        "kestrel-4-think",
        pool_from(rng.sample(BUDGET_HOSTS, 2), max(12, size // 3), rng, per24=6),
        sticky=rng.choice([1800, 6 * 3600]),
        clients=clients,
        daily=rng.uniform(12, 30),
        burst=rng.randint(4, 9),
        gap=rng.uniform(25, 60),
        jitter=600,
        wave_gap=1200,
        shifts=[(9, 17), (19, 3)] if rng.random() < 0.6 else [(8, 20)],
        offset_h=offset,
        adopt=rng.uniform(0.1, 0.9),
        tokens_out=(2600, 0.5),
    )
    members = register(
        ctx,
        plan,
        created=_burst_created(ctx, [rng.uniform(2, 60) for _ in range(3)]),
        emails=lambda k: rng.choice(domains + DISPOSABLE[:2]),
        cards=lambda k: rng.choice(cards) if rng.random() < 0.7 else None,
        countries=["US", "SG", "GB"],
        plans=lambda k: "pro",
    )
    for a in members:
        acct = ctx.accounts[a]
        if acct.payment_fingerprint is None and rng.random() < 0.3:
            acct.updates.append({"payment_fingerprint": rng.choice(cards)})
    build_fleet(ctx, plan, members)


def coding_fleet(ctx: Ctx, campaign: str, size: int) -> None:
    """Harvests code. One virtual card per account (money spent to look independent),
    addresses across big clouds like developers' boxes; half the time dressed in the popular
    coding agent's harness and client string."""
    rng = ctx.rng
    disguise = rng.random() < 0.5
    domains = _domains(ctx, rng.randint(1, 2))
    clouds = rng.sample(list(CLOUDS.values()), 3)
    plan = Plan(
        campaign,
        "coding",
        size,
        fleet_texts.CodeHarvest(rng, disguise),
        "kestrel-code-2",
        ExitPool([(c.address(rng), c.asn) for c in clouds for _ in range(max(6, size // 4))]),
        sticky=4 * 3600,
        clients=[coding_agent_ua(rng)] if disguise else [sdk(rng)],
        daily=rng.uniform(20, 50),
        burst=rng.randint(3, 6),
        gap=rng.uniform(30, 90),
        jitter=900,
        wave_gap=1500,
        shifts=[(10, 22)],
        offset_h=rng.choice([8, 3, 2]),
        adopt=rng.uniform(0.2, 1.0),
        tokens_out=(3000, 0.4),
        tool=0.3 if disguise else 0,
    )
    members = register(
        ctx,
        plan,
        created=_burst_created(ctx, [rng.uniform(1, 40) for _ in range(2)]),
        emails=lambda k: rng.choice(domains) if rng.random() < 0.8 else rng.choice(WEBMAIL),
        cards=lambda k: card(rng),
        countries=["US", "DE", "IN", "BR"],
        plans=lambda k: rng.choice(["pro", "api"]),
    )
    build_fleet(ctx, plan, members)


def hydra_fleet(ctx: Ctx, campaign: str, size: int, proxies: ExitPool) -> None:
    """Agentic tool-use harvesting through the commercial rotating proxy network that
    ordinary customers use too. Aged accounts bought over months, webmail addresses, one
    card each or none; every account stays under a modest daily volume. What ties it
    together is co-action: waves of accounts working the same scaffold within the same
    minutes, every day."""
    rng = ctx.rng
    popular = rng.random() < 0.5
    clients = [coding_agent_ua(rng) for _ in range(3)] if popular else [sdk(rng) for _ in range(4)]
    plan = Plan(
        campaign,
        "agentic",
        size,
        fleet_texts.AgentHarvest(rng, popular),
        "kestrel-4",
        proxies,
        sticky=rng.choice([60, 300, 600]),
        clients=clients,
        daily=rng.uniform(12, 28),
        burst=rng.randint(2, 4),
        gap=rng.uniform(6, 20),
        jitter=rng.uniform(30, 150),
        wave_gap=rng.uniform(180, 420),
        shifts=[(0, 24)] if rng.random() < 0.4 else [(7, 19), (19, 7)],
        offset_h=rng.choice([8, 3, -5]),
        days_off=0,
        adopt=rng.uniform(0.3, 1.5),
        tokens_out=(700, 0.8),
        tool=0.9,
    )
    members = register(
        ctx,
        plan,
        created=lambda k: ctx.created_before(240, 20),
        emails=lambda k: rng.choice(WEBMAIL),
        cards=lambda k: card(rng) if rng.random() < 0.75 else None,
        countries=["US", "BR", "IN", "TR", "ID", "MX"],
        plans=lambda k: rng.choice(["pro", "pro", "free"]),
    )
    build_fleet(ctx, plan, members)


def starter_fleet(ctx: Ctx, campaign: str, size: int) -> None:
    """A small, careless operation: one card, one rented server, disposable mail, one
    wording, round the clock."""
    rng = ctx.rng
    host = rng.choice(BUDGET_HOSTS)
    plan = Plan(
        campaign,
        "reasoning-small",
        size,
        fleet_texts.ReasoningHarvest(rng, False),
        "kestrel-4-think",
        ExitPool([(host.address(rng), host.asn) for _ in range(2)]),
        sticky=DAY,
        clients=["python-requests/2.31.0"],
        daily=rng.uniform(25, 60),
        burst=10,
        gap=15,
        jitter=60,
        wave_gap=900,
        shifts=[(0, 24)],
        offset_h=0,
        days_off=0,
        first_day=rng.uniform(0, ctx.days / 2),
        adopt=None,
    )
    fleet_card, mail = card(rng), rng.choice(DISPOSABLE)
    members = register(
        ctx,
        plan,
        created=lambda k: ctx.start + plan.first_day * DAY - HOUR * k,
        emails=lambda k: mail,
        cards=lambda k: fleet_card,
        countries=["US"],
        plans=lambda k: "pro",
    )
    build_fleet(ctx, plan, members)


def sleeper_fleet(ctx: Ctx, campaign: str, size: int, vpn: ExitPool) -> None:
    """Old accounts with ordinary chat histories (bought, or farmed for months) that switch
    to quiet harvesting part-way through the window, through a consumer VPN's exits."""
    rng = ctx.rng
    switch = rng.uniform(ctx.days * 0.3, ctx.days * 0.6)
    cards = [card(rng) for _ in range(rng.randint(2, 3))]
    plan = Plan(
        campaign,
        "reasoning-sleeper",
        size,
        fleet_texts.ReasoningHarvest(rng, True),
        "kestrel-4",
        vpn,
        sticky=3 * 3600,
        clients=[browser(rng) for _ in range(6)],
        daily=rng.uniform(8, 16),
        burst=3,
        gap=40,
        jitter=1200,
        wave_gap=1800,
        shifts=[(18, 23)],
        offset_h=rng.choice([1, -5]),
        first_day=switch,
        adopt=1.0,
        tokens_out=(1800, 0.5),
    )
    members = register(
        ctx,
        plan,
        created=lambda k: ctx.created_before(700, 200),
        emails=lambda k: rng.choice(WEBMAIL),
        cards=lambda k: rng.choice(cards),
        countries=["DE", "US", "FR", "GB"],
        plans=lambda k: "pro",
    )
    chat = ctx.traffic.maker(texts.chat)
    for a in members:  # the ordinary-looking history before the switch
        sess = sessions(
            ctx.g,
            start=ctx.start,
            days=ctx.days,
            offset_h=plan.offset_h,
            hours=profile("evening"),
            p_day=0.3,
            length=4,
            gap=120,
            last_day=int(switch),
        )
        emit(
            ctx,
            a,
            sess,
            exit=lambda i, t0: vpn.pick(rng),
            client=plan.clients[0],
            maker=chat,
            model="kestrel-4",
        )
    build_fleet(ctx, plan, members)


def rush_fleet(ctx: Ctx, campaign: str, size: int) -> None:
    """Registered the day a new model ships, to probe it across reasoning, code and tools
    for a few days from cloud addresses, on a handful of cards."""
    rng = ctx.rng
    cards, domains = [card(rng) for _ in range(rng.randint(3, 5))], _domains(ctx, 1)
    mixed = _Mixed(
        [
            fleet_texts.ReasoningHarvest(rng, False),
            fleet_texts.CodeHarvest(rng, False),
            fleet_texts.AgentHarvest(rng, False),
        ]
    )
    day = ctx.release_day + rng.uniform(0.1, 0.8)
    clouds = rng.sample(list(CLOUDS.values()), 2)
    plan = Plan(
        campaign,
        "new-model-rush",
        size,
        mixed,
        "kestrel-5",
        ExitPool([(c.address(rng), c.asn) for c in clouds for _ in range(10)]),
        sticky=2 * 3600,
        clients=[sdk(rng)],
        daily=rng.uniform(60, 120),
        burst=8,
        gap=12,
        jitter=300,
        wave_gap=900,
        shifts=[(0, 24)],
        offset_h=8,
        days_off=0,
        first_day=day,
        last_day=day + rng.uniform(4, 7),
        adopt=None,
        tokens_out=(2200, 0.6),
        tool=0.3,
    )
    members = register(
        ctx,
        plan,
        created=lambda k: ctx.start + (day - 0.3) * DAY + k * 60,
        emails=lambda k: domains[0],
        cards=lambda k: rng.choice(cards),
        countries=["US", "SG"],
        plans=lambda k: "api",
    )
    build_fleet(ctx, plan, members)


class _Mixed:
    def __init__(self, makers):
        self.makers = makers

    def __call__(self, rng):
        return rng.choice(self.makers)(rng)
