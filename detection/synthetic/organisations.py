"""The legitimate cohorts of organisations: companies, research labs and small teams.

What makes them look like a fleet is that they are one customer with many accounts: one
``org_id``, one card, one egress range, a registration burst when keys or seats are
provisioned, and (for integrations and benchmark harnesses) templated prompts. What makes them
legitimate is that they say who they are (one declared organisation and domain) and behave as
one customer's software or staff would. docs/synthetic-data.md lists the overlaps.
"""

from __future__ import annotations

import functools

import numpy as np

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic.base import OLD_MODELS, AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.cohorts import person
from detection.synthetic.timing import DAY, HOUR


def plan_enterprise(w: World) -> list[AccountSpec]:
    """Companies: integration keys (one org, card, egress range, template) and staff seats,
    and one large company whose many keys are less tidy (``_many_keys``)."""
    rng = w.rng
    out = []
    for _ in range(max(1, rng.randint(1, 3) if w.scale >= 0.2 else 1)):
        keys = w.size(10, 40, minimum=3)
        company = pools.company_domain(rng)
        org, card = f"org_{rng.getrandbits(48):012x}", w.card()
        # Keys someone made outside the org's console: no org declared, the company's domain
        # or nothing at all as the sign-up address, still on the company's card.
        undeclared = rng.uniform(0.1, 0.4) if rng.random() < 0.5 else 0.0
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
                    email_domain=company if rng.random() < 0.7 else "",
                    org_id="" if rng.random() < undeclared else org,
                    payment_fingerprint=card,
                    country=code,
                    plan=rng.choice(["enterprise", "api"]),
                )
            )
            if out[-1].org_id and not out[-1].email_domain:
                out[-1].email_domain = company
        out += _enterprise_seats(w, domain=company, org=org, card=card, code=code, tz=tz)
    w.reseed("enterprise-many-keys")
    out += _many_keys(w)
    w.reseed("enterprise-many-sites")
    out += _many_keys(w, sites=True)
    return out


def _many_keys(w: World, *, sites: bool = False) -> list[AccountSpec]:
    """A large company with many API keys, as it is rather than as its admin console says.

    Teams create their own keys: most in one provisioning run (a script makes dozens within
    minutes), more as teams join. Only some keys declare the organisation; the rest were made
    with the company's domain, an engineer's personal address or none. Every team's key pays
    with one of the company's few cards. The keys carry the company's own tooling: an internal
    assistant with its tool schema, a review bot, a reporting helper, each fixed wording
    around a task that differs every time. Staff run them in office hours from the office's
    and one cloud region's few addresses; a few keys are nightly batch jobs.

    With ``sites``, a company of several offices and cloud regions: each team sits in one of
    three to six offices (each its own provider's range) and runs in one of two or three cloud
    regions (each its own NAT gateways), some staff work from home, and the teams pay with four
    to eight cards (one per cost centre), so its keys come from more networks than any one
    office's and pay with more cards than a small company's.
    """
    rng = w.rng
    keys = w.size(60, 160, minimum=15)
    company = pools.company_domain(rng)
    name = company.split(".")[0].title()
    org = f"org_{rng.getrandbits(48):012x}"
    cards = [w.card() for _ in range(rng.randint(4, 8) if sites else rng.randint(1, 3))]
    code, tz = pools.country(rng)
    office = pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 3))
    cloud = pools.egress_range(rng, pools.HOSTING[:5], rng.randint(2, 6))
    offices = [office] + [
        pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 3))
        for _ in range(rng.randint(2, 5) if sites else 0)
    ]
    regions = [cloud] + [
        pools.egress_range(rng, pools.HOSTING, rng.randint(2, 6))
        for _ in range(rng.randint(1, 2) if sites else 0)
    ]
    sdk = pools.user_agent(rng, pools.SDKS)
    tool = f"{name.lower()}-copilot/{rng.randint(1, 4)}.{rng.randint(0, 20)} ({sdk})"
    declared = rng.uniform(0.3, 0.8)
    pinned = rng.choice(list(OLD_MODELS))
    switch = rng.uniform(3, 9) * DAY if rng.random() < 0.6 else None
    provisioned = w.registered_before(20, 400)
    teams = rng.randint(6, 12) if sites else rng.randint(3, 7)
    team_card = [rng.choice(cards) for _ in range(teams)]
    if sites:  # every cost centre pays for some team
        team_card[: len(cards)] = cards[:teams]
    team_site = [(rng.choice(offices), rng.choice(regions)) for _ in range(teams if sites else 0)]
    team_kit = [
        rng.sample([pb.INTERNAL_HARNESS, *pb.INTERNAL_TEMPLATES], rng.randint(1, 3))
        for _ in range(teams)
    ]
    out = []
    for i, n in enumerate(w.split(w.volume(30_000, 60_000), keys, sigma=0.7)):
        team = rng.randrange(teams)
        batch = rng.random() < 0.15
        harness = rng.choice(team_kit[team])
        times = (
            functools.partial(timing.round_the_clock, tz_hours=tz, business_bump=0.2)
            if batch
            else functools.partial(
                timing.human,
                tz_hours=tz,
                profile=timing.OFFICE,
                weekend=0.05,
                active_share=rng.uniform(0.5, 0.9),
                session_size=rng.uniform(5.0, 30.0),
                gap_seconds=rng.uniform(20.0, 120.0),
            )
        )
        desk, region = team_site[team] if sites else (office, cloud)
        ips = region if batch else desk + region
        weights = None if batch else [3.0] * len(desk) + [1.0] * len(region)
        if sites and not batch and rng.random() < 0.3:  # works from home some days
            home = pools.home_networks(rng, code, w.carrier_nat)
            ips, weights = ips + home, weights + [1.0] * len(home)
        behaviour = Behaviour(
            times=times,
            ips=ips,
            ip_weights=weights,
            user_agents=[tool] if harness is pb.INTERNAL_HARNESS else [sdk, tool],
            prompt=functools.partial(pb.internal_prompt, template=harness, company=name),
            models=ModelPolicy(
                {pinned: 1.0}, w.release, 1.0 if switch else 0.0, switch or 0.0, HOUR
            ),
            tool_rate=rng.uniform(0.5, 0.9) if harness is pb.INTERNAL_HARNESS else 0.05,
            context_tokens=(6.0, 0.6),
            output_tokens=(5.4, 0.6),
        )
        # Most keys come from one provisioning run, seconds to minutes apart; the rest as
        # teams join over the following months.
        if rng.random() < 0.6:
            created = provisioned + i * rng.randint(5, 40)
        else:
            created = provisioned + rng.randint(DAY, 300 * DAY)
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
                if own or mail < 0.5
                else rng.choice(pools.FREE_MAIL[:6])
                if mail < 0.8
                else "",
                org_id=org if own else "",
                payment_fingerprint=team_card[team],
                country=code,
                plan=rng.choice(["enterprise", "api", "team"]),
            )
        )
    return out


def _enterprise_seats(
    w: World, *, domain: str, org: str, card: str, code: str, tz: int
) -> list[AccountSpec]:
    """A company's staff on the enterprise plan: people, but one org, one card, one proxy.

    Seats are created in one go on the day single sign-on is rolled out (a registration
    burst), and their office traffic leaves through the corporate proxy's few addresses.
    """
    rng = w.rng
    seats = w.size(5, 30, minimum=2)
    office = pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 3))
    rollout = w.registered_before(15, 300)
    out = []
    for i, n in enumerate(w.split(w.volume(1_500, 4_000), seats, sigma=0.8)):
        home = pools.home_networks(rng, code, w.carrier_nat) if rng.random() < 0.5 else []
        spec = person(
            w,
            "enterprise",
            n,
            plan="enterprise",
            tz=tz,
            ips=office + home,
            ip_weights=[5.0] * len(office) + [1.0] * len(home),
            prompt=pb.developer_prompt if rng.random() < 0.25 else None,
            email_domain=domain,
            org_id=org,
            payment_fingerprint=card,
            country=code,
        )
        spec.behaviour.times = functools.partial(
            timing.human, tz_hours=tz, profile=timing.OFFICE, weekend=0.1, active_share=0.7
        )
        late = rng.random() < 0.3  # joiners after the rollout
        spec.created_at = rollout + (
            rng.randint(DAY, 200 * DAY) if late else i * rng.randint(3, 40)
        )
        spec.created_at = min(spec.created_at, w.start - HOUR)
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
            home = pools.home_networks(rng, code, w.carrier_nat)
            prompt = pb.developer_prompt if rng.random() < 0.3 else None
            spec = person(
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
