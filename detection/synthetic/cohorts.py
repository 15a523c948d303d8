"""The legitimate cohorts of individuals: ordinary customers, students, developers, VPN users.

``organisations.py`` has the cohorts of organisations (enterprise, benchmark labs, small
teams) and reuses ``person`` from here. Each ``plan_*`` function returns the cohort's
``AccountSpec`` list for a ``World``. Sizes and volumes are drawn per seed from ranges given
at scale 1 and multiplied by the scale. The look-alikes each share one or more traits with the
campaigns on purpose (docs/synthetic-data.md lists which): a detector that bans on any single
trait bans customers.
"""

from __future__ import annotations

import functools

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic.base import AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.timing import DAY, HOUR


def _models(w: World, *, adopt: float, delay_days: tuple[float, float], ramp_days: float):
    small = w.rng.uniform(0.1, 0.8)
    base = {"model-small-3": small, "model-large-3": 1.0 - small}
    share = w.rng.uniform(0.2, 0.8) if w.rng.random() < adopt else 0.0
    delay = w.rng.uniform(*delay_days) * DAY
    return ModelPolicy(base, w.release, share, delay, w.rng.uniform(0.2, 1.0) * ramp_days * DAY)


def person(
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
        or functools.partial(
            pb.ordinary_prompt,
            topics=rng.sample(pb.TOPICS, rng.randint(4, 10)),
            # One in ten has read a prompting guide and often asks for the reasoning too.
            reasoning=rng.uniform(0.2, 0.6) if rng.random() < 0.1 else 0.0,
        ),
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
        ips = pools.home_networks(rng, code, w.carrier_nat)
        w.homes.append(ips[0])
        weights = [6.0] + [rng.uniform(0.5, 3.0) for _ in ips[1:]]
        r = rng.random()
        # A few privacy-minded people sign up with a throwaway address, as fleets do.
        domain = (
            rng.choice(pools.DISPOSABLE_MAIL)
            if r < 0.015
            else rng.choice(pools.FREE_MAIL)
            if r < 0.85
            else pools.company_domain(rng)
        )
        uas = [pools.user_agent(rng, pools.SDKS)] if plan == "api" else None
        out.append(
            person(
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
                # Some free users put a card on file (verification, a lapsed subscription).
                payment_fingerprint=w.card() if plan != "free" or rng.random() < 0.12 else "",
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
            home = pools.home_networks(rng, code, w.carrier_nat) if rng.random() < 0.4 else []
            weights = [5.0] * len(nat) + [2.0] * len(home)
            spec = person(
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
            spec.payment_fingerprint = w.card() if spec.plan == "pro" or rng.random() < 0.08 else ""
            out.append(spec)
    return out


def plan_developers(w: World) -> list[AccountSpec]:
    """Heavy developers and coding-agent users: tools all day, long sessions, large contexts."""
    rng = w.rng
    count = w.size(50, 90, minimum=4)
    out = []
    for n in w.split(w.volume(45_000, 70_000), count, sigma=0.7):
        code, tz = pools.country(rng)
        ips = pools.home_networks(rng, code, w.carrier_nat) + pools.addresses(rng, pools.HOSTING, 1)
        spec = person(
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
    exits = w.vpn_exits
    out = []
    count = w.size(50, 90, minimum=5)
    for n in w.split(w.volume(5_000, 9_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        mine = rng.sample(exits, rng.randint(3, min(8, len(exits))))
        spec = person(
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
        spec.payment_fingerprint = w.card() if spec.plan == "pro" or rng.random() < 0.1 else ""
        out.append(spec)
    return out
