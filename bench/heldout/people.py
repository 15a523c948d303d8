"""Benign cohorts of individuals: chat users, students, VPN users, customers who reach us
through a commercial proxy network, and hobbyists running bots on cheap servers."""

from __future__ import annotations

import numpy as np

from bench.heldout import texts
from bench.heldout.context import Ctx
from bench.heldout.emit import HomeLine, emit
from bench.heldout.schedule import profile, sessions
from bench.heldout.world import (
    BUDGET_HOSTS,
    DISPOSABLE,
    LANGUAGE,
    OFFSET,
    VPN_PROVIDERS,
    WEBMAIL,
    ExitPool,
    browser,
    card,
    coding_agent_ua,
    phone_app,
    pick_country,
    pool_from,
    sdk,
    word,
)


def split(parts: list[np.ndarray], seconds: float) -> list[np.ndarray]:
    """Cut sessions where a rotating proxy would hand out a new exit (sticky sessions)."""
    out = []
    for sess in parts:
        slot = ((sess - sess[0]) // seconds).astype(int)
        out.extend(sess[slot == k] for k in np.unique(slot))
    return out


def personal_email(ctx: Ctx) -> str:
    roll = ctx.rng.random()
    if roll < 0.04:
        return ctx.rng.choice(DISPOSABLE)
    if roll < 0.15:
        return word(ctx.rng, 3) + ctx.rng.choice([".com", ".net", ".io", ".me", ".dev"])
    return ctx.rng.choice(WEBMAIL)


def chat_users(ctx: Ctx, n: int) -> None:
    """Ordinary people in a browser or the phone app. Some households share one card; some
    sign up during the window; a few free users add a card later (an upgrade)."""
    rng, g = ctx.rng, ctx.g
    household_card = None
    for _ in range(n):
        country = pick_country(rng)
        paying = rng.random() < 0.4
        if household_card and rng.random() < 0.5:
            fingerprint, household_card = household_card, None
        else:
            fingerprint = card(rng) if paying else None
            household_card = fingerprint if paying and rng.random() < 0.06 else household_card
        created = ctx.created_during() if rng.random() < 0.15 else ctx.created_before()
        a = ctx.account(
            "chat",
            created_at=created,
            email_domain=personal_email(ctx),
            payment_fingerprint=fingerprint,
            country=country,
            plan="pro" if fingerprint else "free",
        )
        if not fingerprint and rng.random() < 0.05:
            ctx.accounts[a].updates.append({"payment_fingerprint": card(rng), "plan": "pro"})
        heavy = rng.random() < 0.1
        first = max(0, int((created - ctx.start) // 86400))
        sess = sessions(
            g,
            start=ctx.start,
            days=ctx.days,
            offset_h=OFFSET[country],
            hours=profile("evening"),
            p_day=0.9 if heavy else rng.uniform(0.05, 0.6),
            per_day=2 if heavy else 1.2,
            length=12 if heavy else rng.uniform(2, 8),
            gap=rng.uniform(40, 200),
            first_day=first,
        )
        line = HomeLine(ctx, country, mobile_share=0.4 if rng.random() < 0.3 else 0.05)
        web, app = browser(rng), phone_app(rng)
        lang = LANGUAGE[country]
        maker = ctx.traffic.maker(lambda r, lang=lang: texts.chat(r, lang))
        emit(
            ctx,
            a,
            sess,
            exit=line,
            client=lambda i, t0, w=web, p=app: rng.choice([w, w, p]),
            maker=maker,
            model="kestrel-4-mini" if not fingerprint else "kestrel-4",
            adopt=rng.choice([None, None, 2, 6]),
            tokens_in=(250, 0.9),
            tokens_out=(450, 0.8),
        )


UNIVERSITIES = [
    (11537, "stateu.edu", (128, 210), "US"),
    (786, "northfield.ac.uk", (131, 227), "GB"),
    (680, "tu-weser.de", (141, 30), "DE"),
    (2152, "calcoast.edu", (130, 212), "US"),
    (7472, "lionport.edu.sg", (137, 132), "SG"),
    (7575, "southern.edu.au", (129, 94), "AU"),
]


def students(ctx: Ctx, n: int) -> None:
    """Students behind their campus's NAT: a few public addresses for everyone. Each course
    hands out the same problem sets, and classmates paste them in the evening before the
    weekly deadline."""
    rng, g = ctx.rng, ctx.g
    campuses = rng.sample(UNIVERSITIES, min(len(UNIVERSITIES), max(1, n // 40 + 1)))
    setup = []
    for asn, domain, (a, b), country in campuses:
        nat = ExitPool(
            [
                (f"{a}.{b}.{rng.randrange(256)}.{rng.randrange(2, 250)}", asn)
                for _ in range(rng.randint(2, 4))
            ]
        )
        courses = [
            (
                texts.Coursework(rng, f"{word(rng).upper()}{rng.randint(101, 399)}"),
                rng.randrange(7),
                rng.randint(17, 23),
            )
            for _ in range(rng.randint(2, 3))
        ]
        setup.append((domain, nat, courses, country))
    for _ in range(n):
        domain, nat, courses, country = rng.choice(setup)
        work, due_weekday, due_hour = rng.choice(courses)
        paying = rng.random() < 0.25
        a = ctx.account(
            "student",
            created_at=ctx.created_before(900),
            email_domain=domain,
            payment_fingerprint=card(rng) if paying else None,
            country=country,
            plan="pro" if paying else "free",
        )
        offset = OFFSET[country]
        sess = sessions(
            g,
            start=ctx.start,
            days=ctx.days,
            offset_h=offset,
            hours=profile("student"),
            p_day=rng.uniform(0.05, 0.35),
            length=4,
            gap=120,
        )
        for day in range(ctx.days):
            local = ctx.start + day * 86400 + offset * 3600
            if int(local // 86400 + 3) % 7 == due_weekday and rng.random() < 0.6:
                begin = ctx.start + day * 86400 + (due_hour - offset - rng.uniform(0.5, 6)) * 3600
                sess.append(begin + np.cumsum(g.lognormal(np.log(150), 0.7, rng.randint(2, 9))))
        home = HomeLine(ctx, country)
        chat_maker = ctx.traffic.maker(texts.chat)
        work_maker = ctx.traffic.maker(work)
        client = browser(rng)
        emit(
            ctx,
            a,
            sess,
            exit=lambda i, t0, nat=nat, home=home: (
                nat.pick(rng) if rng.random() < 0.7 else home(i, t0)
            ),
            client=client,
            maker=lambda i, t0, w=work_maker, c=chat_maker: w if rng.random() < 0.7 else c,
            model="kestrel-4-mini" if not paying else "kestrel-4-think",
            tokens_out=(600, 0.7),
        )


def vpn_users(ctx: Ctx, n: int, pool: ExitPool) -> None:
    """Privacy-minded people on a consumer VPN: a different shared exit each sitting."""
    rng = ctx.rng
    for _ in range(n):
        country = pick_country(rng)
        fingerprint = card(rng) if rng.random() < 0.5 else None
        a = ctx.account(
            "vpn",
            created_at=ctx.created_before(),
            email_domain=personal_email(ctx),
            payment_fingerprint=fingerprint,
            country=country,
            plan="pro" if fingerprint else "free",
        )
        sess = sessions(
            ctx.g,
            start=ctx.start,
            days=ctx.days,
            offset_h=OFFSET[country],
            hours=profile("evening"),
            p_day=rng.uniform(0.1, 0.7),
            length=5,
            gap=100,
        )
        home = HomeLine(ctx, country)
        maker = ctx.traffic.maker(texts.chat)
        emit(
            ctx,
            a,
            sess,
            exit=lambda i, t0, home=home: pool.pick(rng) if rng.random() < 0.85 else home(i, t0),
            client=browser(rng),
            maker=maker,
            model="kestrel-4",
            adopt=rng.choice([None, 3]),
        )


def vpn_pool(ctx: Ctx) -> ExitPool:
    return pool_from(VPN_PROVIDERS, 160, ctx.rng, per24=16)


def proxy_customers(ctx: Ctx, n: int, pool: ExitPool) -> None:
    """Customers who reach us through the same commercial rotating proxy network a fleet
    uses: people where the service is blocked, privacy tools, small scraping businesses.
    Every few minutes the network hands them another exit from the shared pool."""
    rng = ctx.rng
    for _ in range(n):
        country = rng.choice(["TR", "ID", "NG", "BR", "IN", "US", "MX", "PL"])
        kind = rng.choices(["chat", "agent", "automation"], weights=[6, 2.5, 1.5])[0]
        fingerprint = card(rng) if kind != "chat" or rng.random() < 0.4 else None
        a = ctx.account(
            "proxy-customer",
            created_at=ctx.created_before(400),
            email_domain=personal_email(ctx),
            payment_fingerprint=fingerprint,
            country=country,
            plan="pro" if fingerprint else "free",
        )
        offset = OFFSET[country]
        if kind == "chat":
            sess = sessions(
                ctx.g,
                start=ctx.start,
                days=ctx.days,
                offset_h=offset,
                hours=profile("evening"),
                p_day=rng.uniform(0.2, 0.8),
                length=6,
                gap=90,
            )
            maker, client, tool, model = (
                ctx.traffic.maker(texts.chat),
                browser(rng),
                0.0,
                "kestrel-4",
            )
        elif kind == "agent":
            sess = sessions(
                ctx.g,
                start=ctx.start,
                days=ctx.days,
                offset_h=offset,
                hours=profile("builder"),
                p_day=rng.uniform(0.3, 0.7),
                length=20,
                gap=10,
            )
            maker = ctx.traffic.maker(texts.CodingSession(rng))
            client, tool, model = coding_agent_ua(rng), 0.85, "kestrel-code-2"
        else:
            sess = sessions(
                ctx.g,
                start=ctx.start,
                days=ctx.days,
                offset_h=offset,
                hours=profile("flat"),
                p_day=0.9,
                per_day=4,
                length=15,
                gap=20,
            )
            maker, client, tool, model = (
                ctx.traffic.maker(texts.ProductFeature(rng)),
                sdk(rng),
                0.1,
                "kestrel-4-mini",
            )
        sticky = rng.choice([60, 300, 600])
        emit(
            ctx,
            a,
            split(sess, sticky),
            exit=lambda i, t0: pool.pick(rng),
            client=client,
            maker=maker,
            model=model,
            tool=tool,
            tokens_out=(700, 0.9),
        )


def hobby_bots(ctx: Ctx, n: int) -> None:
    """Chat bots for a club's Discord or a Telegram group, run from a rented cheap server:
    the same data-centre ranges fleets rent, relaying whatever members ask, day and night."""
    rng = ctx.rng
    for _ in range(n):
        host = rng.choice(BUDGET_HOSTS)
        server = (host.address(rng), host.asn)
        country = pick_country(rng)
        a = ctx.account(
            "hobby-bot",
            created_at=ctx.created_before(500),
            email_domain=personal_email(ctx),
            payment_fingerprint=card(rng),
            country=country,
            plan=rng.choice(["pro", "api"]),
        )
        sess = sessions(
            ctx.g,
            start=ctx.start,
            days=ctx.days,
            offset_h=OFFSET[country],
            hours=profile("evening"),
            p_day=0.85,
            per_day=5,
            length=4,
            gap=60,
        )
        emit(
            ctx,
            a,
            sess,
            exit=lambda i, t0, s=server: s,
            client=sdk(rng),
            maker=ctx.traffic.maker(texts.chat),
            model="kestrel-4-mini",
            adopt=1.0,
        )
