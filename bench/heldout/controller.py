"""The controller every fleet runs: accounts registered to a plan, work handed out in waves
during the operators' shifts, every account kept under a daily cap, traffic sent through the
fleet's network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.heldout.context import Ctx
from bench.heldout.emit import emit
from bench.heldout.schedule import DAY, HOUR
from bench.heldout.world import ExitPool


@dataclass
class Plan:
    """How one fleet behaves; ``build_fleet`` turns it into accounts and exchanges."""

    campaign: str
    kind: str  # the truth cohort: reasoning, coding, agentic, ...
    size: int
    maker: object
    model: str
    network: ExitPool
    sticky: float  # seconds an account keeps one exit before the network rotates it
    clients: list[str]
    daily: float  # target exchanges per account per active day (kept under a cap)
    burst: int  # exchanges per account per wave
    gap: float  # seconds between an account's exchanges inside a wave
    jitter: float  # how loosely accounts in one wave start (seconds)
    wave_gap: float  # mean seconds between waves during a shift
    shifts: list[tuple[float, float]]  # working hours (local), one list for the whole fleet
    offset_h: float  # operators' time zone
    first_day: float = 0
    last_day: float | None = None
    days_off: int = 1  # days off per week
    adopt: float | None = 0.4  # days after the release until the fleet moves to the new model
    tokens_out: tuple[float, float] = (2000, 0.5)
    tool: float = 0.0


def register(ctx: Ctx, plan: Plan, *, created, emails, cards, countries, plans) -> list[int]:
    rng = ctx.rng
    out = []
    for k in range(plan.size):
        a = ctx.account(
            plan.kind,
            created_at=created(k),
            campaign=plan.campaign,
            email_domain=emails(k),
            payment_fingerprint=cards(k),
            country=rng.choice(countries),
            plan=plans(k),
        )
        out.append(a)
    return out


def build_fleet(ctx: Ctx, plan: Plan, members: list[int]) -> None:
    rng, g = ctx.rng, ctx.g
    last = ctx.days if plan.last_day is None else min(ctx.days, plan.last_day)
    # Each account works one of the shifts; the controller fills each wave from that shift.
    shift_of = {a: k % len(plan.shifts) for k, a in enumerate(rng.sample(members, len(members)))}
    client_of = {a: rng.choice(plan.clients) for a in members}
    bursts: dict[int, list[np.ndarray]] = {a: [] for a in members}
    day_off = rng.randrange(7)
    cap = plan.daily * 1.4
    for day in range(int(plan.first_day), int(np.ceil(last))):
        day_start = ctx.start + day * DAY
        if plan.days_off and int((day_start + plan.offset_h * HOUR) // DAY + 3) % 7 == day_off:
            continue
        used = dict.fromkeys(members, 0)
        for s, (h0, h1) in enumerate(plan.shifts):
            crew = [a for a in members if shift_of[a] == s]
            if not crew:
                continue
            begin = day_start + (h0 - plan.offset_h) * HOUR
            length = ((h1 - h0) % 24 or 24) * HOUR
            waves = max(1, int(length / plan.wave_gap))
            per_wave = max(1, round(len(crew) * plan.daily / (waves * plan.burst)))
            for t in np.sort(begin + g.random(waves) * length):
                if t < ctx.start + plan.first_day * DAY or t >= ctx.start + last * DAY:
                    continue
                ready = [a for a in crew if used[a] + plan.burst <= cap]
                for a in rng.sample(ready, min(per_wave, len(ready))):
                    n = max(1, plan.burst + rng.randint(-1, 1))
                    gaps = g.lognormal(np.log(plan.gap), 0.35, n)
                    gaps[0] = g.random() * plan.jitter
                    bursts[a].append(t + np.cumsum(gaps))
                    used[a] += n
    maker = ctx.traffic.maker(plan.maker)
    for a in members:
        sticky: dict[int, tuple[str, int]] = {}

        def exit(i, t0, sticky=sticky):
            slot = int(t0 // plan.sticky)
            if slot not in sticky:
                sticky[slot] = plan.network.pick(rng)
            return sticky[slot]

        emit(
            ctx,
            a,
            bursts[a],
            exit=exit,
            client=client_of[a],
            maker=maker,
            model=plan.model,
            adopt=plan.adopt,
            share=0.95,
            tokens_in=(400, 0.5),
            tokens_out=plan.tokens_out,
            tool=plan.tool,
        )
