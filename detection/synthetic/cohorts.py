"""The legitimate cohorts: ordinary customers and the look-alikes that must never be banned.

Each ``plan_*`` function returns the cohort's ``AccountSpec`` list for a ``World``. Sizes and
volumes are drawn per seed from ranges given at scale 1 and multiplied by the scale. The
look-alikes each share one or more traits with the campaigns on purpose (docs/synthetic-data.md
lists which): a detector that bans on any single trait bans customers.
"""

from __future__ import annotations

import functools

import numpy as np

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic.base import OLD_MODELS, AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.timing import DAY, HOUR


def _models(w: World, *, adopt: float, delay_days: tuple[float, float], ramp_days: float):
    small = w.rng.uniform(0.1, 0.8)
    base = {"model-small-3": small, "model-large-3": 1.0 - small}
    share = w.rng.uniform(0.2, 0.8) if w.rng.random() < adopt else 0.0
    delay = w.rng.uniform(*delay_days) * DAY
    return ModelPolicy(base, w.release, share, delay, w.rng.uniform(0.2, 1.0) * ramp_days * DAY)


def _person(
    w: World,
    cohort: str,
    n: int,
    *,
    plan: str,
    tz: int,
    ips,
    ip_weights=None,
    uas=None,
    prompt=None,
    **extra,
) -> AccountSpec:
    """A human-driven account with the common defaults of a consumer."""
    rng = w.rng
    times = functools.partial(
        timing.human,
        tz_hours=tz,
        weekend=rng.uniform(0.3, 1.3),
        active_share=rng.uniform(0.15, 0.8),
        session_size=rng.uniform(2.0, 8.0),
        gap_seconds=rng.uniform(60, 300),
    )
    behaviour = Behaviour(
        times=times,
        ips=ips,
        ip_weights=ip_weights,
        user_agents=uas
        or [pools.user_agent(rng, pools.BROWSERS + pools.APPS) for _ in range(rng.randint(1, 3))],
        prompt=prompt
        or functools.partial(pb.ordinary_prompt, topics=rng.sample(pb.TOPICS, rng.randint(4, 10))),
        models=_models(w, adopt=0.4, delay_days=(0.5, 6), ramp_days=5),
        tool_rate=rng.choice([0.0, 0.0, 0.01, 0.03]),
    )
    spec = AccountSpec(
        account_id=w.account_id(),
        created_at=w.registered_before(3, 700),
        cohort=cohort,
        campaign=None,
        n=n,
        lo=w.start,
        hi=w.end,
        behaviour=behaviour,
        plan=plan,
    )
    for name, value in extra.items():
        setattr(spec, name, value)
    return spec


def plan_ordinary(w: World) -> list[AccountSpec]:
    """Consumers and small API users: most accounts, most of the diversity."""
    rng = w.rng
    count = w.size(1800, 2400, minimum=60)
    plans = rng.choices(["free", "pro", "api", "team"], weights=[55, 33, 8, 4], k=count)
    weight = {"free": 0.6, "pro": 1.6, "api": 3.0, "team": 1.4}
    counts = w.split(w.volume(170_000, 210_000), count, sigma=1.0, mult=[weight[p] for p in plans])
    out = []
    for plan, n in zip(plans, counts, strict=True):
        code, tz = pools.country(rng)
        ips = pools.home_networks(rng, code)
        weights = [6.0] + [rng.uniform(0.5, 3.0) for _ in ips[1:]]
        domain = rng.choice(pools.FREE_MAIL) if rng.random() < 0.85 else pools.company_domain(rng)
        uas = [pools.user_agent(rng, pools.SDKS)] if plan == "api" else None
        out.append(
            _person(
                w,
                "ordinary",
                n,
                plan=plan,
                tz=tz,
                ips=ips,
                ip_weights=weights,
                uas=uas,
                email_domain=domain,
                country=code,
                payment_fingerprint="" if plan == "free" else w.card(),
            )
        )
    return out


def plan_enterprise(w: World) -> list[AccountSpec]:
    """Companies' integrations: many keys, one org, one card, one egress range, one template."""
    rng = w.rng
    out = []
    for _ in range(max(1, rng.randint(1, 3) if w.scale >= 0.2 else 1)):
        keys = w.size(10, 40, minimum=3)
        company = pools.company_domain(rng)
        org, card = f"org_{rng.getrandbits(48):012x}", w.card()
        code, tz = pools.country(rng)
        egress = pools.egress_range(rng, pools.HOSTING[:5], rng.randint(2, 8))
        uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(1, 2))]
        templates = rng.sample(pb.ENTERPRISE_TEMPLATES, rng.randint(1, 2))
        name = company.split(".")[0].title()
        tools, pinned = rng.uniform(0.0, 0.4), rng.choice(list(OLD_MODELS))
        # The integration team moves every key to the new model on one day, a few days after
        # release, once it passed their evaluation: a pivot, but a slow one.
        switch = rng.uniform(3, 9) * DAY if rng.random() < 0.6 else None
        provisioned = w.registered_before(20, 500)
        for i, n in enumerate(w.split(w.volume(18_000, 35_000), keys, sigma=0.6)):
            behaviour = Behaviour(
                times=functools.partial(
                    timing.round_the_clock, tz_hours=tz, business_bump=rng.uniform(0.3, 2)
                ),
                ips=egress,
                user_agents=uas,
                prompt=functools.partial(
                    pb.enterprise_prompt, template=rng.choice(templates), company=name
                ),
                models=ModelPolicy(
                    {pinned: 1.0}, w.release, 1.0 if switch else 0.0, switch or 0.0, HOUR
                ),
                tool_rate=tools,
                context_tokens=(5.5, 0.6),
                output_tokens=(5.0, 0.5),
            )
            # Keys come in provisioning batches: a script creates a dozen within minutes.
            created = provisioned + (i // 12) * rng.randint(2, 60) * DAY + i * rng.randint(5, 90)
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
                    email_domain=company,
                    org_id=org,
                    payment_fingerprint=card,
                    country=code,
                    plan=rng.choice(["enterprise", "api"]),
                )
            )
    return out


def plan_campus(w: World) -> list[AccountSpec]:
    """Universities behind NAT: strangers on one or a few addresses, human hours, a term start."""
    rng = w.rng
    out = []
    for _ in range(rng.randint(1, 3) if w.scale >= 0.2 else 1):
        students = w.size(60, 150, minimum=8)
        domain = rng.choice(pools.UNIVERSITIES)
        code, tz = pools.country(rng)
        nat = pools.egress_range(rng, pools.EDUCATION, rng.randint(1, 3))
        term = w.start - rng.randint(5, 25) * DAY + 9 * HOUR - tz * HOUR
        for n in w.split(w.volume(8_000, 16_000), students, sigma=0.9):
            home = pools.home_networks(rng, code) if rng.random() < 0.4 else []
            weights = [5.0] * len(nat) + [2.0] * len(home)
            spec = _person(
                w,
                "campus",
                n,
                plan=rng.choice(["free", "free", "free", "pro"]),
                tz=tz,
                ips=nat + home,
                ip_weights=weights,
                prompt=pb.study_prompt,
                email_domain=domain,
                country=code,
            )
            # Sign-ups cluster in the first week of term, many within a lecture's hour.
            if rng.random() < 0.3:
                spec.created_at = term + rng.randint(0, 3600)
            else:
                spec.created_at = term + rng.randint(-200 * DAY, 7 * DAY)
            spec.payment_fingerprint = w.card() if spec.plan == "pro" else ""
            out.append(spec)
    return out


def plan_benchmark(w: World) -> list[AccountSpec]:
    """Research labs running benchmark suites: 'let's think step by step', templated, in bursts."""
    rng = w.rng
    out = []
    for _ in range(rng.randint(1, 2)):
        accounts = w.size(2, 4, minimum=2)
        domain = rng.choice(pools.UNIVERSITIES)
        org, card = f"org_{rng.getrandbits(48):012x}", w.card()
        ips = pools.egress_range(
            rng, rng.choice([pools.EDUCATION, pools.HOSTING]), rng.randint(1, 3)
        )
        suffix = rng.choice(pb.BENCH_SUFFIXES)
        shots = (
            ""
            if rng.random() < 0.5
            else "Q: There are 15 trees. They plant 6 more. How many?\nA: 21.\n\n"
        )
        ua = pools.user_agent(rng, pools.SDKS)
        for n in w.split(w.volume(12_000, 25_000), accounts, sigma=0.4):
            runs = []
            for _ in range(rng.randint(3, 6)):
                start = w.start + rng.randint(0, (timing.DAY * 27))
                runs.append((start, start + rng.randint(1, 5) * HOUR))
            windows = np.array(runs, dtype=np.int64)
            behaviour = Behaviour(
                times=lambda g, k, lo, hi, win=windows: timing.in_windows(g, k, win, lo, hi),
                ips=ips,
                user_agents=[ua],
                prompt=functools.partial(pb.benchmark_prompt, suffix=suffix, few_shot=shots),
                models=ModelPolicy(
                    {rng.choice(list(OLD_MODELS)): 1.0}, w.release, 0.5, 2 * DAY, HOUR
                ),
                context_tokens=(2.0, 0.5),
                output_tokens=(6.3, 0.4),
            )
            out.append(
                AccountSpec(
                    account_id=w.account_id(),
                    created_at=w.registered_before(10, 300),
                    cohort="benchmark",
                    campaign=None,
                    n=n,
                    lo=w.start,
                    hi=w.end,
                    behaviour=behaviour,
                    email_domain=domain,
                    org_id=org,
                    payment_fingerprint=card,
                    country=rng.choice(["US", "GB", "DE"]),
                    plan="api",
                )
            )
    return out


def plan_developers(w: World) -> list[AccountSpec]:
    """Heavy developers and coding-agent users: tools all day, long sessions, large contexts."""
    rng = w.rng
    count = w.size(50, 90, minimum=4)
    out = []
    for n in w.split(w.volume(45_000, 70_000), count, sigma=0.7):
        code, tz = pools.country(rng)
        ips = pools.home_networks(rng, code) + pools.addresses(rng, pools.HOSTING, 1)
        spec = _person(
            w,
            "developer",
            n,
            plan=rng.choice(["pro", "api", "team"]),
            tz=tz,
            ips=ips,
            uas=[pools.user_agent(rng, pools.CODING_TOOLS) for _ in range(rng.randint(1, 2))],
            prompt=pb.developer_prompt,
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL[:6] + [pools.company_domain(rng)]),
            payment_fingerprint=w.card(),
        )
        b = spec.behaviour
        b.times = functools.partial(_dev_times, tz=tz, active=rng.uniform(0.45, 0.85))
        b.tool_rate = rng.uniform(0.5, 0.92)
        b.context_tokens, b.output_tokens = (8.3, 0.8), (5.8, 0.8)
        # Early adopters try a new model the day it ships, as a pivoting fleet does.
        if rng.random() < 0.35:
            b.models = ModelPolicy(
                b.models.base,
                w.release,
                rng.uniform(0.6, 0.95),
                rng.uniform(2, 20) * HOUR,
                6 * HOUR,
            )
        out.append(spec)
    return out


def _dev_times(g, n, lo, hi, *, tz, active):
    return timing.human(
        g,
        n,
        lo,
        hi,
        tz,
        profile=timing.OFFICE,
        weekend=0.35,
        active_share=active,
        session_size=45.0,
        gap_seconds=70.0,
    )


def plan_vpn(w: World) -> list[AccountSpec]:
    """Unrelated privacy-minded users who share a commercial VPN's exits (hosting ASNs)."""
    rng = w.rng
    exits = pools.addresses(rng, pools.VPN, rng.randint(8, 20))
    out = []
    count = w.size(50, 90, minimum=5)
    for n in w.split(w.volume(5_000, 9_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        mine = rng.sample(exits, rng.randint(3, min(8, len(exits))))
        spec = _person(
            w,
            "vpn",
            n,
            plan=rng.choice(["free", "pro"]),
            tz=tz,
            ips=mine,
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
        )
        spec.behaviour.sticky = HOUR
        spec.payment_fingerprint = w.card() if spec.plan == "pro" else ""
        out.append(spec)
    return out


def plan_small_teams(w: World) -> list[AccountSpec]:
    """Small companies whose few seats share one card, one domain and an office address."""
    rng = w.rng
    out = []
    for _ in range(w.size(6, 12, minimum=2)):
        domain, card = pools.company_domain(rng), w.card()
        org = f"org_{rng.getrandbits(48):012x}" if rng.random() < 0.5 else ""
        code, tz = pools.country(rng)
        office = pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 2))
        founded = w.registered_before(30, 600)
        members = rng.randint(2, 6)
        for i, n in enumerate(w.split(w.volume(600, 1500), members, sigma=0.5)):
            home = pools.home_networks(rng, code)
            prompt = pb.developer_prompt if rng.random() < 0.3 else None
            spec = _person(
                w,
                "small_team",
                n,
                plan="team",
                tz=tz,
                ips=office + home,
                ip_weights=[4.0] * len(office) + [1.0] * len(home),
                prompt=prompt,
                email_domain=domain,
                org_id=org,
                payment_fingerprint=card,
                country=code,
            )
            spec.behaviour.times = functools.partial(
                timing.human, tz_hours=tz, profile=timing.OFFICE, weekend=0.2, active_share=0.6
            )
            spec.created_at = founded + i * rng.randint(60, 3 * DAY)
            out.append(spec)
    return out


BENIGN = {
    "ordinary": plan_ordinary,
    "enterprise": plan_enterprise,
    "campus": plan_campus,
    "benchmark": plan_benchmark,
    "developer": plan_developers,
    "vpn": plan_vpn,
    "small_team": plan_small_teams,
}
