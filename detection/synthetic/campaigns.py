"""The planted campaigns: fleets that behave as published distillation campaigns did.

A campaign is a fleet of accounts run by one operator. What the fleet shares is decided once,
at campaign level (registration bursts, a card pool, a proxy pool, a duty roster, a house style
of prompts, a model policy); each account then draws its own slice of it, so no single account
is extreme while the fleet, taken together, is unmistakable. The evasive fleet shares as
little as it can: aged accounts, human hours in claimed time zones, reworded prompts.

Kinds: ``reasoning`` (chain-of-thought elicitation), ``capability`` (templated coding,
reasoning and tool-use tasks; this one pivots to the new model within a day of release),
``agentic`` (tool-use trajectories), ``evasive`` and ``hydra`` (an agentic fleet hidden among
a commercial rotating-proxy network's ordinary customers, each account unremarkable, betrayed
only by co-action: its orchestrator hands jobs to a random part of the fleet in waves),
``rush`` and ``sleeper`` (``timed.py``: a fleet born around a model's release, and one that
wakes from months of dormancy in one afternoon).
"""

from __future__ import annotations

import functools
import random

import numpy as np

from detection.synthetic import pools, timed, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic import prompts_harvest as ph
from detection.synthetic.base import AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.lookalikes import agent_client
from detection.synthetic.timing import DAY, HOUR

# (accounts low, high; exchanges low, high) at scale 1, per campaign kind.
SIZES = {
    "reasoning": (100, 220, 90_000, 130_000),
    "capability": (150, 300, 120_000, 170_000),
    "agentic": (60, 140, 60_000, 90_000),
    "evasive": (120, 250, 40_000, 60_000),
    "hydra": (130, 220, 25_000, 45_000),
    "rush": timed.RUSH_SIZE,
    "sleeper": timed.SLEEPER_SIZE,
    "pivot": timed.PIVOT_SIZE,
    "quiet_rush": timed.QUIET_RUSH_SIZE,
}


def campaign_kinds(w: World) -> list[str]:
    """3-5 campaigns; every seed has a reasoning, a capability (pivoting) and an evasive one."""
    kinds = ["reasoning", "capability", "evasive"]
    extra = w.rng.randint(0, 2)
    if extra:
        kinds.append("agentic")
    if extra == 2:
        kinds.append(w.rng.choice(["reasoning", "capability", "agentic"]))
    w.rng.shuffle(kinds)
    return kinds


def _registrations(w: World, count: int, first_active: int) -> list[int]:
    """Sign-up times in bursts: a script registers dozens of accounts within minutes."""
    rng = w.rng
    out: list[int] = []
    while len(out) < count:
        at = first_active - rng.randint(HOUR, 12 * DAY)
        size = min(count - len(out), rng.randint(8, 45))
        out += [at + rng.randint(0, rng.randint(10, 40) * 60) for _ in range(size)]
    return out


def _cards(w: World, count: int) -> list[str]:
    """Pooled cards (a few paying for many accounts) mixed with throwaway virtual cards."""
    rng = w.rng
    pool = [w.card() for _ in range(max(1, count // rng.randint(5, 12)))]
    pooled = rng.uniform(0.4, 0.85)
    return [rng.choice(pool) if rng.random() < pooled else w.card() for _ in range(count)]


def _emails(w: World, count: int) -> list[str]:
    rng = w.rng
    disposable = rng.sample(pools.DISPOSABLE_MAIL, rng.randint(2, 5))
    own = pools.company_domain(rng) if rng.random() < 0.5 else None
    choices = disposable + ([own] * 2 if own else []) + rng.sample(pools.FREE_MAIL, 2)
    return [rng.choice(choices) for _ in range(count)]


def _proxy_pool(w: World, size: int, hosting_share: float) -> list[tuple[str, int]]:
    """A rented proxy pool: residential exits plus hosting ranges, shared by the whole fleet.

    Residential proxies run on real people's devices, so some exits are addresses ordinary
    customers use too: phones behind carrier NAT and, rarely, a customer's own home router.
    Some hosting exits are the same commercial VPN's that privacy-minded customers use.
    """
    rng = w.rng
    hosting = int(size * hosting_share)
    residential = size - hosting
    nat = [rng.choice(w.carrier_nat) for _ in range(round(residential * 0.1))]
    homes = rng.sample(w.homes, min(len(w.homes), round(residential * 0.02)))
    # Half the operators also buy a commercial VPN, a small share of their hosting exits.
    vpn = rng.sample(w.vpn_exits, min(len(w.vpn_exits), round(hosting * 0.1)))
    vpn = vpn if rng.random() < 0.5 else []
    ranges = []
    for _ in range(max(1, hosting // 16)):
        ranges += pools.egress_range(rng, pools.HOSTING + pools.VPN, 16)
    fresh = pools.addresses(
        rng, pools.RESIDENTIAL + pools.MOBILE, residential - len(nat) - len(homes)
    )
    return fresh + nat + homes + vpn + ranges[: hosting - len(vpn)]


def plan_campaign(
    w: World, kind: str, campaign_id: str, *, count: int | None = None, total: int | None = None
) -> tuple[list[AccountSpec], dict]:
    """One fleet's accounts and a description of it for the manifest; ``count`` accounts and
    ``total`` exchanges when given (a preset), else drawn from ``SIZES`` at the world's scale."""
    rng = w.rng
    low, high, vlow, vhigh = SIZES[kind]
    count = w.size(low, high, minimum=8) if count is None else max(8, count)
    total = w.volume(vlow, vhigh) if total is None else max(count, total)
    if kind == "evasive":
        return _plan_evasive(w, count, total, campaign_id)
    if kind == "hydra":
        return _plan_hydra(w, count, total, campaign_id)
    if kind == "rush":
        return timed.plan_rush(w, campaign_id, count, total)
    if kind == "sleeper":
        return timed.plan_sleeper(w, campaign_id, count, total)
    if kind == "pivot":
        return timed.plan_pivot(w, campaign_id, count, total)
    if kind == "quiet_rush":
        return timed.plan_quiet_rush(w, campaign_id, count, total)
    begin = w.start + rng.randint(1, 8) * DAY
    pool = _proxy_pool(w, rng.randint(count, 3 * count), rng.uniform(0.1, 0.6))
    uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(2, 4))]
    # The duty roster: the fleet works the same hours every day, in one or three crews.
    crews = 1 if kind == "reasoning" else rng.choice([1, 3])
    shift = 24 / crews if crews > 1 else rng.uniform(6, 11)
    first = rng.uniform(0, 24)
    rosters = [
        timing.daily_shifts(begin, w.end, (first + c * shift) % 24, shift) for c in range(crews)
    ]
    style = {
        "elicitations": rng.sample(ph.ELICITATIONS, rng.randint(5, 9)),
        "reasoning": rng.sample(ph.REASONING_TASKS, rng.randint(4, 8)),
        "coding": rng.sample(ph.CODING_TASKS, rng.randint(3, 5)),
        "agentic": rng.sample(ph.AGENT_PREAMBLES, rng.randint(2, 3)),
    }
    mix = {
        "reasoning": {"reasoning": 1.0},
        "agentic": {"agentic": 0.9, "coding": 0.1},
        "capability": {"coding": 0.5, "reasoning": 0.25, "agentic": 0.25},
    }[kind]
    prompt = functools.partial(ph.house_prompt, style=style, mix=list(mix.items()))
    pivot_delay = rng.uniform(2, 20) * HOUR if kind == "capability" else None
    base = {"model-large-3": 1.0}
    models = (
        ModelPolicy(base, w.release, rng.uniform(0.93, 0.99), pivot_delay, 1800.0)
        if pivot_delay is not None
        else ModelPolicy(base, w.release, rng.uniform(0.0, 0.3), rng.uniform(2, 6) * DAY, 2 * DAY)
    )
    tool_rate = {"reasoning": 0.02, "capability": 0.3, "agentic": 0.85}[kind]
    context = {"reasoning": (4.5, 0.5), "capability": (5.5, 0.7), "agentic": (7.5, 0.5)}[kind]
    created = _registrations(w, count, begin)
    cards = _cards(w, count)
    emails = _emails(w, count)
    out = []
    for i, n in enumerate(w.split(total, count, sigma=0.35)):
        roster = rosters[i % crews]
        keep = rng.uniform(0.7, 0.95)
        days = roster[np.array([rng.random() < keep for _ in range(len(roster))], dtype=bool)]
        behaviour = Behaviour(
            times=functools.partial(_on_duty, windows=days if len(days) else roster),
            ips=rng.sample(pool, min(len(pool), rng.randint(8, 24))),
            sticky=rng.choice([0, 0, 600, 1800]),
            user_agents=rng.sample(uas, rng.randint(1, len(uas))),
            prompt=prompt,
            models=models,
            tool_rate=tool_rate,
            context_tokens=context,
            output_tokens=(6.8, 0.45),
        )
        code, _ = pools.country(rng)
        plan = rng.choice(["pro", "pro", "api", "free"])
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=created[i],
                cohort=kind,
                campaign=campaign_id,
                n=n,
                lo=max(begin, created[i] + HOUR),
                hi=w.end,
                behaviour=behaviour,
                email_domain=emails[i],
                # A free account needs no card, but a card-verified one gets higher limits.
                payment_fingerprint=cards[i] if plan != "free" or rng.random() < 0.5 else "",
                country=code,
                plan=plan,
                org_id=f"org_{rng.getrandbits(48):012x}"
                if kind == "capability" and rng.random() < 0.4
                else "",
            )
        )
    info = {
        "kind": kind,
        "crews": crews,
        "shift_hours": round(shift, 2),
        "proxy_pool": len(pool),
        "pivot_delay_hours": round(pivot_delay / HOUR, 2) if pivot_delay else None,
        "first_active": begin,
    }
    return out, info


def _on_duty(g, n, lo, hi, *, windows):
    return timing.in_windows(g, n, windows, lo, hi, jitter=240.0)


def _plan_evasive(w: World, count: int, total: int, campaign_id: str):
    """Aged accounts with human hours, reworded prompts, sticky residential exits, own cards."""
    rng = w.rng
    size = rng.randint(2 * count, 4 * count)
    pool = pools.addresses(rng, pools.RESIDENTIAL + pools.MOBILE, size - size // 7)
    pool += [rng.choice(w.carrier_nat) for _ in range(size // 7)]  # phones behind carrier NAT
    begin = w.start + rng.randint(0, 4) * DAY
    out = []
    for n in w.split(total, count, sigma=0.5):
        code, tz = pools.country(rng)
        plan = rng.choice(["pro", "pro", "free"])
        times = functools.partial(
            timing.human,
            tz_hours=tz,
            weekend=rng.uniform(0.5, 1.0),
            active_share=rng.uniform(0.5, 0.9),
            session_size=rng.uniform(4, 10),
            gap_seconds=rng.uniform(90, 240),
        )
        behaviour = Behaviour(
            times=times,
            ips=rng.sample(pool, rng.randint(2, 6)),
            sticky=HOUR,
            user_agents=[pools.user_agent(rng, pools.BROWSERS) for _ in range(rng.randint(1, 2))],
            prompt=_evasive_prompt,
            models=ModelPolicy(
                {"model-large-3": 0.8, "model-small-3": 0.2},
                w.release,
                rng.uniform(0.2, 0.6),
                rng.uniform(1, 4) * DAY,
                3 * DAY,
            ),
            tool_rate=0.04,
            output_tokens=(6.5, 0.5),
        )
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=w.registered_before(20, 120),
                cohort="evasive",
                campaign=campaign_id,
                n=n,
                lo=begin,
                hi=w.end,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL),
                payment_fingerprint=w.card() if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "evasive",
        "crews": None,
        "shift_hours": None,
        "proxy_pool": len(pool),
        "pivot_delay_hours": None,
        "first_active": begin,
    }


def _evasive_prompt(r):
    return pb.ordinary_prompt(r) if r.random() < 0.25 else ph.evasive_prompt(r)


def _plan_hydra(w: World, count: int, total: int, campaign_id: str):
    """An agentic fleet behind a commercial rotating-proxy network, each account kept under
    per-account thresholds: aged accounts registered weeks apart, each with its own card,
    stock clients, low volume, an exit per request from the network's residential and
    datacenter exits that ordinary customers rent too. Its traffic is an agent's: the
    operator's own harness and tool schema before a job from a large, varied queue, or the
    next step of one, with tools and long outputs. What gives it away is the orchestrator:
    jobs go out in waves (every 20-75 minutes of working hours that drift from day to day),
    each to a random part of the fleet, whose accounts then work their episodes within the
    same minutes, from the same pool of exits, day after day."""
    from detection.synthetic.lookalikes import PLATFORMS, agent_job_prompt, proxy_network

    rng = w.rng
    exits = proxy_network(w)
    begin = w.start + rng.randint(0, 5) * DAY
    first, hours = rng.uniform(0, 24), rng.uniform(12, 20)
    waves = []
    for day in range(int((w.end - begin) // DAY) + 1):
        # Loosely synchronised: the shift starts up to two hours off and lasts a little more
        # or less from one day to the next.
        t = begin + day * DAY + int((first + rng.uniform(-2, 2)) * HOUR)
        stop = t + int((hours + rng.uniform(-2, 2)) * HOUR)
        while t < stop:
            waves.append(t)
            t += rng.randint(20, 75) * 60
    waves = np.array(waves, dtype=np.int64)
    harnesses = rng.sample(ph.OPERATOR_HARNESSES, rng.randint(1, 2))
    # Part of the fleet runs the popular coding agent that customers use (its harness word
    # for word, its client string) instead of the operator's own: drawn from a stream of its
    # own, so the rest of the plan is as it was.
    popular = random.Random(f"{w.seed}:hydra-popular-agent")
    on_agent = popular.uniform(0.3, 0.7)
    forge = agent_client(popular.randint(1, 9), popular.randint(0, 4))
    out = []
    for n in w.split(total, count, sigma=0.5):
        code, _ = pools.country(rng)
        plan = rng.choice(["pro", "pro", "api", "free"])
        family = rng.choice([pools.SDKS, pools.CODING_TOOLS, pools.BROWSERS])
        share = rng.uniform(0.5, 1.0)
        behaviour = Behaviour(
            times=functools.partial(
                timing.in_episodes,
                waves=waves,
                steps=rng.uniform(3, 8),
                reach=rng.choice([120, 300, 600]),
            ),
            # Rotating: an exit per request, from the part of the network the account's
            # plan with the proxy provider reaches.
            ips=rng.sample(exits, max(2, round(len(exits) * share))),
            user_agents=[pools.user_agent(rng, family)],
            prompt=functools.partial(ph.operator_prompt, harness=rng.choice(harnesses)),
            models=ModelPolicy(
                {"model-large-3": 1.0}, w.release, rng.uniform(0.0, 0.4), 3 * DAY, 2 * DAY
            ),
            tool_rate=rng.uniform(0.6, 0.9),
            context_tokens=(7.5, 0.6),
            output_tokens=(6.6, 0.5),
        )
        if popular.random() < on_agent:
            platform = popular.choice(PLATFORMS)
            behaviour.prompt = functools.partial(agent_job_prompt, platform=platform)
            behaviour.user_agents = [forge]
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=w.registered_before(10, 90),
                cohort="hydra",
                campaign=campaign_id,
                n=n,
                lo=begin + rng.randint(0, 3) * DAY,
                hi=w.end,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL),
                payment_fingerprint=w.card() if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "hydra",
        "crews": None,
        "shift_hours": round(hours, 2),
        "proxy_pool": len(exits),
        "popular_agent_share": round(on_agent, 2),
        "waves": len(waves),
        "pivot_delay_hours": None,
        "first_active": begin,
    }
