"""Benign cohorts that build things: developers on the popular coding agent, benchmark and
research runners, companies with many seats, and small businesses calling the API."""

from __future__ import annotations

import numpy as np

from bench.heldout import texts
from bench.heldout.context import Ctx
from bench.heldout.emit import HomeLine, emit
from bench.heldout.schedule import DAY, profile, sessions
from bench.heldout.world import (
    CLOUDS,
    OFFSET,
    SECURE_GATEWAY,
    WEBMAIL,
    ExitPool,
    browser,
    card,
    coding_agent_ua,
    pick_country,
    pool_from,
    sdk,
    word,
)


def developers(ctx: Ctx, n: int) -> None:
    """Independent developers and tiny teams, all on the same coding agent: its harness
    prompt and tool schema open every request. Agent loops fire tool calls seconds apart.
    Some work from home and a cloud dev box; some leave the agent running unattended around
    the clock on a CI runner or a home server; tiny teams share a card and an organisation."""
    rng, g = ctx.rng, ctx.g
    made = 0
    while made < n:
        seats = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        seats = min(seats, n - made)
        country = pick_country(rng)
        team_card = card(rng)
        org = f"org_{word(rng, 3)}" if seats > 1 else None
        domain = word(rng, 2) + rng.choice([".dev", ".io", ".com"]) if seats > 1 else None
        for _ in range(seats):
            made += 1
            a = ctx.account(
                "developer",
                created_at=ctx.created_before(600),
                org_id=org,
                email_domain=domain or rng.choice(WEBMAIL + [word(rng) + ".dev"]),
                payment_fingerprint=team_card if seats > 1 else card(rng),
                country=country,
                plan="team" if seats > 1 else rng.choice(["pro", "api"]),
            )
            unattended = rng.random() < 0.12
            home = HomeLine(ctx, country, mobile_share=0.02)
            cloud = rng.choice(list(CLOUDS.values()))
            box = (cloud.address(rng), cloud.asn)
            if unattended:
                sess = sessions(
                    g,
                    start=ctx.start,
                    days=ctx.days,
                    offset_h=OFFSET[country],
                    hours=profile("flat"),
                    p_day=0.9,
                    weekend=1.0,
                    per_day=4,
                    length=30,
                    gap=9,
                )
                on_ci = rng.random() < 0.6

                def where(i, t0, cloud=cloud, box=box, home=home, on_ci=on_ci):
                    return (
                        (cloud.address(rng), cloud.asn)
                        if on_ci
                        else (box if rng.random() < 0.5 else home(i, t0))
                    )
            else:
                sess = sessions(
                    g,
                    start=ctx.start,
                    days=ctx.days,
                    offset_h=OFFSET[country],
                    hours=profile("builder"),
                    p_day=rng.uniform(0.35, 0.8),
                    weekend=0.4,
                    per_day=2,
                    length=rng.uniform(8, 25),
                    gap=8,
                )
                uses_box = rng.random() < 0.4

                def where(i, t0, box=box, home=home, uses_box=uses_box):
                    return box if uses_box and rng.random() < 0.5 else home(i, t0)

            versions = [coding_agent_ua(rng), coding_agent_ua(rng)]
            upgrade = ctx.start + rng.uniform(0, ctx.days) * DAY
            emit(
                ctx,
                a,
                sess,
                exit=where,
                client=lambda i, t0, v=versions, u=upgrade: v[int(t0 > u)],
                maker=ctx.traffic.maker(texts.CodingSession(rng)),
                model="kestrel-code-2",
                adopt=rng.choice([0.2, 1, 4, None, None]),
                share=0.9,
                tokens_in=(18000, 0.7),
                tokens_out=(900, 1.0),
                tool=0.85,
            )


def researchers(ctx: Ctx, n: int) -> None:
    """Labs and lone researchers running public benchmark suites for a few days: the same
    items (everyone runs the same suites), "think step by step", several samples each, in
    parallel from cloud or campus machines. A lab's seats share its card and organisation."""
    rng, g = ctx.rng, ctx.g
    made = 0
    while made < n:
        seats = min(n - made, rng.choice([1, 1, 2, 3]))
        lab = word(rng, 2)
        domain = rng.choice([f"{lab}.ai", f"cs.{lab}.edu", f"{lab}-lab.org"])
        lab_card, org = card(rng), f"org_{lab}"
        country = rng.choice(["US", "GB", "DE", "CA", "SG", "KR"])
        cluster = pool_from([rng.choice(list(CLOUDS.values()))], 8, rng, per24=8)
        for _ in range(seats):
            made += 1
            a = ctx.account(
                "researcher",
                created_at=ctx.created_before(300),
                org_id=org,
                email_domain=domain,
                payment_fingerprint=lab_card,
                country=country,
                plan="api",
            )
            runs = []
            for _ in range(rng.randint(1, 3)):
                first = rng.randrange(max(1, ctx.days - 4))
                span = rng.uniform(1.5, 4.5) * DAY
                rate = rng.uniform(0.1, 0.5)  # requests per second across workers
                count = int(min(span * rate, rng.randint(800, 3500)))
                begin = ctx.start + first * DAY + rng.uniform(8, 20) * 3600
                runs.append(np.sort(begin + g.random(count) * count / rate))
            model = rng.choice(["kestrel-4", "kestrel-4-think", "kestrel-4-mini"])
            client = sdk(rng)
            emit(
                ctx,
                a,
                runs,
                exit=lambda i, t0, c=cluster: c.pick(rng),
                client=client,
                maker=lambda i, t0: ctx.traffic.maker(texts.BenchmarkRun(rng)),
                model=model,
                adopt=0.5,
                share=0.5,
                tokens_in=(350, 0.6),
                tokens_out=(700, 0.6),
            )


def enterprises(ctx: Ctx, seats_total: int) -> None:
    """Companies with many seats behind one corporate egress (their own range, or a secure
    web gateway's exits that other companies share), one invoice card, office hours, and one
    or two service accounts running an internal tool on one template all day."""
    rng, g = ctx.rng, ctx.g
    gateway = pool_from([SECURE_GATEWAY], 40, rng, per24=10)
    left = seats_total
    while left > 0:
        seats = min(left, rng.randint(15, 90))
        left -= seats
        name = word(rng, 3)
        org, domain = f"org_{name}", f"{name}.{rng.choice(['com', 'co.uk', 'de', 'co.jp'])}"
        country = {"com": "US", "co.uk": "GB", "de": "DE", "co.jp": "JP"}[domain.split(".", 1)[1]]
        cards = [card(rng) for _ in range(rng.choice([1, 1, 2]))]
        if rng.random() < 0.4:
            egress = gateway
        else:
            a_, b_ = rng.randint(60, 220), rng.randrange(256)
            egress = ExitPool(
                [
                    (f"{a_}.{b_}.{rng.randrange(256)}.{k}", rng.randint(30000, 60000))
                    for k in rng.sample(range(2, 250), 3)
                ]
            )
        tech = rng.random() < 0.5
        service = max(1, seats // 40)
        for k in range(seats):
            is_service = k < service
            a = ctx.account(
                "enterprise",
                created_at=ctx.created_before(500),
                org_id=org,
                email_domain=domain,
                payment_fingerprint=rng.choice(cards),
                country=country,
                plan="enterprise",
            )
            if is_service:
                tool = texts.InternalTool(rng)
                cloud = rng.choice(list(CLOUDS.values()))
                hosts = ExitPool([(cloud.address(rng), cloud.asn) for _ in range(2)])
                sess = sessions(
                    g,
                    start=ctx.start,
                    days=ctx.days,
                    offset_h=OFFSET[country],
                    hours=profile("office"),
                    p_day=0.95,
                    weekend=0.3,
                    per_day=4,
                    length=40,
                    gap=12,
                )
                emit(
                    ctx,
                    a,
                    sess,
                    exit=lambda i, t0, h=hosts: h.pick(rng),
                    client=sdk(rng),
                    maker=ctx.traffic.maker(tool),
                    model="kestrel-4-mini",
                    tokens_in=(900, 0.5),
                    tokens_out=(150, 0.5),
                )
                continue
            coder = tech and rng.random() < 0.3
            sess = sessions(
                g,
                start=ctx.start,
                days=ctx.days,
                offset_h=OFFSET[country],
                hours=profile("office"),
                p_day=rng.uniform(0.2, 0.8),
                weekend=0.05,
                per_day=1.5,
                length=15 if coder else 4,
                gap=10 if coder else 150,
            )
            home = HomeLine(ctx, country)
            if coder:
                maker, client, model, tool_p = (
                    ctx.traffic.maker(texts.CodingSession(rng)),
                    coding_agent_ua(rng),
                    "kestrel-code-2",
                    0.85,
                )
            else:
                maker, client, model, tool_p = (
                    ctx.traffic.maker(texts.chat),
                    browser(rng),
                    "kestrel-4",
                    0.0,
                )
            emit(
                ctx,
                a,
                sess,
                exit=lambda i, t0, e=egress, h=home: (
                    e.pick(rng) if rng.random() < 0.85 else h(i, t0)
                ),
                client=client,
                maker=maker,
                model=model,
                tool=tool_p,
                tokens_out=(600, 0.8),
            )


def integrators(ctx: Ctx, n: int) -> None:
    """Small businesses whose product calls the API for each of their own users: one
    template, volume that follows their customers' day, from a couple of cloud addresses.
    Some keep separate accounts for production and staging on one card."""
    rng, g = ctx.rng, ctx.g
    made = 0
    while made < n:
        envs = min(n - made, rng.choice([1, 1, 1, 2, 3]))
        company = word(rng, 2)
        country = pick_country(rng)
        pay, org = card(rng), f"org_{company}" if envs > 1 else None
        feature = texts.ProductFeature(rng)
        cloud = rng.choice(list(CLOUDS.values()))
        for k in range(envs):
            made += 1
            a = ctx.account(
                "integrator",
                created_at=ctx.created_before(400),
                org_id=org,
                email_domain=f"{company}.{rng.choice(['com', 'app', 'io'])}",
                payment_fingerprint=pay,
                country=country,
                plan="api",
            )
            hosts = ExitPool([(cloud.address(rng), cloud.asn) for _ in range(rng.randint(1, 3))])
            busy = rng.uniform(1, 4) if k == 0 else 0.5
            sess = sessions(
                g,
                start=ctx.start,
                days=ctx.days,
                offset_h=OFFSET[country],
                hours=profile("evening"),
                p_day=0.97,
                weekend=1.0,
                per_day=busy,
                length=25,
                gap=30,
            )
            emit(
                ctx,
                a,
                sess,
                exit=lambda i, t0, h=hosts: h.pick(rng),
                client=sdk(rng),
                maker=ctx.traffic.maker(feature),
                model="kestrel-4-mini",
                adopt=7,
                tokens_in=(120, 0.4),
                tokens_out=(160, 0.5),
            )
