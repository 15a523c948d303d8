"""What the fleets send: templated harvesting prompts, paraphrased so no two accounts need
send the same string, over task spaces large enough that a prompt rarely repeats."""

from __future__ import annotations

import random

from bench.heldout.texts import HARNESS, LANGS, cut

# Chain-of-thought elicitation, in many wordings (fleets rotate them to dodge exact matching).
REASONING_WRAPPERS = [
    "Work through the problem below one step at a time. Write down every intermediate result "
    "and justify each step before you state the final answer.\n\n{p}",
    "{p}\n\nBefore answering, reason it out carefully and completely; show all your working, "
    "then put the final answer on its own line.",
    "Please solve this, narrating your full thought process from first principles. Do not "
    "skip any steps, even obvious ones.\nProblem: {p}",
    "I want to understand the reasoning, not just the result. {p} Explain each deduction in "
    "order and check your work at the end.",
    "Task: {p}\nFormat: detailed reasoning chain (numbered), then 'Final answer:'.",
    "{p} Show your chain of reasoning explicitly, including any dead ends you rule out.",
    "Solve step by step with rigorous justification for every transition:\n{p}",
    "Think aloud as you solve the following. Be exhaustive about the intermediate steps.\n{p}",
    "Question: {p}\nAnswer: Let's think step by step.",
    "{p}\nLet's work this out in a step by step way to be sure we have the right answer.",
]
PROBLEM_KINDS = [
    "A bag holds {a} red and {b} blue beads. Two are drawn without replacement. What is the "
    "probability that they differ in colour?",
    "Find all integers n between 1 and {c} such that n^2 + {a} is divisible by {b}.",
    "A train leaves at {h}:00 travelling {c} km/h; another leaves {b} hours later at {d} km/h "
    "on the same track. When does the second catch up?",
    "Prove or refute: for every prime p > {b}, p^2 - 1 is divisible by {a}.",
    "A firm's cost is C(q) = {a}q^2 + {b}q + {c}. Price is {d}. Find the profit-maximising "
    "output and the profit.",
    "Five people sit in a row; {name} is not at either end and is not next to the person who "
    "owns the {thing}. Given the clues {a}, {b} and {c}, who sits in the middle?",
    "A rectangle has perimeter {c} and its diagonal is {d}. Find its area.",
    "How many {b}-digit numbers have digits that sum to {a}?",
    "A ball is thrown upward at {a} m/s from a {b} m cliff. When does it hit the ground?",
    "Evaluate the limit as x approaches 0 of (sin({a}x) - {a}x) / x^{b}.",
]


def reasoning_problem(rng: random.Random) -> str:
    return rng.choice(PROBLEM_KINDS).format(
        a=rng.randint(2, 40),
        b=rng.randint(2, 9),
        h=rng.randint(5, 22),
        c=rng.randint(50, 900),
        d=rng.randint(20, 200),
        name=rng.choice(["Ines", "Kofi", "Mara", "Yuto", "Sven"]),
        thing=rng.choice(["kayak", "violin", "parrot", "telescope"]),
    )


class ReasoningHarvest:
    """One operator's prompt generator: a subset of the wordings, cycled over fresh problems."""

    def __init__(self, rng: random.Random, mimic_benchmarks: bool):
        pool = REASONING_WRAPPERS if mimic_benchmarks else REASONING_WRAPPERS[:8]
        self.wrappers = rng.sample(pool, rng.randint(4, len(pool)))

    def __call__(self, rng: random.Random) -> str:
        return cut(rng.choice(self.wrappers).format(p=reasoning_problem(rng)))


CODE_WRAPPERS = [
    "Write a complete, production-quality {lang} implementation of {task}. Include docstrings, "
    "type annotations, input validation, unit tests, and explain the design and its "
    "time and space complexity.",
    "Implement {task} in {lang}. Give the full code (no placeholders), a test suite, and a "
    "section explaining every design decision.",
    "As a senior engineer, produce {task} in idiomatic {lang}, then walk through the code "
    "line by line and list the edge cases it handles.",
    "I need {task} written in {lang}. Provide: 1) the code, 2) tests, 3) a complexity "
    "analysis, 4) alternative approaches and why you rejected them.",
    "Generate {lang} source for {task}. Be thorough: error handling, comments, examples of "
    "use, and a benchmark harness.",
    "Create {task} ({lang}). Output the entire module and then an explanation suitable for a "
    "code review.",
]
ALGOS = [
    "an LRU cache",
    "a B-tree",
    "a rate limiter",
    "Dijkstra's algorithm",
    "a trie",
    "a JSON parser",
    "an interval tree",
    "a consistent-hashing ring",
    "a regex engine",
    "a bloom filter",
    "a skip list",
    "a Raft log",
    "a ring buffer",
    "an A* planner",
    "a topological sort",
    "a min-cost flow solver",
    "an HTTP router",
    "a tokenizer",
]
CONTEXTS = [
    "for a multi-tenant SaaS",
    "that is thread-safe",
    "with persistence to disk",
    "optimised for memory",
    "with a streaming API",
    "for embedded devices",
    "supporting generics",
    "with metrics and tracing",
]


class CodeHarvest:
    def __init__(self, rng: random.Random, wrap_in_harness: bool):
        self.wrappers = rng.sample(CODE_WRAPPERS, rng.randint(3, len(CODE_WRAPPERS)))
        self.harness = wrap_in_harness

    def __call__(self, rng: random.Random) -> str:
        text = rng.choice(self.wrappers).format(
            lang=rng.choice(LANGS), task=f"{rng.choice(ALGOS)} {rng.choice(CONTEXTS)}"
        )
        if self.harness:  # dressed as the popular coding agent, to blend in with its users
            head = HARNESS.replace("{os}", "linux 6.8.0").replace("{cwd}", "/workspace/app")
            head = head.replace("{date}", f"2026-11-{rng.randint(1, 28):02d}")
            text = head + "<user>" + text + "</user>"
        return cut(text)


SCAFFOLD = (
    "SYSTEM: You are an autonomous agent completing multi-step tasks. Use tools by replying "
    'with a JSON object {{"tool": name, "args": {{...}}}}. Tools: web_search(query), '
    "fetch(url), python(code), sql(query), write_report(markdown). After each observation, "
    "decide the next action. Stop with write_report when done.\n"
    "TASK: {task}\n"
)
GOALS = [
    "compare the pricing of {x} vendors and recommend one",
    "build a dataset of {x} and summarise its statistics",
    "debug why the {x} pipeline drops rows",
    "plan a {x}-day itinerary under a budget",
    "reconcile two {x} spreadsheets",
    "research the regulatory status of {x}",
    "migrate the {x} schema and verify counts",
    "find and fix the slowest {x} query",
]
THINGS = [
    "CRM",
    "solar panel",
    "GPU cloud",
    "invoice",
    "clinical trial",
    "shipping",
    "payroll",
    "warehouse",
    "ad campaign",
    "IoT sensor",
]


class AgentHarvest:
    """Tool-use trajectories: the scaffold, the task, and the steps so far. ``popular`` puts
    them inside the popular coding agent's harness instead of the operator's own scaffold."""

    def __init__(self, rng: random.Random, popular: bool):
        self.popular = popular

    def __call__(self, rng: random.Random) -> str:
        task = rng.choice(GOALS).format(x=rng.choice(THINGS))
        steps = "".join(
            f'STEP {k}: {{"tool": "{rng.choice(["web_search", "python", "fetch", "sql"])}", '
            f'"args": {{"q": "{rng.choice(THINGS)} {rng.randint(1, 999)}"}}}}\n'
            f"OBSERVATION {k}: {' '.join(rng.choice(THINGS) for _ in range(rng.randint(5, 40)))}\n"
            for k in range(rng.randint(0, 6))
        )
        if self.popular:
            head = HARNESS.replace("{os}", "linux 6.8.0").replace("{cwd}", "/home/runner/work")
            head = head.replace("{date}", f"2026-11-{rng.randint(1, 28):02d}")
            return cut(head + "<user>" + task + "</user>\n" + steps)
        return cut(SCAFFOLD.format(task=task) + steps)


class Salted:
    """Wraps a maker so some prompts carry characters that databases and parsers choke on."""

    def __init__(self, inner, share: float):
        self.inner, self.share = inner, share

    def __call__(self, rng: random.Random) -> str:
        text = self.inner(rng)
        if rng.random() < self.share:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(["\x00", "\ud800", "\udfff", "\x00\ud834"]) + text[at:]
        return text
