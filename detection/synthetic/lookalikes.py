"""Look-alikes that real traffic is full of: one popular agent's users, solo benchmark runners,
and ordinary customers of a commercial rotating-proxy network.

Each of these shares with a fleet what a naive detector links on: the agent's users send one
long harness prompt and tool schema with every request (thousands of unrelated payers on one
"template"), some unattended around the clock, with long outputs, from homes and cloud boxes;
researchers send the same public benchmark items with "think step by step" at volume from
cloud addresses for a few days; proxy customers leave through the same rotating exits a
"hydra" fleet uses (``campaigns.plan_hydra``). What none of them shows is co-action: many
accounts of the group working the same template from the same exits within the same minutes,
day after day.
"""

from __future__ import annotations

import functools
import random

import numpy as np

from detection.synthetic import pools, timing
from detection.synthetic import prompts_benign as pb
from detection.synthetic import prompts_harvest as ph
from detection.synthetic.base import AccountSpec, Behaviour, ModelPolicy, World
from detection.synthetic.cohorts import person
from detection.synthetic.timing import DAY, HOUR

# What the popular agent's harness sends before the user's turn, word for word every time.
HARNESS = (
    "You are Forge, an interactive command line coding agent. You help users with software "
    "engineering tasks in their repository. Use the tools below to read and edit files, run "
    "commands and search code. Always read a file before editing it. Prefer small, reviewable "
    "changes; never commit unless asked. When a command fails, read the error and try again. "
    "Keep answers short; the user sees your tool calls.\n"
    "Tools (JSON schema): read_file {path: string, offset?: int, limit?: int}; "
    "edit_file {path: string, old: string, new: string}; run_shell {command: string, "
    "timeout?: int}; grep {pattern: string, path?: string}; list_dir {path: string}; "
    "todo_write {items: [{text: string, done: bool}]}.\n"
    "Environment: working directory is the repository root; platform {platform}; "
    "model context window large.\n"
)
PLATFORMS = ["linux", "darwin", "win32"]


def agent_client(minor: int, patch: int, platform: str = "linux") -> str:
    """The agent's client string (user agent), as its customers and fleets that run it send it."""
    return f"forge-cli/2.{minor}.{patch} (node 22; {platform})"


TOOL_RESULTS = [
    "Observation: run_shell exited with code 1\n{e}",
    "Observation: read_file returned 212 lines of {f}",
    "Observation: grep found 14 matches in {f}",
    "Observation: edit_file applied 1 change to {f}",
    "Observation: run_shell exited with code 0; 48 passed, 2 skipped",
]


def harness_prompt(rng: random.Random, platform: str) -> str:
    """One request of the agent: its harness, then the user's turn or a tool result."""
    if rng.random() < 0.55:
        turn = rng.choice(TOOL_RESULTS).format(e=rng.choice(pb.ERRORS), f=rng.choice(pb.FILES))
    else:
        turn = "User: " + pb.developer_prompt(rng)
    return HARNESS.replace("{platform}", platform) + turn


def agent_job_prompt(rng: random.Random, platform: str) -> str:
    """A fleet's request through the same agent: the harness word for word, then a job from
    the operator's queue or a tool's result."""
    if rng.random() < 0.45:
        turn = rng.choice(ph.TOOL_RESULTS).format(
            tool=rng.choice(ph.TOOLS), mod=rng.choice(ph.FUNCS), n=rng.randint(2, 400)
        )
    else:
        turn = "User: " + ph.operator_job(rng)
    return HARNESS.replace("{platform}", platform) + turn


def plan_agent_users(w: World) -> list[AccountSpec]:
    """Unrelated paying customers of one popular coding agent; about a third leave it running."""
    rng = w.rng
    count = w.size(250, 450, minimum=8)
    unattended = [rng.random() < 0.3 for _ in range(count)]
    counts = w.split(
        w.volume(110_000, 160_000), count, sigma=0.8, mult=[3.0 if u else 1.0 for u in unattended]
    )
    version = rng.randint(1, 9)
    out = []
    for n, alone in zip(counts, unattended, strict=True):
        code, tz = pools.country(rng)
        box = pools.addresses(rng, pools.HOSTING, 1)
        ips = pools.home_networks(rng, code, w.carrier_nat) + box
        weights = [1.0] * (len(ips) - 1) + [6.0 if alone else 1.0]
        agent = agent_client(version, rng.randint(0, 4), rng.choice(PLATFORMS))
        spec = person(
            w,
            "agent_user",
            n,
            plan=rng.choice(["pro", "pro", "api", "team"]),
            tz=tz,
            ips=ips,
            ip_weights=weights,
            uas=[agent],
            prompt=functools.partial(harness_prompt, platform=rng.choice(PLATFORMS)),
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL[:6] + [pools.company_domain(rng)]),
            payment_fingerprint=w.card(),
        )
        b = spec.behaviour
        b.times = (
            functools.partial(timing.round_the_clock, tz_hours=tz, business_bump=0.3)
            if alone
            else functools.partial(_session_times, tz=tz, active=rng.uniform(0.4, 0.85))
        )
        b.tool_rate = rng.uniform(0.75, 0.97)
        b.context_tokens, b.output_tokens = (8.8, 0.6), (6.6, 0.6)
        if rng.random() < 0.3:  # early adopters
            b.models = ModelPolicy(
                b.models.base, w.release, rng.uniform(0.6, 0.95), rng.uniform(2, 20) * HOUR, HOUR
            )
        out.append(spec)
    return out


def _session_times(g, n, lo, hi, *, tz, active):
    return timing.human(
        g, n, lo, hi, tz, profile=timing.OFFICE, weekend=0.3, active_share=active,
        session_size=60.0, gap_seconds=40.0,
    )  # fmt: skip


# A public benchmark's items: every researcher who runs it sends the same questions.
_PUBLIC = random.Random("public-benchmark-items")
PUBLIC_ITEMS = [pb.benchmark_prompt(_PUBLIC, "", "").removesuffix("\n") for _ in range(500)]
RESEARCH_SUFFIXES = [
    "Let's think step by step.",
    "A: Let's think step by step.",
    "Think step by step, then give the final answer after '####'.",
    "Show your full reasoning before the final answer.",
]


def research_prompt(rng: random.Random, items: list[str], suffix: str) -> str:
    return f"{rng.choice(items)}\n{suffix}"


def plan_researchers(w: World) -> list[AccountSpec]:
    """Solo researchers running a public benchmark from a cloud box for a few days."""
    rng = w.rng
    count = w.size(25, 45, minimum=4)
    out = []
    for n in w.split(w.volume(50_000, 90_000), count, sigma=0.5):
        start = w.start + rng.randint(0, 23) * DAY
        runs = []
        for day in range(rng.randint(2, 5)):
            begin = start + day * DAY + rng.randint(0, 12) * HOUR
            runs.append((begin, begin + rng.randint(2, 8) * HOUR))
        windows = np.array(runs, dtype=np.int64)
        first = rng.randrange(0, 400)
        spec = AccountSpec(
            account_id=w.account_id(),
            created_at=w.registered_before(5, 400),
            cohort="researcher",
            campaign=None,
            n=n,
            lo=w.start,
            hi=w.end,
            behaviour=Behaviour(
                times=functools.partial(_runs, windows=windows),
                ips=pools.addresses(rng, pools.HOSTING, rng.randint(1, 2)),
                user_agents=[pools.user_agent(rng, pools.SDKS)],
                prompt=functools.partial(
                    research_prompt,
                    items=PUBLIC_ITEMS[first : first + 100],
                    suffix=rng.choice(RESEARCH_SUFFIXES),
                ),
                models=ModelPolicy({"model-large-3": 1.0}, w.release, 0.6, 3 * HOUR, HOUR)
                if rng.random() < 0.4
                else ModelPolicy({"model-large-3": 1.0}, w.release),
                context_tokens=(2.0, 0.5),
                output_tokens=(6.3, 0.4),
            ),
            email_domain=rng.choice(pools.UNIVERSITIES + pools.FREE_MAIL[:4]),
            payment_fingerprint=w.card(),
            country=rng.choice(["US", "GB", "DE", "CA", "FR", "KR"]),
            plan="api",
        )
        out.append(spec)
    return out


def _runs(g, n, lo, hi, *, windows):
    return timing.in_windows(g, n, windows, lo, hi)


def proxy_network(w: World) -> list[tuple[str, int]]:
    """A commercial rotating-proxy network's exits: residential and mobile addresses, a few of
    them ordinary customers' own homes (the proxy SDK runs on real devices), and a fifth of
    them datacenter addresses (the network's cheaper tier). Large beside any one renter's
    traffic, so two renters share only a small part of their exits. Made once."""
    if not w.proxy_exits:
        rng = random.Random(f"{w.seed}:proxy-network")
        # A network's size is the provider's, not the data set's: it does not shrink with
        # the scale, so at a small scale its exits are shared as sparsely as at a large one.
        size = rng.randint(2000, 3500)
        homes = rng.sample(w.homes, min(len(w.homes), size // 50))
        datacenter = pools.addresses(rng, pools.HOSTING, size // 5)
        w.proxy_exits = (
            homes
            + datacenter
            + pools.addresses(
                rng, pools.RESIDENTIAL + pools.MOBILE, size - len(homes) - len(datacenter)
            )
        )
    return w.proxy_exits


def plan_proxy_users(w: World) -> list[AccountSpec]:
    """Ordinary people who route everything through the same commercial rotating proxies."""
    rng = w.rng
    exits = proxy_network(w)
    out = []
    count = w.size(60, 120, minimum=6)
    for n in w.split(w.volume(9_000, 15_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        mine = rng.sample(exits, rng.randint(min(20, len(exits)), min(60, len(exits))))
        spec = person(
            w,
            "proxy_user",
            n,
            plan=rng.choice(["free", "pro", "pro"]),
            tz=tz,
            ips=mine,
            prompt=pb.developer_prompt if rng.random() < 0.25 else None,
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
        )
        spec.behaviour.sticky = rng.choice([0, 0, 600])
        spec.payment_fingerprint = w.card() if spec.plan == "pro" or rng.random() < 0.1 else ""
        out.append(spec)
    w.reseed("proxy-agent-users")
    return out + _proxy_agent_users(w, exits)


def _proxy_agent_users(w: World, exits: list[tuple[str, int]]) -> list[AccountSpec]:
    """Developers who run the popular coding agent through the same rotating proxies: the
    agent's harness word for word and its client string, an exit per request, in their own
    working hours, so their requests meet a fleet's on the same harness and exits within the
    same minutes now and then, never day after day as a fleet's members meet."""
    rng = w.rng
    count = w.size(15, 35, minimum=4)
    out = []
    for n in w.split(w.volume(8_000, 14_000), count, sigma=0.8):
        code, tz = pools.country(rng)
        agent = agent_client(rng.randint(1, 9), rng.randint(0, 4))
        spec = person(
            w,
            "proxy_user",
            n,
            plan=rng.choice(["pro", "pro", "api"]),
            tz=tz,
            ips=rng.sample(exits, rng.randint(min(20, len(exits)), min(60, len(exits)))),
            uas=[agent],
            prompt=functools.partial(harness_prompt, platform=rng.choice(PLATFORMS)),
            country=code,
            email_domain=rng.choice(pools.FREE_MAIL),
            payment_fingerprint=w.card(),
        )
        b = spec.behaviour
        b.times = functools.partial(_session_times, tz=tz, active=rng.uniform(0.3, 0.8))
        b.tool_rate = rng.uniform(0.75, 0.97)
        b.context_tokens, b.output_tokens = (8.8, 0.6), (6.6, 0.6)
        out.append(spec)
    return out


def plan_coworkers(w: World) -> list[AccountSpec]:
    """Freelance developers who share a coworking space, a few spaces of three to twelve.

    Each pays for an account of their own with a card of their own, but in office hours they
    all leave through the space's one or two addresses, in one time zone, and most run the
    popular coding agent (its harness word for word) at volume: strangers tied by an address
    and working one template in the same hours, which is what a small fleet on a proxy exit
    looks like to a detector that counts meetings against a day without hours.
    """
    rng = w.rng
    out = []
    for _ in range(w.size(5, 9, minimum=2)):
        code, tz = pools.country(rng)
        space = pools.egress_range(rng, pools.BUSINESS, rng.randint(1, 2))
        on_agent = rng.uniform(0.4, 1.0)
        members = rng.randint(3, 12)
        for n in w.split(w.volume(1_000, 5_000) * members, members, sigma=0.7):
            home = pools.home_networks(rng, code, w.carrier_nat)
            agent = rng.random() < on_agent
            platform = rng.choice(PLATFORMS)
            spec = person(
                w,
                "coworker",
                n,
                plan=rng.choice(["pro", "api", "team"]),
                tz=tz,
                ips=space + home,
                ip_weights=[4.0] * len(space) + [1.0] * len(home),
                uas=[
                    agent_client(rng.randint(1, 9), rng.randint(0, 4), platform)
                    if agent
                    else pools.user_agent(rng, pools.CODING_TOOLS)
                ],
                prompt=(
                    functools.partial(harness_prompt, platform=platform)
                    if agent
                    else pb.developer_prompt
                ),
                country=code,
                email_domain=rng.choice(pools.FREE_MAIL[:6] + [pools.company_domain(rng)]),
                payment_fingerprint=w.card(),
            )
            b = spec.behaviour
            b.times = functools.partial(
                timing.human,
                tz_hours=tz,
                profile=timing.OFFICE,
                weekend=0.15,
                active_share=rng.uniform(0.5, 0.9),
                session_size=40.0,
                gap_seconds=80.0,
            )
            b.tool_rate = rng.uniform(0.6, 0.95) if agent else rng.uniform(0.3, 0.8)
            b.context_tokens, b.output_tokens = (8.5, 0.7), (6.2, 0.7)
            out.append(spec)
    return out
