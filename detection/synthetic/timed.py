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

import functools

import numpy as np

from detection.synthetic import pools
from detection.synthetic import prompts_benign as pb
from detection.synthetic import prompts_harvest as ph
from detection.synthetic.base import AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.cohorts import person
from detection.synthetic.timing import DAY, HOUR, in_waves

# (accounts low, high; exchanges low, high) at scale 1.
RUSH_SIZE = (60, 140, 35_000, 60_000)
SLEEPER_SIZE = (50, 120, 30_000, 50_000)


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
    """Accounts registered in bursts from half a day before a release to a day after it, each
    sending 80-95% of its traffic to the new model from its first request, in the house style
    of a capability harvest (coding, hard reasoning, tool use), in orchestrated waves."""

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
    created: list[int] = []
    while len(created) < count:
        at = w.release + rng.randint(-12 * HOUR, 30 * HOUR)
        size = min(count - len(created), rng.randint(6, 30))
        created += [at + rng.randint(0, rng.randint(10, 40) * 60) for _ in range(size)]
    uas = [pools.user_agent(rng, pools.SDKS) for _ in range(rng.randint(3, 6))]
    out = []
    for i, n in enumerate(w.split(total, count, sigma=0.4)):
        code, _ = pools.country(rng)
        plan = rng.choice(["pro", "api", "api", "free"])
        behaviour = Behaviour(
            times=functools.partial(in_waves, waves=waves),
            ips=rng.sample(pool, rng.randint(2, 5)),
            sticky=rng.choice([1800, 3600]),
            user_agents=[rng.choice(uas)],
            prompt=functools.partial(ph.house_prompt, style=style, mix=mix),
            models=ModelPolicy({"model-large-3": 1.0}, w.release, rng.uniform(0.8, 0.95), 0, 1),
            tool_rate=0.3,
            context_tokens=(5.5, 0.7),
            output_tokens=(6.7, 0.45),
        )
        lo = max(w.release, created[i] + rng.randint(10 * 60, 2 * HOUR))
        out.append(
            AccountSpec(
                account_id=w.account_id(),
                created_at=created[i],
                cohort="rush",
                campaign=campaign_id,
                n=n,
                lo=lo,
                hi=min(w.end, lo + rng.randint(36 * HOUR, 72 * HOUR)),
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
        "pivot_delay_hours": 0.0,
        "first_active": w.release,
    }


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
