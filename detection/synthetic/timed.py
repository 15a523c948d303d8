"""Fleets whose tell is *when* they start, and the customers who start alike.

- ``rush``: a fleet registered around a new model's release that sends most of its traffic to
  the new model from its first request. There is no "before" to pivot from: the accounts did
  not exist before the release. Each account harvests hard for a day and a half to three days
  and is then dropped (burned accounts are cheap), so nothing about it lasts long enough for
  day-over-day co-action. The accounts are spread over a large residential proxy pool and pay
  with their own virtual cards, so few exits or cards tie them.
- ``sleeper``: a fleet registered weeks or months apart (no registration burst), dormant, then
  woken within the same few hours to work the same harvest templates in loose synchrony, one
  orchestrator handing out jobs in waves. Bought or aged accounts, each on a few residential
  exits of its own. Its registration dates say nothing; its wake-up does.

And their look-alikes, which must stay unflagged:

- ``launch_user``: people who sign up the day a model ships because of the launch news and try
  it at once, mostly on the new model, some of them developers at volume;
- ``returning``: dormant customers brought back within the same hours by a re-engagement email
  (a crowd of first activity after months of silence), then using the product as people do.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic import prompts_harvest as ph
from detection.synthetic.base import AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.cohorts import person
from detection.synthetic.timing import DAY, HOUR, in_waves

# (accounts low, high; exchanges low, high) at scale 1.
RUSH_SIZE = (100, 220, 45_000, 80_000)
SLEEPER_SIZE = (50, 120, 30_000, 50_000)
PIVOT_SIZE = (60, 140, 40_000, 70_000)
QUIET_RUSH_SIZE = (80, 160, 30_000, 60_000)


def _waves(w: World, begin: int, first_hour: float, hours: float) -> np.ndarray:
    """An orchestrator's job waves: every 10-40 minutes of the working hours, every day."""
    rng = w.rng
    waves = []
    for day in range(int((w.end - begin) // DAY) + 1):
        t = (begin // DAY + day) * DAY + int(first_hour * HOUR)
        stop = t + int(hours * HOUR)
        while t < stop:
            if t >= begin:
                waves.append(t)
            t += rng.randint(10, 40) * 60
    return np.array(waves, dtype=np.int64)


def _sparse_pool(w: World, count: int) -> list[tuple[str, int]]:
    """A residential pool five to eight times the fleet, a tenth of it phones behind carrier
    NAT: each account draws a few sticky exits, so any two accounts rarely share one."""
    rng = w.rng
    size = rng.randint(5 * count, 8 * count)
    pool = pools.addresses(rng, pools.RESIDENTIAL + pools.MOBILE, size - size // 10)
    return pool + [rng.choice(w.carrier_nat) for _ in range(size // 10)]


def plan_rush(w: World, campaign_id: str, count: int, total: int):
    """A fleet that rushes a new model: most accounts registered in sittings of a few to a
    score from a day before the release to a day and a half after it, the rest bought or
    aged accounts with a trickle of old-model traffic that pivot on release day. Each starts
    within a day of the release, sends 60-95% of its traffic to the new model, in the house
    style of a capability harvest (coding, hard reasoning, tool use) and in orchestrated
    waves, and is dropped after one and a half to five days."""

    rng = w.rng
    pool = _sparse_pool(w, count)
    waves = _waves(w, w.release, rng.uniform(0, 24), rng.uniform(10, 18))
    style = {
        "elicitations": rng.sample(ph.ELICITATIONS, rng.randint(3, 6)),
        "coding": rng.sample(ph.CODING_TASKS, rng.randint(2, 4)),
        "reasoning": rng.sample(ph.REASONING_TASKS, rng.randint(2, 5)),
        "agentic": rng.sample(ph.AGENT_PREAMBLES, rng.randint(1, 2)),
    }
    mix = [("coding", 0.5), ("reasoning", 0.3), ("agentic", 0.2)]
    aged = round(count * rng.uniform(0.2, 0.4))
    created: list[int] = []
    while len(created) < count - aged:
        at = w.release + rng.randint(-24 * HOUR, 36 * HOUR)
        size = min(count - aged - len(created), rng.randint(3, 20))
        created += [at + rng.randint(0, rng.randint(10, 40) * 60) for _ in range(size)]
    created += [w.registered_before(5, 120) for _ in range(aged)]
    uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(3, 6))]
    out = []
    for i, n in enumerate(w.split(total, count, sigma=0.5)):
        code, _ = pools.country(rng)
        plan = rng.choice(["pro", "api", "api", "free"])
        old = i >= count - aged
        # Its rush starts with a wave: the first after it is registered (never before the
        # release), or for an aged account one of the release day's.
        ready = max(w.release, created[i] + rng.randint(10 * 60, 3 * HOUR))
        later = waves[waves >= ready]
        lo = int(later[0]) if len(later) and not old else ready
        if old:
            first_day = waves[waves < w.release + DAY]
            lo = int(rng.choice(first_day.tolist())) if len(first_day) else w.release
        hi = min(w.end, lo + rng.randint(36 * HOUR, 5 * DAY))
        rush = functools.partial(_waking, waves=waves)
        # An aged account's trickle before: a few old-model requests over the days before.
        before = max(1, round(n * rng.uniform(0.03, 0.1))) if old else 0
        behaviour = Behaviour(
            times=functools.partial(_rushing, start=lo, before=before, rush=rush) if old else rush,
            ips=rng.sample(pool, rng.randint(2, 5)),
            sticky=rng.choice([1800, 3600]),
            user_agents=[rng.choice(uas)],
            prompt=functools.partial(ph.house_prompt, style=style, mix=mix),
            models=ModelPolicy(
                {"model-large-3": 1.0}, w.release, rng.uniform(0.6, 0.95), lo - w.release, 1
            ),
            tool_rate=0.3,
            context_tokens=(5.5, 0.7),
            output_tokens=(6.7, 0.45),
        )
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=created[i],
                cohort="rush",
                campaign=campaign_id,
                n=n,
                lo=max(w.start, created[i] + HOUR, w.release - 10 * DAY) if old else lo,
                hi=hi,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL + pools.DISPOSABLE_MAIL),
                payment_fingerprint=w.card() if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "rush",
        "crews": None,
        "shift_hours": None,
        "proxy_pool": len(pool),
        "waves": len(waves),
        "aged_accounts": aged,
        "pivot_delay_hours": 0.0,
        "first_active": w.release,
    }


def _rushing(g, n, lo, hi, *, start, before, rush):
    """An aged account of a rush fleet: ``before`` requests scattered over the days before
    ``start`` (an account kept warm), then the rest in the fleet's waves from ``start``."""
    before = min(before, n - 1)
    early = g.integers(lo, max(start, lo + 1), max(before, 0))
    return np.sort(np.concatenate([early.astype(np.int64), rush(g, n - len(early), start, hi)]))


def plan_sleeper(w: World, campaign_id: str, count: int, total: int):
    """Accounts registered one by one over months, silent until one day's wake-up (all within
    three hours), then harvesting reasoning in the house style in orchestrated waves."""

    rng = w.rng
    pool = _sparse_pool(w, count)
    wake = w.start + rng.randint(8, 17) * DAY + rng.randint(0, 23) * HOUR
    waves = _waves(w, wake, (wake % DAY) / HOUR, rng.uniform(8, 16))
    style = {
        "elicitations": rng.sample(ph.ELICITATIONS, rng.randint(4, 7)),
        "reasoning": rng.sample(ph.REASONING_TASKS, rng.randint(3, 6)),
    }
    out = []
    for n in w.split(total, count, sigma=0.4):
        code, _ = pools.country(rng)
        plan = rng.choice(["pro", "pro", "free"])
        family = rng.choice([pools.SDKS, pools.BROWSERS])
        behaviour = Behaviour(
            times=functools.partial(_waking, waves=waves),
            ips=rng.sample(pool, rng.randint(1, 4)),
            sticky=rng.choice([1800, 3600]),
            user_agents=[pools.user_agent(rng, family)],
            prompt=functools.partial(ph.house_prompt, style=style, mix=[("reasoning", 1.0)]),
            models=ModelPolicy({"model-large-3": 1.0}, w.release, rng.uniform(0.0, 0.3), DAY, DAY),
            tool_rate=0.02,
            context_tokens=(4.5, 0.5),
            output_tokens=(6.8, 0.45),
        )
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=w.registered_before(10, 200),
                cohort="sleeper",
                campaign=campaign_id,
                n=n,
                lo=wake + rng.randint(0, 3 * HOUR),
                hi=w.end,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL),
                payment_fingerprint=w.card() if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "sleeper",
        "crews": None,
        "shift_hours": None,
        "proxy_pool": len(pool),
        "waves": len(waves),
        "pivot_delay_hours": None,
        "first_active": wake,
    }


def _waking(g, n, lo, hi, *, waves):
    """Woken at ``lo``: the first request in the first wave after it, the rest in waves."""

    later = waves[waves >= lo]
    if n <= 0 or not len(later):
        return in_waves(g, n, lo, hi, waves=waves)
    first = np.array([min(later[0] + int(g.integers(0, 240)), hi - 1)], dtype=np.int64)
    return np.sort(np.concatenate([first, in_waves(g, n - 1, lo, hi, waves=waves)]))


def plan_pivot(w: World, campaign_id: str, count: int, total: int):
    """A distillation fleet that already existed and pivots to a new model. Its accounts were
    bought or farmed one at a time over months and each has an ordinary-looking history in
    the window: a person's hours, everyday or developer questions, a home address and a
    browser or app, the old models. On the day of the release its operator moves them over
    one by one (each within a day of the release) to most of their traffic on the new model,
    harvested at volume until the window ends: a capability house style from one template
    library, of which each account works its own part, handed out in one orchestrator's
    waves, through two to four proxy providers (each account on one), paying with its own
    card or one of a few batches'."""

    rng = w.rng
    library = {
        "elicitations": rng.sample(ph.ELICITATIONS, rng.randint(6, 10)),
        "coding": rng.sample(ph.CODING_TASKS, rng.randint(3, 5)),
        "reasoning": rng.sample(ph.REASONING_TASKS, rng.randint(4, 6)),
        "agentic": rng.sample(ph.AGENT_PREAMBLES, rng.randint(2, 3)),
    }
    waves = _waves(w, w.release, rng.uniform(0, 24), rng.uniform(10, 20))
    reach = rng.choice([600, 1200, 1800])
    uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(2, 4))]
    providers = rng.randint(2, 4)
    provider_of = [rng.randrange(providers) for _ in range(count)]
    exits = []
    for p in range(providers):
        size = rng.randint(3, 6) * max(1, provider_of.count(p))
        datacenter = rng.random() < 0.3
        exits.append(
            pools.addresses(
                rng, pools.HOSTING if datacenter else pools.RESIDENTIAL + pools.MOBILE, size
            )
        )
    batches = [w.card() for _ in range(max(1, count // rng.randint(4, 8)))]
    out, pivots = [], []
    for i, n in enumerate(w.split(total, count, sigma=0.5)):
        pool = exits[provider_of[i]]
        code, tz = pools.country(rng)
        developer = rng.random() < 0.4
        pivot = w.release + int(rng.uniform(1, 24) * HOUR)
        pivots.append(pivot)
        style = {k: rng.sample(v, max(1, len(v) - rng.randint(0, 2))) for k, v in library.items()}
        mix = list(zip(("coding", "reasoning", "agentic"), _weights(rng), strict=True))
        usual = functools.partial(
            timing.human,
            tz_hours=tz,
            weekend=rng.uniform(0.4, 1.2),
            active_share=rng.uniform(0.2, 0.6),
            session_size=rng.uniform(2.0, 6.0),
            gap_seconds=rng.uniform(60, 300),
        )
        work = functools.partial(
            timing.in_episodes, waves=waves, steps=rng.uniform(2, 6), reach=reach
        )
        home = pools.home_networks(rng, code, w.carrier_nat)
        harvest = Behaviour(
            times=work,
            ips=rng.sample(pool, min(len(pool), rng.randint(3, 8)))
            + (home[:1] if rng.random() < 0.2 else []),
            sticky=rng.choice([600, 1800, 3600]),
            user_agents=[rng.choice(uas)],
            prompt=functools.partial(ph.house_prompt, style=style, mix=mix),
            models=ModelPolicy(
                {"model-large-3": 1.0}, w.release, rng.uniform(0.7, 0.95), pivot - w.release, 1
            ),
            tool_rate=0.3,
            context_tokens=(5.5, 0.7),
            output_tokens=(6.7, 0.45),
        )
        behaviour = Behaviour(
            times=functools.partial(
                _pivoting, at=pivot, before=rng.uniform(0.05, 0.15), usual=usual, work=work
            ),
            ips=home,
            user_agents=[
                pools.user_agent(rng, pools.CODING_TOOLS if developer else pools.BROWSERS)
            ],
            prompt=pb.developer_prompt
            if developer
            else functools.partial(pb.ordinary_prompt, topics=rng.sample(pb.TOPICS, 6)),
            models=ModelPolicy({"model-large-3": 0.6, "model-small-3": 0.4}, w.release),
            tool_rate=0.4 if developer else 0.01,
            then=(pivot, harvest),
        )
        plan = rng.choice(["pro", "pro", "api", "free"])
        card = rng.choice(batches) if rng.random() < 0.4 else w.card()
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=w.registered_before(30, 400),
                cohort="pivot",
                campaign=campaign_id,
                n=n,
                lo=w.start,
                hi=w.end,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL),
                payment_fingerprint=card if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "pivot",
        "crews": None,
        "shift_hours": None,
        "proxy_providers": providers,
        "proxy_pool": sum(len(e) for e in exits),
        "waves": len(waves),
        "pivot_delay_hours": round((min(pivots) - w.release) / HOUR, 2),
        "first_active": w.start,
    }


def plan_quiet_rush(w: World, campaign_id: str, count: int, total: int):
    """A rush fleet that shares nothing an infrastructure tie reads: accounts registered one
    at a time over the two weeks before a release (no sitting, no burst), each from its own
    residential proxy exits (a pool twenty times the fleet) and paying with its own card,
    driven by no common orchestrator (each account at its own hours, no waves). Half are
    kept warm before the release with a few ordinary questions on the old models; within a
    day of the release every account moves onto the new model (each at its own hour) and
    harvests there, 70-95% of its traffic on it, in the house style of one template library
    (reasoning with elicitation, some coding and tool use) of which each account works its
    own part, until it is dropped two to eight days later. What shows is collective: young
    accounts moving onto the new model within a day of its release and then sending the same
    uncommon templates."""

    rng = w.rng
    size = 20 * count
    pool = pools.addresses(rng, pools.RESIDENTIAL + pools.MOBILE, size)
    library = {
        "elicitations": rng.sample(ph.ELICITATIONS, rng.randint(5, 9)),
        "reasoning": rng.sample(ph.REASONING_TASKS, rng.randint(4, 6)),
        "coding": rng.sample(ph.CODING_TASKS, rng.randint(2, 4)),
        "agentic": rng.sample(ph.AGENT_PREAMBLES, rng.randint(1, 2)),
    }
    mix = [("reasoning", 0.6), ("coding", 0.25), ("agentic", 0.15)]
    out, moves = [], []
    for n in w.split(total, count, sigma=0.6):
        code, tz = pools.country(rng)
        created = w.release - rng.randint(3 * DAY, 16 * DAY)
        move = w.release + int(rng.uniform(0.5, 24) * HOUR)
        moves.append(move)
        style = {k: rng.sample(v, max(1, len(v) - rng.randint(0, 2))) for k, v in library.items()}
        if rng.random() < 0.5:
            work = functools.partial(
                timing.human, tz_hours=tz, active_share=rng.uniform(0.6, 1.0),
                session_size=rng.uniform(8, 30), gap_seconds=rng.uniform(30, 120),
            )  # fmt: skip
        else:
            work = functools.partial(
                timing.round_the_clock, tz_hours=tz, business_bump=rng.uniform(0, 1)
            )
        harvest = Behaviour(
            times=work,
            ips=rng.sample(pool, rng.randint(1, 3)),
            sticky=rng.choice([1800, 3600, 4 * 3600]),
            user_agents=[pools.user_agent(rng, rng.choice([pools.SDKS, pools.BROWSERS]))],
            prompt=functools.partial(ph.house_prompt, style=style, mix=mix),
            models=ModelPolicy(
                {"model-large-3": 1.0}, w.release, rng.uniform(0.7, 0.95), move - w.release, 1
            ),
            tool_rate=0.15,
            context_tokens=(5.0, 0.7),
            output_tokens=(6.7, 0.45),
        )
        hi = min(w.end, move + rng.randint(2 * DAY, 8 * DAY))
        warm = rng.random() < 0.5
        lo = created + rng.randint(HOUR, DAY) if warm else move
        usual = functools.partial(timing.human, tz_hours=tz, active_share=0.5)
        # Its first jobs on the new model within minutes of its move, the rest at its hours.
        moving = functools.partial(
            _pivoting, at=move, before=rng.uniform(0.03, 0.12) if warm else 0.0, usual=usual,
            work=work,
        )  # fmt: skip
        behaviour = dataclasses.replace(harvest, times=moving)
        if warm:
            behaviour = Behaviour(
                times=moving,
                ips=harvest.ips,
                user_agents=harvest.user_agents,
                sticky=harvest.sticky,
                prompt=functools.partial(pb.ordinary_prompt, topics=rng.sample(pb.TOPICS, 6)),
                models=ModelPolicy({"model-large-3": 0.6, "model-small-3": 0.4}, w.release),
                then=(move, harvest),
            )
        plan = rng.choice(["pro", "pro", "api", "free"])
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=created,
                cohort="quiet_rush",
                campaign=campaign_id,
                n=n,
                lo=lo,
                hi=hi,
                behaviour=behaviour,
                email_domain=rng.choice(pools.FREE_MAIL),
                payment_fingerprint=w.card() if plan != "free" else "",
                country=code,
                plan=plan,
            )
        )
    return out, {
        "kind": "quiet_rush",
        "crews": None,
        "shift_hours": None,
        "proxy_pool": size,
        "waves": 0,
        "pivot_delay_hours": round((min(moves) - w.release) / HOUR, 2),
        "first_active": w.release,
    }


def _weights(rng) -> list[float]:
    raw = [rng.uniform(0.2, 1.0) for _ in range(3)]
    return [r / sum(raw) for r in raw]


def _pivoting(g, n, lo, hi, *, at, before, usual, work):
    """An aged account taken over: ``before`` of its requests as a person sends them before
    ``at``, then a first job within minutes of ``at`` and the rest in its fleet's waves."""
    early = usual(g, round(n * before), lo, min(at, hi)) if at > lo else np.empty(0, np.int64)
    rest = n - len(early)
    first = np.minimum(at + g.integers(60, 900, min(rest, 5)), hi - 1)
    later = work(g, rest - len(first), at, hi)
    return np.sort(np.concatenate([early.astype(np.int64), first, later]))


def plan_launch_users(w: World) -> list[AccountSpec]:
    """People who sign up because of a launch and try the new model at once: registrations
    crowd the day and a half after the release (a crowd of strangers, not a script's minutes),
    most traffic goes to the new model; a third are developers trying it on code at volume."""
    rng = w.rng
    count = w.size(40, 90, minimum=6)
    out = []
    for n in w.split(w.volume(8_000, 14_000), count, sigma=0.9):
        code, tz = pools.country(rng)
        developer = rng.random() < 0.35
        spec = person(
            w,
            "launch_user",
            n * (3 if developer else 1),
            plan=rng.choice(["api", "pro"] if developer else ["free", "free", "pro"]),
            tz=tz,
            ips=pools.home_networks(rng, code, w.carrier_nat),
            uas=[pools.user_agent(rng, pools.SDKS + pools.CODING_TOOLS)] if developer else None,
            prompt=pb.developer_prompt if developer else None,
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
        )
        spec.created_at = w.release + rng.randint(0, 36 * HOUR)
        spec.lo = spec.created_at + rng.randint(60, 2 * HOUR)
        spec.payment_fingerprint = w.card() if spec.plan != "free" else ""
        spec.behaviour.models = ModelPolicy(
            {"model-large-3": 1.0}, w.release, rng.uniform(0.5, 0.95), 0, 1
        )
        out.append(spec)
    return out


def plan_returning(w: World) -> list[AccountSpec]:
    """Dormant customers brought back by one re-engagement email: registered months ago, their
    first request in the window within hours of the email, then ordinary human use."""
    rng = w.rng
    count = w.size(40, 90, minimum=6)
    email = w.start + rng.randint(6, 18) * DAY + rng.randint(13, 17) * HOUR
    out = []
    for n in w.split(w.volume(4_000, 8_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        spec = person(
            w,
            "returning",
            n,
            plan=rng.choice(["free", "free", "pro"]),
            tz=tz,
            ips=pools.home_networks(rng, code, w.carrier_nat),
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
        )
        spec.created_at = w.registered_before(60, 500)
        spec.lo = email + int(rng.expovariate(1 / (3 * HOUR)))
        spec.payment_fingerprint = w.card() if spec.plan != "free" else ""
        out.append(spec)
    return out


def plan_early_adopters(w: World) -> list[AccountSpec]:
    """Existing customers who move to a new model within hours of its release: developers
    and heavy users who read the announcement, switch their client or coding agent over at
    once and use the new model hard for a few days (a rush of their own, and a pivot within
    a day), each from their own home and cloud addresses, asking their own questions."""
    rng = w.rng
    count = w.size(40, 80, minimum=6)
    out = []
    for n in w.split(w.volume(20_000, 35_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        developer = rng.random() < 0.6
        ips = pools.home_networks(rng, code, w.carrier_nat)
        if developer and rng.random() < 0.5:
            ips += pools.addresses(rng, pools.HOSTING, 1)
        spec = person(
            w,
            "early_adopter",
            n,
            plan=rng.choice(["api", "pro", "team"] if developer else ["pro", "pro", "free"]),
            tz=tz,
            ips=ips,
            uas=[pools.user_agent(rng, pools.SDKS + pools.CODING_TOOLS)] if developer else None,
            prompt=pb.developer_prompt if developer else None,
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
        )
        spec.payment_fingerprint = w.card() if spec.plan != "free" else ""
        switch = w.release + rng.randint(HOUR, 20 * HOUR)
        spec.behaviour.models = ModelPolicy(
            {"model-large-3": 1.0}, w.release, rng.uniform(0.6, 0.95), switch - w.release, HOUR
        )
        # The launch days are busier: a share of the traffic in the three days after the switch.
        spec.behaviour.times = functools.partial(
            _launch_burst, usual=spec.behaviour.times, at=switch, share=rng.uniform(0.2, 0.5)
        )
        if developer:
            spec.behaviour.tool_rate = rng.uniform(0.3, 0.8)
        out.append(spec)
    return out


def _launch_burst(g, n, lo, hi, *, usual, at, share):
    """The account's usual rhythm, with ``share`` of its requests in the three days after
    ``at`` (sessions of its usual shape)."""
    extra = round(n * share) if at < hi else 0
    burst = usual(g, extra, max(lo, at), min(hi, at + 3 * DAY)) if extra else np.empty(0)
    return np.sort(np.concatenate([usual(g, n - extra, lo, hi), burst.astype(np.int64)]))
