"""Hand-made cohorts for detection tests: one fleet and each legitimate look-alike.

Each builder returns (accounts, exchanges) as lists of dicts in the ingest contract's shape,
small enough to reason about by hand. ``to_frames`` gives the pure modules their frames;
``save`` writes rows for the services.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl

from detection.text import prompt_fingerprint

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 20
TOPICS = [
    "graphs",
    "queues",
    "matrices",
    "poems",
    "recipes",
    "taxes",
    "gardens",
    "history",
    "travel",
    "music",
    "football",
    "weather",
    "movies",
    "cars",
    "birds",
    "coffee",
]
VOCABULARY = [
    "how",
    "why",
    "what",
    "could",
    "should",
    "would",
    "please",
    "tell",
    "me",
    "about",
    "my",
    "the",
    "a",
    "an",
    "best",
    "way",
    "to",
    "make",
    "cook",
    "learn",
    "plan",
    "visit",
    "fix",
    "write",
    "improve",
    "explain",
    "compare",
    "choose",
    "buy",
    "sell",
    "grow",
    "paint",
    "clean",
    "build",
    "garden",
    "kitchen",
    "holiday",
    "budget",
    "letter",
    "essay",
    "poem",
    "song",
    "bike",
    "car",
    "dog",
    "cat",
    "friend",
    "family",
    "job",
    "interview",
    "meeting",
    "email",
    "party",
    "trip",
    "recipe",
    "bread",
    "soup",
    "cake",
    "plant",
    "window",
    "roof",
    "chair",
    "table",
]
COT = [
    "Solve this step by step and show your full reasoning before the final answer: {a} {t}",
    "Think carefully and explain your reasoning in <think> tags, then answer: {t} problem {a}",
    "Write a python function for {t} with unit tests; walk me through your reasoning: case {a}",
]

# The evasive fleet's casual rewording: a maths or coding task and an ask for the working in
# everyday words (written for these tests, not taken from the data generator).
OPENERS = ["hey", "quick q:", "ok so", "hi,", "need help:", "can u help"]
TASKS = [
    "how many ways can {a} people sit around a round table?",
    "is {a}1 a prime number?",
    "write a python function that merges {a} sorted lists",
    "what is the sum of the first {a} odd numbers?",
    "find x if {a}x + 3 = 2x - 7",
]
ASKS = [
    "break down your logic fully",
    "don't skip steps pls",
    "show me every step",
    "walk me through how you get there",
    "explain your thinking out loud",
    "what's the whole thought process?",
]


class Cohort:
    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.accounts: list[dict] = []
        self.exchanges: list[dict] = []
        self.labels: dict[str, str] = {}

    def account(self, cohort: str, **fields) -> str:
        account_id = f"{cohort}-{len(self.accounts):04d}"
        row = {
            "account_id": account_id,
            "created_at": START
            - timedelta(days=self.rng.randint(60, 400), minutes=self.rng.randint(0, 1439)),
            "email_domain": "gmail.com",
            "org_id": "",
            "payment_fingerprint": f"card-{account_id}",
            "country": "GB",
            "plan": "pro",
        }
        row.update(fields)
        self.accounts.append(row)
        self.labels[account_id] = cohort
        return account_id

    def exchange(self, account_id: str, ts: datetime, prompt: str, **fields) -> None:
        row = {
            "exchange_id": f"x{len(self.exchanges):07d}",
            "account_id": account_id,
            "ts": ts,
            "ip": "81." + ".".join(str(self.rng.randint(1, 250)) for _ in range(3)),
            "asn": 2856,
            "user_agent": "Mozilla/5.0 (Macintosh) Chrome/130",
            "model": "model-large-2",
            "prompt": prompt,
            "input_tokens": 120,
            "output_tokens": 350,
            "tool_use": False,
        }
        row.update(fields)
        self.exchanges.append(row)

    def human_times(self, n: int, tz_offset: int = 0) -> list[datetime]:
        """Office-hours timestamps spread over the window (a human daily rhythm)."""
        out = []
        for _ in range(n):
            day = self.rng.randint(0, DAYS - 1)
            hour = (self.rng.randint(9, 18) - tz_offset) % 24
            out.append(START + timedelta(days=day, hours=hour, minutes=self.rng.randint(0, 59)))
        return out

    def chat(self) -> str:
        """A person's question: free word order and vocabulary, nothing templated."""
        words = self.rng.sample(VOCABULARY, self.rng.randint(6, 14))
        return " ".join(words).capitalize() + "?"

    # ------------------------------------------------------------------------ cohorts

    def fleet(self, n: int = 12, per_account: int = 120, name: str = "fleet") -> list[str]:
        """Unrelated-looking accounts: free mail, a burst of registrations, shared proxies,
        a shared uncommon client, chain-of-thought templates, the same shifts."""
        # Each fleet has its own proxies and client; the first one's are fixed so tests can
        # grow "the same" fleet from another Cohort.
        first = not any(label.startswith("fleet") for label in self.labels.values())
        net = 14 if first else self.rng.randint(15, 250)
        proxies = [f"45.{net}.{i}.{i * 3 % 250 + 1}" for i in range(8)]
        client = "harvest-client/0.3.1" if first else f"client-{self.rng.randint(1, 10**6)}/1.0"
        born = START + timedelta(days=2 if first else self.rng.randint(0, DAYS - 1))
        ids = []
        shifts = [(self.rng.randint(0, DAYS - 1), self.rng.randint(0, 23)) for _ in range(24)]
        for k in range(n):
            acct = self.account(
                name,
                created_at=born + timedelta(minutes=3 * k),
                email_domain=self.rng.choice(["gmail.com", "outlook.com", "proton.me"]),
                plan="free",
            )
            ids.append(acct)
            for j in range(per_account):
                day, hour = shifts[j % len(shifts)]
                ts = START + timedelta(days=day, hours=hour, minutes=self.rng.randint(0, 50))
                template = COT[j % len(COT)]
                self.exchange(
                    acct,
                    ts,
                    template.format(a=self.rng.randint(1, 10**6), t=self.rng.choice(TOPICS)),
                    ip=self.rng.choice(proxies),
                    asn=9009,
                    user_agent=client,
                    output_tokens=1800,
                )
        return ids

    def organisation(self, n: int = 8) -> list[str]:
        """One company's many keys: one org, one card, one egress, one prompt template."""
        ids = []
        for _ in range(n):
            acct = self.account(
                "org",
                org_id="acme",
                email_domain="acme.example",
                payment_fingerprint="card-acme",
                plan="enterprise",
            )
            ids.append(acct)
            for ts in self.human_times(80):
                self.exchange(
                    acct,
                    ts,
                    f"Summarise support ticket {self.rng.randint(1, 10**6)} about "
                    f"{self.rng.choice(TOPICS)} step by step",
                    ip="203.0.113.10",
                    user_agent="acme-internal/2.1",
                    output_tokens=600,
                )
        return ids

    def campus(self, n: int = 60) -> list[str]:
        """Students behind one NAT address: shared IP, human rhythm, varied prompts."""
        ids = []
        for _ in range(n):
            acct = self.account("campus", email_domain="gmail.com", plan="free")
            ids.append(acct)
            for ts in self.human_times(25):
                self.exchange(acct, ts, self.chat(), ip="192.0.2.1", asn=786)
        return ids

    def benchmark_runner(self) -> str:
        """A researcher's benchmark suite: "let's think step by step", templated, all day."""
        acct = self.account("benchmark", org_id="uni-lab", email_domain="lab.example", plan="api")
        for j in range(900):
            ts = START + timedelta(minutes=30 * j)
            self.exchange(
                acct,
                ts,
                f"Question {j % 300}: solve step by step. Let's think step by step about "
                f"{TOPICS[j % 16]}.",
                ip="198.51.100.7",
                asn=16509,
                user_agent="lm-eval-harness/0.4",
                output_tokens=900,
            )
        return acct

    def coding_agent(self) -> str:
        """A developer's coding agent: tools all day and night, code prompts."""
        acct = self.account("agent", email_domain="devshop.example", plan="pro")
        for j in range(700):
            ts = START + timedelta(minutes=40 * j + self.rng.randint(0, 20))
            self.exchange(
                acct,
                ts,
                f"Refactor the python function in src/mod{j % 40}.py and fix the failing unit "
                "test; call the tool to run pytest",
                ip="198.51.100.20",
                asn=16509,
                user_agent="code-agent/1.9",
                tool_use=True,
                output_tokens=1200,
            )
        return acct

    def vpn_users(self, n: int = 10) -> list[str]:
        """Privacy-minded people on one VPN provider's exits."""
        ids = []
        exits = [f"185.220.1.{i}" for i in range(1, 4)]
        for _ in range(n):
            acct = self.account("vpn", email_domain="proton.me")
            ids.append(acct)
            for ts in self.human_times(30):
                self.exchange(acct, ts, self.chat(), ip=self.rng.choice(exits), asn=9009)
        return ids

    def small_team(self) -> list[str]:
        """Three friends sharing one card, no organisation declared."""
        ids = []
        for _ in range(3):
            acct = self.account("team", payment_fingerprint="card-team", email_domain="gmail.com")
            ids.append(acct)
            for ts in self.human_times(40):
                self.exchange(acct, ts, self.chat())
        return ids

    def ordinary(self, n: int = 40) -> list[str]:
        ids = []
        for _ in range(n):
            acct = self.account(
                "ordinary", email_domain=self.rng.choice(["gmail.com", "corp.example"])
            )
            ids.append(acct)
            for ts in self.human_times(self.rng.randint(10, 60)):
                self.exchange(acct, ts, self.chat())
        return ids

    def sparse_fleet(self, n: int = 40, per_account: int = 80, name: str = "sparse") -> list[str]:
        """An evasive fleet: each account on a few residential exits of a shared pool (so any
        two members rarely share one), human hours, casual rewordings of "show the working"
        on maths and coding tasks, its own card and a stock browser."""
        pool = [f"92.{self.rng.randint(1, 250)}.{i // 250}.{i % 250 + 1}" for i in range(2 * n)]
        ids = []
        for _ in range(n):
            acct = self.account(name, email_domain=self.rng.choice(["gmail.com", "outlook.com"]))
            ids.append(acct)
            mine = self.rng.sample(pool, self.rng.randint(3, 6))
            for ts in self.human_times(per_account, tz_offset=self.rng.randint(-3, 3)):
                task = self.rng.choice(TASKS).format(a=self.rng.randint(2, 99))
                self.exchange(
                    acct,
                    ts,
                    f"{self.rng.choice(OPENERS)} {task} {self.rng.choice(ASKS)}",
                    ip=self.rng.choice(mine),
                    asn=3320,
                    output_tokens=1400,
                )
        return ids

    def lab(self, keys: int = 3, ip: str = "198.51.100.50", name: str = "lab") -> list[str]:
        """A research lab's benchmark keys: one organisation, one card, its cloud egress, a
        public benchmark's fixed harness ("Let's think step by step") in a few long runs."""
        ids = []
        for _ in range(keys):
            acct = self.account(
                name,
                org_id=f"{name}-org",
                email_domain=f"{name}.example.edu",
                payment_fingerprint=f"card-{name}",
                plan="api",
            )
            ids.append(acct)
            for run in range(4):
                begin = START + timedelta(days=self.rng.randint(0, DAYS - 2), hours=run)
                for j in range(150):
                    self.exchange(
                        acct,
                        begin + timedelta(seconds=40 * j),
                        f"Q: Tom has {j % 50} {TOPICS[j % 16]}. He buys {j % 7} more. How many "
                        "does he have?\nA: Let's think step by step.",
                        ip=ip,
                        asn=16509,
                        user_agent="lm-eval-harness/0.4",
                        output_tokens=1500,
                    )
        return ids

    def developer(self, ip: str, name: str = "developer") -> str:
        """A heavy developer whose phone shares a carrier address with strangers."""
        acct = self.account(name, plan="pro")
        for k, ts in enumerate(self.human_times(300)):
            self.exchange(
                acct,
                ts,
                f"refactor the python function in src/app{k % 30}.py and fix the failing unit "
                "test; call the tool to run pytest",
                ip=ip if k % 3 == 0 else "81.2.69.160",
                user_agent="code-agent/1.9",
                tool_use=True,
                output_tokens=1600,
            )
        return acct

    def company_keys(self, n: int, ip: str, name: str = "company") -> list[str]:
        """One company's integration keys on its cloud egress; the first key's exits include
        ``ip`` (an address in a cloud range a fleet also rents)."""
        ids = []
        for k in range(n):
            acct = self.account(
                name,
                org_id=f"{name}-org",
                email_domain=f"{name}.example",
                payment_fingerprint=f"card-{name}",
                plan="enterprise",
            )
            ids.append(acct)
            for j in range(240):
                self.exchange(
                    acct,
                    START + timedelta(hours=2 * j, minutes=self.rng.randint(0, 59)),
                    f"Summarise support ticket {self.rng.randint(1, 10**6)} in three bullet points "
                    "and pick one category",
                    ip=ip if k == 0 and j % 2 else "203.0.113.77",
                    asn=16509,
                    user_agent=f"{name}-integration/2.0",
                    output_tokens=300,
                )
        return ids

    def enterprise_keys(self, n: int = 30, name: str = "bigco") -> list[str]:
        """A large company's many keys as they are rather than as its console says: half
        declare its organisation, the rest were made with the company's domain, an engineer's
        own mail or none; all pay with one of the company's two cards; one provisioning script
        made them seconds apart; staff run the company's internal assistant (one long prompt
        with its tool schema, then a task that differs every time) in office hours from the
        office's three and one cloud region's two addresses."""
        exits = [("198.18.7.10", 3356), ("198.18.7.11", 3356), ("198.18.7.12", 3356),
                 ("34.120.5.40", 15169), ("34.120.5.41", 15169)]  # fmt: skip
        harness = (
            f"You are {name} Copilot, the internal assistant of {name} engineering. Tools (JSON "
            "schema): jira_search {query: string}; run_sql {warehouse: string, query: string}; "
            "read_runbook {service: string}; open_pr {repo: string, diff: string}. Use a tool "
            "call when the answer needs live data.\nEmployee: "
        )
        provisioned = START - timedelta(days=90)
        ids = []
        for k in range(n):
            declared = k % 4 in (0, 1)
            mail = f"{name}.example" if declared or k % 3 == 0 else ("gmail.com", "")[k % 2]
            acct = self.account(
                name,
                org_id=f"{name}-org" if declared else "",
                email_domain=mail,
                payment_fingerprint=f"card-{name}-{k % 2}",
                plan="enterprise",
                created_at=provisioned + timedelta(seconds=20 * k),
            )
            ids.append(acct)
            for ts in self.human_times(100):
                ip, asn = self.rng.choice(exits)
                task = self.rng.choice(TASKS).format(a=self.rng.randint(2, 99))
                self.exchange(
                    acct,
                    ts,
                    f"{harness}{self.rng.choice(TOPICS)}: {task} ({self.rng.randint(1, 10**6)})",
                    ip=ip,
                    asn=asn,
                    user_agent=f"{name}-copilot/2.3",
                    tool_use=self.rng.random() < 0.7,
                    output_tokens=900,
                )
        return ids

    def carrier(self, n: int = 200) -> list[str]:
        """People on phones behind a mobile carrier's NAT: a pool of addresses each shared by a
        few strangers (the background of loose links every real population has)."""
        pool = [f"100.64.{i // 250}.{i % 250 + 1}" for i in range(max(1, n // 3))]
        ids = []
        for _ in range(n):
            acct = self.account("carrier", plan="free")
            ids.append(acct)
            mine = self.rng.sample(pool, min(2, len(pool)))
            for ts in self.human_times(self.rng.randint(10, 40)):
                self.exchange(acct, ts, self.chat(), ip=self.rng.choice(mine), asn=21928)
        return ids

    def harness_users(self, n: int = 30) -> list[str]:
        """Unrelated customers of one popular coding agent: every request carries its long
        harness prompt; each pays with its own card, from its own box, some around the clock."""
        harness = (
            "You are Anvil, a coding agent in the user's terminal. Tools: read_file(path), "
            "edit_file(path, old, new), run(command), grep(pattern). Read before you edit, keep "
            "changes small, never commit unless asked, report failures plainly. Task follows."
        )
        ids = []
        for k in range(n):
            acct = self.account("harness", email_domain=f"dev{k}.example", plan="pro")
            ids.append(acct)
            box = f"52.{k + 10}.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}"
            always_on = k % 3 == 0
            for j in range(240 if always_on else 80):
                ts = (
                    START + timedelta(minutes=120 * j + self.rng.randint(0, 119))
                    if always_on
                    else self.human_times(1)[0]
                )
                self.exchange(
                    acct,
                    ts,
                    f"{harness}\nUser: fix the failing test in src/mod{self.rng.randint(1, 60)}.py",
                    ip=box,
                    asn=16509,
                    user_agent="anvil-cli/3.2.0",
                    tool_use=True,
                    output_tokens=1500,
                )
        return ids

    def hydra(self, n: int = 12, customers: int = 12, name: str = "hydra") -> list[str]:
        """A fleet behind a commercial rotating-proxy network that ``customers`` ordinary
        people also use: own cards, stock clients, modest volume each; its orchestrator hands
        jobs to a random part of the fleet in waves, in its house style."""
        exits = [f"73.{40 + i // 200}.{i % 200}.{i % 97 + 1}" for i in range(60)]
        styles = [
            "You are an autonomous agent with tools [search, browse, run]. Complete the "
            "multi-step task {t} and write every Thought, Action and Observation in full.",
            "Act as a tool-using agent. Goal: {t}. Plan the subtasks, call the tools, and "
            "narrate each action with the full reasoning behind it.",
        ]
        waves = [
            START + timedelta(days=day, hours=8, minutes=25 * w)
            for day in range(DAYS)
            for w in range(30)
        ]
        ids = []
        for _ in range(n):
            acct = self.account(name, email_domain="gmail.com", plan="pro")
            ids.append(acct)
            for wave in self.rng.sample(waves, 90):
                for _ in range(2):
                    self.exchange(
                        acct,
                        wave + timedelta(seconds=self.rng.randint(0, 200)),
                        self.rng.choice(styles).format(t=self.rng.choice(TOPICS)),
                        ip=self.rng.choice(exits),
                        asn=7922,
                        user_agent="python-requests/2.32",
                        tool_use=True,
                    )
        for _ in range(customers):
            acct = self.account("proxy_customer", email_domain="gmail.com", plan="pro")
            ids.append(acct)
            for ts in self.human_times(60):
                self.exchange(acct, ts, self.chat(), ip=self.rng.choice(exits), asn=7922)
        return ids

    def proxy_fleet(
        self, n: int = 16, quiet: int = 4, customers: int = 12, name: str = "proxy_fleet"
    ) -> list[str]:
        """An agent fleet on a large rotating-proxy network that ``customers`` also use: an
        exit per request from 400, the operator's own harness before a varied job, episodes
        of three requests in the orchestrator's waves. ``quiet`` more accounts of the fleet
        (labelled ``<name>_quiet``) take only a few waves each: too few to meet any partner
        on three days, so they never co-act, but they leave through the same exits and work
        the same harness."""
        exits = [f"73.{60 + i // 200}.{i % 200}.{i % 89 + 2}" for i in range(400)]
        harness = (
            "SYSTEM: worker agent of a task runner. Solve the assigned job end to end with the "
            "tools provided, one call at a time; write the reasoning before every call in "
            "full and never skip verification. Tools: shell, browser, editor, search. "
        )
        jobs = ["fix the flaky test in", "add retries to the client of", "port the config of",
                "profile the slow endpoint of", "write a scraper for the docs of",
                "summarise the open bugs of", "upgrade the dependencies of"]  # fmt: skip
        repos = ["payments", "frontend", "ingest", "search", "auth", "billing", "mobile"]
        waves = [
            START + timedelta(days=day, hours=6, minutes=40 * w)
            for day in range(DAYS)
            for w in range(18)
        ]
        ids = []
        for k in range(n + quiet):
            label = name if k < n else f"{name}_quiet"
            acct = self.account(label, email_domain="gmail.com", plan="pro")
            ids.append(acct)
            for wave in self.rng.sample(waves, 40 if k < n else 8):
                for step in range(3):
                    repo = f"{self.rng.choice(repos)}-{self.rng.randint(1, 999)}"
                    job = f"{self.rng.choice(jobs)} {repo}"
                    self.exchange(
                        acct,
                        wave + timedelta(seconds=self.rng.randint(0, 120) + 40 * step),
                        f"{harness}Job: {job}",
                        ip=self.rng.choice(exits),
                        asn=7922,
                        user_agent="python-httpx/0.27.0",
                        tool_use=True,
                        output_tokens=1200,
                    )
        for _ in range(customers):
            acct = self.account("proxy_customer", email_domain="gmail.com", plan="pro")
            ids.append(acct)
            for ts in self.human_times(60):
                self.exchange(acct, ts, self.chat(), ip=self.rng.choice(exits), asn=7922)
        return ids

    def everyone(self) -> Cohort:
        self.fleet()
        self.organisation()
        self.campus()
        self.benchmark_runner()
        self.coding_agent()
        self.vpn_users()
        self.small_team()
        self.ordinary()
        return self

    # ------------------------------------------------------------------------ outputs

    def pks(self) -> dict[str, int]:
        return {a["account_id"]: i + 1 for i, a in enumerate(self.accounts)}

    def to_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(accounts, exchanges) frames as the services would load them (pk = position + 1)."""
        pks = self.pks()
        accounts = pl.DataFrame(
            [
                {
                    "account": pks[a["account_id"]],
                    **{
                        k: a[k]
                        for k in (
                            "account_id",
                            "plan",
                            "org_id",
                            "email_domain",
                            "payment_fingerprint",
                            "created_at",
                        )
                    },
                }
                for a in self.accounts
            ]
        )
        exchanges = pl.DataFrame(
            [
                {
                    "account": pks[e["account_id"]],
                    **{k: v for k, v in e.items() if k not in ("exchange_id", "account_id")},
                    "prompt_hash": prompt_fingerprint(e["prompt"]),
                }
                for e in self.exchanges
            ]
        )
        return accounts, exchanges

    def save(self) -> dict[str, int]:
        """Write the cohort to the database; returns account_id -> pk."""
        from detection.models import Account, Exchange

        created = Account.objects.bulk_create([Account(**a) for a in self.accounts])
        pks = {a.account_id: a.pk for a in created}
        Exchange.objects.bulk_create(
            [
                Exchange(
                    **{k: v for k, v in e.items() if k != "account_id"},
                    account_id=pks[e["account_id"]],
                    prompt_hash=prompt_fingerprint(e["prompt"]),
                )
                for e in self.exchanges
            ],
            batch_size=5000,
        )
        return pks
