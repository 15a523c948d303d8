"""Varied shapes (``generate_traffic --vary``): fleets and companies drawn per seed from wide
ranges instead of the fixed kinds of ``campaigns.py``, ``timed.py`` and ``organisations.py``.

Every fleet is one operator's accounts and every company is one customer's keys, as before;
what varies is *how*: each trait below is drawn on its own for each fleet or company, so a
seed meets combinations no fixed kind has (a small fleet with no burst on its own cards and a
handful of shared exits, a large one in waves over a proxy network customers rent too, a
company with several cards and no declared organisation running a reasoning evaluation
pipeline round the clock). Every value is something a real fleet or company does;
docs/synthetic-data.md ("Varied shapes") lists the ranges. Nothing here is used unless
``World.vary`` is set, so the default data sets are as they were.
"""

from __future__ import annotations

import functools
import math
import random

import numpy as np

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic import prompts_harvest as ph
from detection.synthetic.base import OLD_MODELS, AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.cohorts import person
from detection.synthetic.lookalikes import (
    PLATFORMS,
    agent_client,
    agent_job_prompt,
    proxy_network,
)
from detection.synthetic.timing import DAY, HOUR

# The harvest a fleet runs, and the label cohort its accounts get.
HARVESTS = {
    "reasoning": [("reasoning", 1.0)],
    "coding": [("coding", 0.85), ("reasoning", 0.15)],
    "agentic": [("agentic", 0.9), ("coding", 0.1)],
    "mixed": None,  # drawn per fleet
}
COHORT_OF_HARVEST = {
    "reasoning": "varied_reasoning_fleet",
    "coding": "varied_coding_fleet",
    "agentic": "varied_agentic_fleet",
    "mixed": "varied_mixed_fleet",
}


def _log_uniform(rng, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(max(low, high))))


def fleet_count(w: World) -> int:
    """Four to seven fleets per seed."""
    return w.rng.randint(4, 7)


def plan_fleet(w: World, campaign_id: str) -> tuple[list[AccountSpec], dict]:
    """One fleet whose every trait is drawn on its own (``shape`` in the manifest says which)."""
    rng = w.rng
    harvest = rng.choice(list(HARVESTS))
    mix = HARVESTS[harvest]
    if mix is None:
        raw = [rng.uniform(0.1, 1.0) for _ in range(3)]
        mix = [
            (k, r / sum(raw)) for k, r in zip(("reasoning", "coding", "agentic"), raw, strict=True)
        ]
    count = max(10, round(_log_uniform(rng, 10, max(20, 300 * w.scale))))
    per_account = _log_uniform(rng, 30, 2000)
    # A fleet's traffic at most a few times a fixed kind's at this scale (runs stay small).
    total = max(count * 20, min(round(per_account * count), round(max(8000, 400_000 * w.scale))))
    timing_kind = rng.choice(["shifts", "waves", "episodes", "human", "clock"])
    start_kind = rng.choice(["steady", "steady", "rush", "sleeper", "burn"])
    register = rng.choice(["burst", "aged", "drip"])
    cards = rng.choice(["pooled", "own", "none", "mixed"])
    exits_kind = rng.choice(["shared_pool", "sparse", "network", "few"])
    customer_exits = rng.choice([0.0, 0.0, rng.uniform(0.02, 0.5)])
    rotate = rng.choice([0, 0, 600, 1800, 3600, 4 * 3600])
    clients = rng.choice(["fleet_set", "own", "browsers"])
    mail = rng.choice(["disposable", "free", "company", "mixed"])
    few = rng.random() < 0.5
    own_part = rng.random() < 0.5
    pivot = rng.choice(["none", "fast", "slow"]) if start_kind != "rush" else "rush"
    cover = rng.random() < 0.3 and register == "aged" and start_kind != "sleeper"
    orgs = rng.choice([0.0, 0.0, rng.uniform(0.1, 0.6)])
    # Agent work through the popular coding agent that customers run (its harness word for
    # word, its client string) on a share of the accounts, instead of the operator's own
    # harness: drawn from a stream of its own, so every other draw is as it was.
    agent = random.Random(f"{w.seed}:{campaign_id}:popular-agent")
    on_agent = agent.choice([0.0, 0.0, agent.uniform(0.3, 1.0)]) if "agentic" in dict(mix) else 0.0
    forge = agent_client(agent.randint(1, 9), agent.randint(0, 4))

    # When: the fleet's first and last day, and each account's own span.
    if start_kind == "rush":
        begin = w.release + int(rng.uniform(0.2, 36) * HOUR)
    elif start_kind == "sleeper":
        begin = w.start + int(rng.uniform(5, 22) * DAY)
    else:
        begin = w.start + int(rng.uniform(0, 12) * DAY)
    spread = {
        "rush": rng.uniform(0.5, 24) * HOUR,
        "sleeper": rng.uniform(0.5, 6) * HOUR,
        "burn": rng.uniform(1, 10) * DAY,
    }.get(start_kind, rng.uniform(0, 4) * DAY)
    life = (rng.uniform(1.5, 8) * DAY) if start_kind in ("rush", "burn") else None

    first_hour, hours = rng.uniform(0, 24), rng.uniform(6, 20)
    crews = rng.choice([1, 1, 3])
    shift = 24 / crews if crews > 1 else rng.uniform(6, 11)
    rosters = [
        timing.daily_shifts(begin, w.end, (first_hour + c * shift) % 24, shift)
        for c in range(crews)
    ]
    waves = _waves(w, begin, first_hour, hours, rng.randint(10, 75))

    # Exits.
    if exits_kind == "network":
        pool = list(proxy_network(w))
    else:
        factor = {"shared_pool": (0.5, 3), "sparse": (5, 20), "few": (0.1, 0.5)}[exits_kind]
        size = max(2, round(count * rng.uniform(*factor)))
        hosting = rng.choice([0.0, rng.uniform(0.1, 0.6), 1.0])
        pool = pools.addresses(rng, pools.RESIDENTIAL + pools.MOBILE, size - int(size * hosting))
        pool += pools.addresses(rng, pools.HOSTING, int(size * hosting))
    borrowed = round(len(pool) * customer_exits)
    shared = w.carrier_nat + w.vpn_exits + w.homes
    for k in range(min(borrowed, len(pool))):
        pool[k] = rng.choice(shared)
    per_account = {
        "shared_pool": (4, 24),
        "sparse": (1, 4),
        "network": (20, 200),
        "few": (1, 3),
    }[exits_kind]

    card_pool = [w.card() for _ in range(max(1, count // rng.randint(3, 15)))]
    pooled_share = rng.uniform(0.4, 0.95)
    fleet_uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(1, 6))]
    domains = {
        "disposable": rng.sample(pools.DISPOSABLE_MAIL, rng.randint(1, 5)),
        "free": rng.sample(pools.FREE_MAIL, rng.randint(2, 6)),
        "company": [pools.company_domain(rng)],
        "mixed": rng.sample(pools.DISPOSABLE_MAIL, 2) + rng.sample(pools.FREE_MAIL, 3),
    }[mail]
    library = {
        "elicitations": rng.sample(
            ph.ELICITATIONS, rng.randint(1, 3) if few else rng.randint(6, 16)
        ),
        "reasoning": rng.sample(
            ph.REASONING_TASKS, rng.randint(1, 2) if few else rng.randint(5, 12)
        ),
        "coding": rng.sample(ph.CODING_TASKS, rng.randint(1, 2) if few else rng.randint(3, 6)),
        "agentic": rng.sample(ph.AGENT_PREAMBLES, 1 if few else rng.randint(2, 4)),
    }
    tool_rate = sum(v * {"reasoning": 0.02, "coding": 0.3, "agentic": 0.85}[k] for k, v in mix)
    model_share = rng.uniform(0.6, 0.99)
    pivot_at = w.release + int(rng.uniform(0.5, 24) * HOUR)
    sticky_old = rng.uniform(0.0, 0.3)

    # Registrations.
    if register == "burst":
        created = []
        while len(created) < count:
            at = begin - rng.randint(HOUR, 14 * DAY)
            size = min(count - len(created), rng.randint(3, 45))
            created += [at + rng.randint(0, rng.randint(5, 60) * 60) for _ in range(size)]
    elif register == "aged":
        created = [w.registered_before(5, 400) for _ in range(count)]
    else:
        created = [begin - rng.randint(HOUR, 20 * DAY) for _ in range(count)]

    out = []
    for i, n in enumerate(w.split(total, count, sigma=rng.uniform(0.2, 1.0))):
        lo = begin + int(rng.uniform(0, spread))
        lo = max(lo, created[i] + HOUR, w.start)
        hi = min(w.end, lo + int(life * rng.uniform(0.6, 1.4))) if life else w.end
        if hi - lo < 6 * HOUR:
            lo = max(w.start, hi - 6 * HOUR)
        code, tz = pools.country(rng)
        if timing_kind == "shifts":
            roster = rosters[i % crews]
            keep = rng.uniform(0.6, 0.95)
            days = roster[np.array([rng.random() < keep for _ in roster], dtype=bool)]
            times = functools.partial(_on_duty, windows=days if len(days) else roster)
        elif timing_kind == "waves":
            times = functools.partial(timing.in_waves, waves=waves)
        elif timing_kind == "episodes":
            times = functools.partial(
                timing.in_episodes,
                waves=waves,
                steps=rng.uniform(2, 8),
                reach=rng.choice([120, 300, 600, 1800]),
            )
        elif timing_kind == "human":
            times = functools.partial(
                timing.human,
                tz_hours=tz,
                weekend=rng.uniform(0.3, 1.2),
                active_share=rng.uniform(0.3, 0.9),
                session_size=rng.uniform(4, 30),
                gap_seconds=rng.uniform(30, 240),
            )
        else:
            times = functools.partial(
                timing.round_the_clock, tz_hours=tz, business_bump=rng.uniform(0, 1)
            )
        if start_kind == "rush":
            models = ModelPolicy({"model-large-3": 1.0}, w.release, model_share, 0, 1)
        elif pivot == "fast":
            models = ModelPolicy(
                {"model-large-3": 1.0}, w.release, model_share, pivot_at - w.release, 1800.0
            )
        elif pivot == "slow":
            models = ModelPolicy(
                {"model-large-3": 1.0}, w.release, rng.uniform(0.3, 0.9), rng.uniform(1, 6) * DAY,
                2 * DAY,
            )  # fmt: skip
        else:
            models = ModelPolicy({"model-large-3": 1.0}, w.release, sticky_old, 3 * DAY, 2 * DAY)
        style = (
            {
                k: rng.sample(v, max(1, len(v) - rng.randint(0, len(v) // 2)))
                for k, v in library.items()
            }
            if own_part
            else library
        )
        if clients == "fleet_set":
            uas = rng.sample(fleet_uas, rng.randint(1, len(fleet_uas)))
        elif clients == "own":
            uas = [pools.user_agent(rng, rng.choice([pools.SDKS, pools.CODING_TOOLS]))]
        else:
            uas = [pools.user_agent(rng, pools.BROWSERS)]
        low, high = per_account
        behaviour = Behaviour(
            times=times,
            ips=rng.sample(pool, min(len(pool), rng.randint(low, high))),
            sticky=rotate,
            user_agents=uas,
            prompt=functools.partial(ph.house_prompt, style=style, mix=mix),
            models=models,
            tool_rate=min(0.95, tool_rate * rng.uniform(0.7, 1.3)),
            context_tokens=(rng.uniform(4.5, 7.5), 0.6),
            output_tokens=(rng.uniform(6.3, 6.9), 0.45),
        )
        if agent.random() < on_agent:
            behaviour.prompt = functools.partial(agent_job_prompt, platform=agent.choice(PLATFORMS))
            behaviour.user_agents = [forge]
        if cover:
            # An aged account with a person's history on the old models, then taken over.
            usual = person(
                w, "cover", 1, plan="pro", tz=tz, ips=pools.home_networks(rng, code, w.carrier_nat)
            )
            usual.behaviour.then = (lo, behaviour)
            work = behaviour.times
            usual.behaviour.times = functools.partial(
                _taken_over, at=lo, before=rng.uniform(0.03, 0.15), usual=usual.behaviour.times,
                work=work,
            )  # fmt: skip
            behaviour = usual.behaviour
            lo_account = max(w.start, created[i] + HOUR)
        else:
            lo_account = lo
        plan = rng.choice(["pro", "pro", "api", "free"])
        card = {
            "pooled": rng.choice(card_pool) if rng.random() < pooled_share else w.card(),
            "own": w.card(),
            "none": w.card() if rng.random() < 0.15 else "",
            "mixed": rng.choice(card_pool) if rng.random() < 0.3 else w.card(),
        }[cards]
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=min(created[i], lo_account - HOUR),
                cohort=COHORT_OF_HARVEST[harvest],
                campaign=campaign_id,
                n=n,
                lo=lo_account,
                hi=hi,
                behaviour=behaviour,
                email_domain=rng.choice(domains),
                payment_fingerprint=card if plan != "free" or cards == "pooled" else "",
                country=code,
                plan=plan,
                org_id=f"org_{rng.getrandbits(48):012x}" if rng.random() < orgs else "",
            )
        )
    shape = {
        "harvest": harvest,
        "mix": {k: round(v, 2) for k, v in mix},
        "accounts": count,
        "per_account": round(total / count),
        "timing": timing_kind,
        "start": start_kind,
        "registration": register,
        "cards": cards,
        "exits": exits_kind,
        "customer_exits": round(customer_exits, 2),
        "rotate_seconds": rotate,
        "clients": clients,
        "mail": mail,
        "templates": "few" if few else "many",
        "own_part": own_part,
        "model": pivot,
        "cover": cover,
        "declared_orgs": round(orgs, 2),
        "popular_agent": round(on_agent, 2),
    }
    info = {
        "kind": f"varied_{harvest}",
        "crews": crews if timing_kind == "shifts" else None,
        "shift_hours": round(shift, 2) if timing_kind == "shifts" else None,
        "proxy_pool": len(pool),
        "pivot_delay_hours": round((pivot_at - w.release) / HOUR, 2) if pivot == "fast" else None,
        "first_active": begin,
        "shape": shape,
    }
    return out, info


def _waves(w: World, begin: int, first_hour: float, hours: float, every: int) -> np.ndarray:
    rng = w.rng
    out = []
    for day in range(int((w.end - begin) // DAY) + 2):
        t = (begin // DAY + day) * DAY + int((first_hour + rng.uniform(-1, 1)) * HOUR)
        stop = t + int(hours * HOUR)
        while t < stop:
            if begin <= t < w.end:
                out.append(t)
            t += rng.randint(max(5, every // 2), every) * 60
    return np.array(out or [begin], dtype=np.int64)


def _on_duty(g, n, lo, hi, *, windows):
    return timing.in_windows(g, n, windows, lo, hi, jitter=240.0)


def _taken_over(g, n, lo, hi, *, at, before, usual, work):
    early = usual(g, round(n * before), lo, min(at, hi)) if at > lo else np.empty(0, np.int64)
    later = work(g, n - len(early), at, hi)
    return np.sort(np.concatenate([early.astype(np.int64), later.astype(np.int64)]))


def plan_companies(w: World) -> list[AccountSpec]:
    """Two to five companies, each drawn on its own (see ``_company``)."""
    out = []
    for k in range(w.rng.randint(2, 5)):
        w.reseed(f"varied-company-{k}")
        out += _company(w)
    return out


def _company(w: World) -> list[AccountSpec]:
    """One company's keys: how many, how many declare the organisation, how many cards, which
    sign-up addresses, which teams run which of its own tools (an internal assistant with one
    long shared harness, templated integrations, a reasoning evaluation pipeline), how many
    keys are batch jobs round the clock, how keys were provisioned (one run, onboarding bursts
    or one by one), from how many offices and cloud regions, and when it moved models."""
    rng = w.rng
    keys = max(10, round(_log_uniform(rng, 10, max(25, 300 * w.scale))))
    company = pools.company_domain(rng)
    name = company.split(".")[0].title()
    org = f"org_{rng.getrandbits(48):012x}"
    declared = rng.choice([1.0, 0.0, rng.uniform(0.2, 0.9)])
    corporate = rng.uniform(0.3, 1.0)
    cards = [w.card() for _ in range(rng.choice([1, 1, rng.randint(2, 8)]))]
    teams = rng.randint(1, 10)
    code, tz = pools.country(rng)
    offices = [
        pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 3)) for _ in range(rng.randint(1, 4))
    ]
    regions = [
        pools.egress_range(rng, pools.HOSTING[:5], rng.randint(2, 6))
        for _ in range(rng.randint(1, 3))
    ]
    home_share = rng.choice([0.0, rng.uniform(0.05, 0.4)])
    batch_share = rng.choice([0.0, rng.uniform(0.05, 0.5)])
    provisioning = rng.choice(["one_run", "bursts", "one_by_one"])
    sdk = pools.user_agent(rng, pools.SDKS)
    tool_ua = f"{name.lower()}-internal/{rng.randint(1, 4)}.{rng.randint(0, 20)} ({sdk})"
    pinned = rng.choice(list(OLD_MODELS))
    move = rng.choice(["one_day", "per_team", "never"])
    switch_day = rng.uniform(1, 10) * DAY
    kits = ["harness", "internal", "integration", "evaluation"]
    weights = [rng.uniform(0, 1) for _ in kits]
    team_kit = [rng.choices(kits, weights=weights)[0] for _ in range(teams)]
    team_template = [
        rng.choice(pb.INTERNAL_TEMPLATES)
        if kit == "internal"
        else rng.choice(pb.ENTERPRISE_TEMPLATES)
        if kit == "integration"
        else rng.choice(pb.BENCH_SUFFIXES)
        if kit == "evaluation"
        else pb.INTERNAL_HARNESS
        for kit in team_kit
    ]
    team_card = [cards[t % len(cards)] for t in range(teams)]
    team_site = [(rng.choice(offices), rng.choice(regions)) for _ in range(teams)]
    team_switch = [switch_day + rng.uniform(0, 8) * DAY for _ in range(teams)]
    provisioned = w.registered_before(20, 500)
    bursts = [provisioned + rng.randint(0, 300) * DAY for _ in range(rng.randint(2, 6))]
    out = []
    volume = w.volume(20_000, 80_000)
    for i, n in enumerate(w.split(volume, keys, sigma=rng.uniform(0.4, 1.0))):
        team = rng.randrange(teams)
        kit, template = team_kit[team], team_template[team]
        batch = rng.random() < batch_share or (kit == "evaluation" and rng.random() < 0.5)
        if batch:
            times = functools.partial(
                timing.round_the_clock, tz_hours=tz, business_bump=rng.uniform(0, 0.5)
            )
        else:
            times = functools.partial(
                timing.human,
                tz_hours=tz,
                profile=timing.OFFICE,
                weekend=rng.uniform(0.0, 0.2),
                active_share=rng.uniform(0.4, 0.9),
                session_size=rng.uniform(5.0, 40.0),
                gap_seconds=rng.uniform(10.0, 120.0),
            )
        desk, region = team_site[team]
        ips = region if batch else desk + region
        weights = None if batch else [3.0] * len(desk) + [1.0] * len(region)
        if not batch and rng.random() < home_share:
            home = pools.home_networks(rng, code, w.carrier_nat)
            ips, weights = ips + home, weights + [1.0] * len(home)
        if kit == "evaluation":
            prompt = functools.partial(pb.benchmark_prompt, suffix=template, few_shot="")
        elif kit == "integration":
            prompt = functools.partial(pb.enterprise_prompt, template=template, company=name)
        else:
            prompt = functools.partial(pb.internal_prompt, template=template, company=name)
        share = 0.0 if move == "never" else rng.uniform(0.8, 1.0)
        delay = switch_day if move == "one_day" else team_switch[team]
        behaviour = Behaviour(
            times=times,
            ips=ips,
            ip_weights=weights,
            user_agents=[tool_ua] if kit == "harness" else [sdk],
            prompt=prompt,
            models=ModelPolicy({pinned: 1.0}, w.release, share, delay, HOUR),
            tool_rate=rng.uniform(0.5, 0.9) if kit == "harness" else rng.uniform(0.0, 0.1),
            context_tokens=(6.0, 0.6),
            output_tokens=(6.5 if kit == "evaluation" else 5.4, 0.6),
        )
        if provisioning == "one_run":
            created = provisioned + i * rng.randint(5, 40)
        elif provisioning == "bursts":
            created = rng.choice(bursts) + rng.randint(0, 20 * 60)
        else:
            created = provisioned + rng.randint(0, 400 * DAY)
        own = rng.random() < declared
        mail = rng.random()
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=min(created, w.start - HOUR),
                cohort="enterprise",
                campaign=None,
                n=n,
                lo=w.start,
                hi=w.end,
                behaviour=behaviour,
                email_domain=company
                if own or mail < corporate
                else rng.choice(pools.FREE_MAIL[:6])
                if mail < corporate + (1 - corporate) / 2
                else "",
                org_id=org if own else "",
                payment_fingerprint=team_card[team],
                country=code,
                plan=rng.choice(["enterprise", "api", "team"]),
            )
        )
    return out
