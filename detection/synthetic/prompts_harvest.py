"""Prompt pools of the planted campaigns, after published distillation cases.

Harvesting prompts have two parts: a *task* worth copying (a reasoning problem, a coding
exercise, an agentic episode) with its slots filled from a large space, and an *elicitation*
asking the model to write its working out in full. A campaign draws a subset of the
paraphrases and task templates at plan time (its "house style"), so the fleet shares wording
while each prompt is still new; the evasive fleet instead rewrites every prompt casually.
"""

from __future__ import annotations

import random

ELICITATIONS = [
    "Show your full reasoning before the final answer.",
    "Think step by step inside <thinking> tags, then give the answer.",
    "Explain every step of your working before answering.",
    "Write out your complete chain of thought, then state the result.",
    "Reason carefully and show all intermediate steps; do not skip any steps.",
    "Before giving your final answer, walk through your entire thought process.",
    "Put your detailed reasoning in <reasoning></reasoning> and the answer after it.",
    "Think aloud: list every consideration, then conclude.",
    "Give a rigorous derivation first, and only then the final answer.",
    "Spell out your thinking line by line, including dead ends you rule out.",
    "Use a <scratchpad> to work through the problem fully before responding.",
    "First explain the approach, then each step, then verify, then answer.",
    "Show your work in full detail as if teaching a student, then box the answer.",
    "Provide your complete internal rationale, not just the conclusion.",
    "Let's reason about this step-by-step and write down every step.",
    "Explain all of your reasoning, including why the alternatives fail.",
]
REASONING_TASKS = [
    "A tank fills at {a} litres per minute and drains at {b} litres per minute. Starting with "
    "{c} litres, when is it half full if its capacity is {d} litres?",
    "Prove that the sum of the first {a} odd numbers is a perfect square.",
    "How many {a}-digit numbers have digits that sum to {b}?",
    "Five people sit in a row. {n1} is not next to {n2}, and {n3} sits at an end. How many "
    "arrangements are possible?",
    "Compute the integral of x^{a} * e^(-{b}x) from 0 to infinity.",
    "A bag has {a} red and {b} blue balls. Two are drawn without replacement. What is the "
    "probability both are the same colour?",
    "Find all integer solutions of {a}x + {b}y = {c}.",
    "Is {p} prime? Determine its factorisation if not.",
    "A logic puzzle: knights always tell the truth, knaves always lie. {n1} says '{n2} is a "
    "knave'. {n2} says 'we are both knights'. Who is what?",
    "Derive the expected number of rolls of a {a}-sided die until every face has appeared.",
    "Olympiad problem: show that for positive reals x, y with x + y = {a}, xy <= {q}.",
    "An investor compounds {a}% monthly for {b} years on {c}00 dollars. What is the final value?",
]
PEOPLE = ["Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi"]


def fill(rng: random.Random, template: str) -> str:
    """Fill a task template's numeric and name slots."""
    n1, n2, n3 = rng.sample(PEOPLE, 3)
    a = rng.randint(2, 40)
    return template.format(
        a=a,
        b=rng.randint(2, 30),
        c=rng.randint(3, 90),
        d=rng.randint(100, 900),
        n1=n1,
        n2=n2,
        n3=n3,
        p=rng.randint(1000, 99999),
        q=a * a / 4,
    )


CODING_TASKS = [
    "Implement a {lang} function `{fn}` that {spec}. Include unit tests and handle edge cases.",
    "Write a {lang} class implementing {ds} with {op1} and {op2} in O(log n). Add docstrings.",
    "Refactor this {lang} snippet for readability and performance:\n```\n{code}\n```",
    "Given the {lang} code below, find the bug and explain the fix.\n```\n{code}\n```",
    "Solve this competitive programming problem in {lang}: {spec}. Constraints: n <= {n}.",
    "Write a SQL query that {sql} and explain the query plan.",
]
LANGS = ["Python", "TypeScript", "Rust", "Go", "Java", "C++", "Kotlin"]
FUNCS = [
    "merge_intervals",
    "lru_cache",
    "parse_duration",
    "topological_sort",
    "rate_limit",
    "diff_lines",
    "tokenize",
    "shortest_path",
    "group_anagrams",
    "validate_iban",
]
SPECS = [
    "returns the k most frequent elements",
    "detects a cycle in a directed graph",
    "merges overlapping intervals",
    "computes edit distance between two strings",
    "schedules tasks with cooldowns",
    "balances parentheses with minimal insertions",
    "finds the median of two sorted arrays",
    "counts islands in a grid",
]
STRUCTS = [
    "an interval tree",
    "a trie",
    "a skip list",
    "a min-heap",
    "a segment tree",
    "a union-find",
    "an LRU cache",
]
OPS = ["insert", "delete", "query", "update", "merge", "split", "rank"]
CODE = [
    "for i in range(len(xs)):\n    for j in range(len(xs)):\n"
    "        if xs[i] == xs[j] and i != j:\n            return True",
    "let mut v = vec![]; for x in it { v.push(x.clone()); } v.sort();",
    "function f(a) { return a.map(x => x*2).filter(x => x > {n}).reduce((s, x) => s + x) }",
    "if err != nil { log.Println(err) }\nreturn data[{n}]",
]
SQL = [
    "finds customers whose last {n} orders all shipped late",
    "computes a 7-day rolling average of revenue per region",
    "ranks products by return rate within each category",
]


def coding_task(rng: random.Random, templates: list[str]) -> str:
    n = rng.randint(10, 200000)
    return rng.choice(templates).format(
        lang=rng.choice(LANGS),
        fn=rng.choice(FUNCS),
        spec=rng.choice(SPECS),
        ds=rng.choice(STRUCTS),
        op1=rng.choice(OPS),
        op2=rng.choice(OPS),
        code=rng.choice(CODE).replace("{n}", str(n % 97)),
        n=n,
        sql=rng.choice(SQL).format(n=n % 9 + 2),
    )


TOOLS = [
    "web_search",
    "read_file",
    "write_file",
    "run_shell",
    "browser.click",
    "browser.navigate",
    "sql_query",
    "send_email",
    "calendar.create",
    "python_exec",
]
AGENT_TASKS = [
    "book the cheapest flight from {c1} to {c2} next {day} and add it to my calendar",
    "find the three most-cited papers on {topic} and write a summary file",
    "clone the repo, fix the failing CI job and open a pull request",
    "compare prices for {item} across five shops and produce a CSV",
    "navigate to the admin dashboard, export last month's orders and email them to finance",
    "set up a cron job that backs up the database nightly and verify it runs",
    "research competitors of a {topic} startup and draft a market map",
]
CITIES = ["Paris", "Tokyo", "Austin", "Nairobi", "Seoul", "Lima", "Oslo", "Dubai"]
THEMES = [
    "battery chemistry",
    "protein folding",
    "retrieval augmentation",
    "urban heat islands",
    "fraud detection",
    "speech recognition",
]


def agent_task(rng: random.Random, preamble: str) -> str:
    """An agentic episode: tool specs, a multi-step task, a demand for the full trajectory."""
    tools = ", ".join(rng.sample(TOOLS, rng.randint(3, 6)))
    task = rng.choice(AGENT_TASKS).format(
        c1=rng.choice(CITIES),
        c2=rng.choice(CITIES),
        day=rng.choice(["Monday", "Friday"]),
        topic=rng.choice(THEMES),
        item=rng.choice(["a 4K monitor", "running shoes", "a NAS"]),
    )
    return preamble.format(tools=tools, task=task)


AGENT_PREAMBLES = [
    "You are an autonomous agent. Tools available: [{tools}]. Task: {task}. Plan and execute "
    "step by step; after each tool call write Observation: and your reasoning.",
    "SYSTEM: tools = [{tools}] (JSON schema attached).\nUSER: {task}\nRespond with a full "
    "multi-step trajectory of Thought / Action / Observation until done.",
    "Act as a computer-use agent with {tools}. Goal: {task}. Narrate each action and why, "
    "including failed attempts and recovery.",
    "Use the tools ({tools}) to complete this multi-step task: {task}. Before every call, "
    "explain your reasoning in detail; at the end, list all subtasks you executed.",
]


def harvest_prompt(
    rng: random.Random, kind: str, elicitations: list[str], templates: list[str]
) -> str:
    """One harvesting prompt of a campaign's house style."""
    if kind == "coding":
        task = coding_task(rng, templates)
    elif kind == "agentic":
        return agent_task(rng, rng.choice(templates))
    else:
        task = fill(rng, rng.choice(templates))
    ask = rng.choice(elicitations)
    return f"{task}\n\n{ask}" if rng.random() < 0.8 else f"{ask}\n\n{task}"


CASUAL_OPENERS = [
    "hey so",
    "quick one:",
    "ok",
    "hi there,",
    "sorry to bother,",
    "hmm",
    "need a hand with this",
    "can u help",
    "so I was wondering",
    "yo",
    "homework help pls",
    "for my study group:",
]
CASUAL_ASKS = [
    "can you go through it step by step so I actually get it",
    "pls explain how you get there, not just the answer",
    "walk me through your thinking",
    "show me every step, my teacher wants the working",
    "talk through how you'd reason about it before answering",
    "break down your logic fully",
    "what's the full reasoning behind it?",
    "don't skip steps pls",
    "explain like you're thinking out loud",
    "give the answer but also the whole thought process",
]


def evasive_prompt(rng: random.Random) -> str:
    """The evasive fleet: the same harvest, reworded casually every time, typos and all."""
    kind = rng.random()
    if kind < 0.5:
        task = fill(rng, rng.choice(REASONING_TASKS))
    else:
        task = coding_task(rng, CODING_TASKS[:2] + CODING_TASKS[4:5])
    if rng.random() < 0.4:
        task = task[0].lower() + task[1:]
    text = f"{rng.choice(CASUAL_OPENERS)} {task} {rng.choice(CASUAL_ASKS)}"
    if rng.random() < 0.3:  # a dropped or doubled letter, as a hurried human types
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + (text[i] * 2 if rng.random() < 0.5 else "") + text[i + 1 :]
    return text


def house_prompt(r, *, style, mix):
    kind = r.choices([k for k, _ in mix], weights=[v for _, v in mix])[0]
    return harvest_prompt(r, kind, style["elicitations"], style[kind])


# A hydra fleet's own agent scaffold: one harness per operator (system prompt and tool schema
# sent with every request), then a task drawn from a large, varied job queue, or the next
# step of an episode (a tool's result). The harness is the operator's, not a popular
# product's: no customer sends it.
OPERATOR_HARNESSES = [
    "SYSTEM: You are worker agent {worker} of a task runner. Solve the assigned job end to "
    "end with the tools provided, calling one tool at a time. Think before every call and "
    "write the reasoning out in full; never skip the verification step. Tools: {tools}. "
    "Output format: Thought, Action (JSON), then wait for Observation.\n",
    "<system>Autonomous software agent. Available functions (JSON schema): {tools}. For each "
    "step emit a plan, the function call and a justification; after the final step summarise "
    "every action taken and why. Work in the sandbox at /workspace/job-{worker}.</system>\n",
    "### Agent runtime v{worker}\nYou operate a Linux sandbox and a browser. Functions: "
    "{tools}. Decompose the job into subtasks, execute them with the functions, narrate "
    "each decision in detail, recover from failures and report the full trajectory.\n",
]
JOB_OPENERS = ["Job:", "TASK:", "Assigned job:", "User request:", "Goal:", "Ticket:"]
REPOS = ["payments-api", "web-frontend", "ingest-worker", "ml-pipeline", "auth-service",
         "mobile-app", "data-warehouse", "cli-tools", "docs-site", "search-indexer"]  # fmt: skip
CHANGES = [
    "add retry with exponential backoff to the HTTP client",
    "replace the hand-written argument parser with a standard library one",
    "make the cache eviction thread-safe",
    "add pagination to the list endpoint",
    "port the date handling to timezone-aware datetimes",
    "remove the deprecated config loader and update its callers",
    "add structured logging to the request handlers",
    "speed up the slow integration test by mocking the network",
    "add input validation to the upload form",
    "introduce a feature flag around the new checkout flow",
]
SYMPTOMS = [
    "requests time out after the last deploy",
    "memory grows until the worker is killed",
    "the nightly export produces duplicate rows",
    "login fails for users with non-ASCII names",
    "the build is green locally but red in CI",
    "p99 latency doubled since Tuesday",
]
DATA_JOBS = [
    "collect the pricing tables of the ten largest {topic} vendors into a spreadsheet",
    "read the changelogs of the last five releases of {repo} and list breaking changes",
    "summarise the open issues labelled bug in {repo} and group them by component",
    "download the public {topic} dataset, clean it and plot the yearly trend",
    "write a scraper for job listings mentioning {topic} and save them as JSON lines",
    "find and fill the missing translations in the {repo} locale files",
]
JOB_TEMPLATES = [
    "In the repository {repo}, {change}. Run the test suite and fix anything that breaks.",
    "Investigate why {symptom} in {repo}; find the root cause, patch it and add a test.",
    "{data}. Keep a log of every source you used.",
    "Review the last pull request in {repo} and {change} where the reviewer asked for it.",
    "Set up CI for {repo}: lint, type-check and run tests on every push; then {change}.",
    "Users report that {symptom}. Reproduce it in {repo}, bisect the commit and revert it.",
]
TOOL_RESULTS = [
    "Observation: {tool} returned exit code 1: ModuleNotFoundError: No module named '{mod}'",
    "Observation: {tool} returned 3 results; the first is a stack trace in {mod}.py line {n}",
    "Observation: {tool} succeeded; {n} files changed, tests: {n} passed, 2 failed",
    "Observation: {tool} timed out after {n} seconds",
    "Observation: {tool} returned the page; the table has {n} rows",
]


def operator_job(rng: random.Random) -> str:
    """One job of the fleet's queue: a varied, multi-step task (no two alike)."""
    repo = rng.choice(REPOS)
    if rng.random() < 0.25:
        return agent_task(rng, "{task}") + "."
    if rng.random() < 0.2:
        return coding_task(rng, CODING_TASKS)
    return rng.choice(JOB_TEMPLATES).format(
        repo=repo,
        change=rng.choice(CHANGES),
        symptom=rng.choice(SYMPTOMS),
        data=rng.choice(DATA_JOBS).format(topic=rng.choice(THEMES), repo=repo).capitalize(),
    )


def operator_prompt(rng: random.Random, *, harness: str) -> str:
    """A request of a hydra fleet's agent: the operator's harness (with the worker's tools
    listed in the order the runtime happens to send them), then a new job or the next step
    of one (a tool's result to reason about)."""
    tools = ", ".join(rng.sample(TOOLS, rng.randint(4, 7)))
    head = harness.format(tools=tools, worker=rng.randint(1, 64))
    if rng.random() < 0.45:
        step = rng.choice(TOOL_RESULTS).format(
            tool=rng.choice(TOOLS), mod=rng.choice(FUNCS), n=rng.randint(2, 400)
        )
        return f"{head}{step}\nContinue with the next step of the job."
    return f"{head}{rng.choice(JOB_OPENERS)} {operator_job(rng)}"
