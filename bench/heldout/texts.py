"""Prompt text for the held-out data: what ordinary customers ask and what fleets harvest.

Each maker takes a ``random.Random`` seeded for one exchange and returns the prompt as the
gateway logged it. Gateways cut long prompts, so every prompt is cut at ``LOGGED_CHARS``.
"""

from __future__ import annotations

import random

LOGGED_CHARS = 2400

SUBJECTS = [
    "sourdough starter",
    "a 10k training plan",
    "my landlord's deposit rules",
    "the French revolution",
    "black holes",
    "a birthday poem for my sister",
    "houseplants that survive low light",
    "a cover letter for a nursing job",
    "how mortgages amortise",
    "the rules of cricket",
    "a weekly meal plan",
    "photosynthesis",
    "a wedding toast",
    "learning the guitar as an adult",
    "the difference between ETFs and index funds",
    "my cat's diet",
    "jet lag",
    "a short story about a lighthouse",
    "renaissance painting",
    "composting in a flat",
    "negotiating a salary",
    "the causes of inflation",
    "a DnD campaign villain",
    "sleep hygiene",
    "writing a eulogy",
    "tax on freelance income",
    "sea turtles",
    "a pitch deck outline",
    "stoicism",
    "fixing a dripping tap",
]
FRAMES = [
    "Can you explain {s} like I'm new to it?",
    "give me 5 ideas about {s}",
    "I need help with {s}. {d}",
    "what's the best way to approach {s}?",
    "Write something about {s}, {d}",
    "{d} Any thoughts on {s}?",
    "tldr of {s} please",
    "Compare two common views on {s}. {d}",
    "Rewrite this to sound friendlier: '{d}'",
    "is it true that {s} is overrated?",
    "Help me make a checklist for {s}",
    "{s} -- pros and cons?",
]
DETAILS = [
    "Keep it short.",
    "I have about 20 minutes.",
    "My budget is tight.",
    "Use bullet points.",
    "It's for a school newsletter.",
    "Make it funny.",
    "I already tried the obvious things.",
    "Explain the reasoning.",
    "I'm in a hurry, sorry for typos",
    "It should fit on one page.",
]
FOREIGN = {
    "de": ["Kannst du mir {s} erklären?", "Schreib mir bitte eine kurze E-Mail über {s}."],
    "fr": ["Peux-tu m'expliquer {s} simplement ?", "Donne-moi trois idées pour {s}."],
    "es": ["¿Me puedes explicar {s}?", "Escribe un resumen breve sobre {s}."],
    "pt": ["Você pode me explicar {s}?", "Me dá dicas sobre {s}."],
    "ja": ["{s}について簡単に説明してください。", "{s}のメリットとデメリットを教えて。"],
    "ko": ["{s}에 대해 쉽게 설명해 주세요.", "{s} 관련 아이디어 좀 줘"],
}


def cut(text: str) -> str:
    return text[:LOGGED_CHARS]


def chat(rng: random.Random, lang: str = "en") -> str:
    subject = rng.choice(SUBJECTS)
    if lang in FOREIGN and rng.random() < 0.7:
        return rng.choice(FOREIGN[lang]).format(s=subject)
    text = rng.choice(FRAMES).format(s=subject, d=rng.choice(DETAILS))
    if rng.random() < 0.15:  # pasted material
        text += "\n\n" + " ".join(rng.choice(SUBJECTS) for _ in range(rng.randint(20, 120)))
    if rng.random() < 0.03:
        text += rng.choice([" 🙏", " <b>thanks</b>", " =SUM(A1:A3)", " \u202eok", " 谢谢"])
    return text


# --- the popular coding agent ------------------------------------------------------------------

HARNESS = (
    "You are Driftwood, an autonomous software engineering assistant running inside the "
    "user's terminal. You can read and edit files, run shell commands and search the "
    "repository. Work in small verified steps. Prefer editing existing files to creating new "
    "ones. Never commit secrets. When a command fails, read the error before retrying. Keep "
    "answers concise; the user reads them in a terminal.\n"
    "# Tools\n"
    '[{"name":"read_file","parameters":{"path":"string","start":"int","end":"int"}},'
    '{"name":"write_file","parameters":{"path":"string","content":"string"}},'
    '{"name":"apply_patch","parameters":{"patch":"string"}},'
    '{"name":"run","parameters":{"cmd":"string","timeout_s":"int"}},'
    '{"name":"grep","parameters":{"pattern":"string","glob":"string"}},'
    '{"name":"list_dir","parameters":{"path":"string"}}]\n'
    "# Environment\nos: {os}\ncwd: {cwd}\ndate: {date}\n"
    "# Conventions\nFollow the repository's style. Run the tests that cover your change. "
    "Ask before destructive operations (rm -rf, force push, dropping tables).\n"
)
LANGS = ["python", "typescript", "go", "rust", "java", "ruby", "kotlin", "c#"]
CHORES = [
    "fix the failing test in {m}",
    "add pagination to the {m} endpoint",
    "refactor {m} to remove the global state",
    "why does {m} leak memory?",
    "write a migration that adds an index for {m}",
    "upgrade {m} to the new API",
    "add retries with backoff around {m}",
    "make the {m} CLI accept a --dry-run flag",
    "port {m} from callbacks to async/await",
    "add type hints to {m}",
]
MODULES = [
    "billing",
    "auth",
    "scheduler",
    "importer",
    "search",
    "notifications",
    "cache",
    "reports",
    "uploader",
    "webhooks",
    "parser",
    "metrics",
    "invoices",
    "sync",
]


def code_lines(rng: random.Random, lang: str, n: int) -> str:
    names = [
        rng.choice(MODULES) + "_" + rng.choice(["id", "count", "items", "cfg", "ctx"])
        for _ in range(6)
    ]
    kw = {"python": "def", "go": "func", "rust": "fn", "ruby": "def"}.get(lang, "function")
    out = []
    for i in range(n):
        a, b = rng.sample(names, 2)
        out.append(
            rng.choice(
                [
                    f"{kw} handle_{a}({b}):",
                    f"    if {a} is None: return {b}",
                    f"    {a} = load({b}, {i})",
                    f"    log.debug('{a} %s', {b})",
                    f"    for x in {a}: total += x.{b}",
                    "    return result",
                ]
            )
        )
    return "\n".join(out)


class CodingSession:
    """One developer's repository: the harness is shared by everyone, the rest is theirs."""

    def __init__(self, rng: random.Random):
        self.lang = rng.choice(LANGS)
        self.os = rng.choice(["darwin 23.5.0", "linux 6.8.0", "linux 5.15.0", "win32 10.0"])
        self.cwd = rng.choice(["/Users/", "/home/", "/workspace/"]) + rng.choice(MODULES) + "-svc"

    def __call__(self, rng: random.Random) -> str:
        head = (
            HARNESS.replace("{os}", self.os)
            .replace("{cwd}", self.cwd)
            .replace("{date}", f"2026-{rng.randint(10, 12)}-{rng.randint(1, 28):02d}")
        )
        roll = rng.random()
        if roll < 0.12:
            tail = "<user>" + rng.choice(CHORES).format(m=rng.choice(MODULES)) + "</user>"
        elif roll < 0.75:
            path = f"src/{rng.choice(MODULES)}/{rng.choice(MODULES)}.{self.lang[:2]}"
            tail = (
                f'<tool_result name="read_file" path="{path}">\n'
                + code_lines(rng, self.lang, rng.randint(10, 60))
                + "\n</tool_result>"
            )
        else:
            tail = (
                f'<tool_result name="run" exit="{rng.choice([0, 0, 1, 2])}">\n'
                + "\n".join(
                    f"{rng.choice(['PASS', 'FAIL', 'ok', 'E'])} test_{rng.choice(MODULES)}_{i}"
                    for i in range(rng.randint(5, 40))
                )
                + "\n</tool_result>"
            )
        return cut(head + tail)


# --- public benchmarks ---------------------------------------------------------------------------

NAMES = ["Priya", "Tom", "Aiko", "Mateo", "Zainab", "Lars", "Chen", "Fatima", "Olu", "Greta"]
GOODS = ["apples", "stamps", "marbles", "tickets", "notebooks", "cupcakes", "bolts", "shells"]


def math_item(index: int) -> str:
    """Item ``index`` of a public grade-school maths suite: identical for everyone who runs it."""
    r = random.Random(f"arith-suite-{index}")
    a, b, c = r.randint(3, 90), r.randint(2, 12), r.randint(2, 40)
    n, g = r.choice(NAMES), r.choice(GOODS)
    return (
        f"{n} has {a} {g}. {n} buys {b} packs with {c} {g} in each, then gives away a "
        f"third of the total, rounded down. How many {g} does {n} have left?"
    )


def choice_item(index: int) -> str:
    r = random.Random(f"mcq-suite-{index}")
    field = r.choice(
        [
            "anatomy",
            "econometrics",
            "jurisprudence",
            "virology",
            "astronomy",
            "formal logic",
            "world religions",
            "electrical engineering",
        ]
    )
    opts = "\n".join(f"{k}. option {r.randint(100, 999)}" for k in "ABCD")
    return f"The following is a question about {field}.\nQ{index}: which statement holds?\n{opts}"


def function_item(index: int) -> str:
    r = random.Random(f"fn-suite-{index}")
    verb = r.choice(["count", "merge", "rotate", "flatten", "dedupe", "parse", "balance"])
    noun = r.choice(["intervals", "brackets", "digits", "matrix", "words", "tree", "dates"])
    return (
        f'def {verb}_{noun}(xs):\n    """{verb.capitalize()} the {noun} in xs as described '
        f'in problem {index}.\n    >>> {verb}_{noun}([])\n    []\n    """\n'
    )


SUITES = {"arith": (math_item, 1319), "mcq": (choice_item, 1540), "fn": (function_item, 164)}
BENCH_FORMATS = [
    "Question: {q}\nAnswer: Let's think step by step.",
    "{q}\nThink step by step, then give the final answer after 'Answer:'.",
    "Complete the function.\n{q}",
    "{q}",
]


class BenchmarkRun:
    """A researcher's harness: one suite, one prompt format, items in order, several samples."""

    def __init__(self, rng: random.Random):
        self.suite = rng.choice(list(SUITES))
        self.format = rng.choice(BENCH_FORMATS[:2] if self.suite != "fn" else BENCH_FORMATS[2:])
        self.shots = rng.random() < 0.4

    def __call__(self, rng: random.Random) -> str:
        make, size = SUITES[self.suite]
        text = self.format.format(q=make(rng.randrange(size)))
        if self.shots:
            text = "\n\n".join(make(size + k) + "\nAnswer: 42" for k in range(3)) + "\n\n" + text
        return cut(text)


# --- organisations ---------------------------------------------------------------------------

INTERNAL_TEMPLATES = [
    "Summarise the following customer support ticket in two sentences and tag its category "
    "(billing, bug, account, other).\nTicket #{n}: {body}",
    "Extract the parties, term and termination clause from this contract excerpt as JSON.\n"
    "Excerpt {n}: {body}",
    "Classify the sentiment of this product review as positive, neutral or negative and give "
    "one reason.\nReview {n}: {body}",
    "Draft a polite reply to this supplier email, keeping our payment terms.\nEmail {n}: {body}",
]


class InternalTool:
    """A company's in-house integration: one template, filled from its own records."""

    def __init__(self, rng: random.Random):
        self.template = rng.choice(INTERNAL_TEMPLATES)

    def __call__(self, rng: random.Random) -> str:
        body = " ".join(rng.choice(SUBJECTS) for _ in range(rng.randint(8, 60)))
        return cut(self.template.format(n=rng.randint(10000, 99999), body=body))


PRODUCT_TEMPLATES = [
    "Write a 60-word product description for: {item}. Tone: {tone}.",
    "Generate 3 SEO titles for a blog post about {item}. Audience: {tone} readers.",
    "Translate the following listing into {lang}: {item}, good condition, {tone} seller.",
    "You are a cooking assistant. Suggest a recipe using {item}. Diet: {tone}.",
]


ITEMS = [
    "a linen summer dress",
    "a refurbished laptop",
    "a cedar garden bench",
    "a ceramic teapot",
    "noise-cancelling headphones",
    "a vintage road bike",
    "a standing desk",
    "a hiking backpack",
    "trail running shoes",
    "a cast-iron skillet",
]
FOODS = [
    "chickpeas and spinach",
    "oat milk",
    "smoked paprika",
    "leftover rice",
    "tofu",
    "salmon fillets",
    "red lentils",
    "aubergine",
    "buckwheat",
    "frozen peas",
]


class ProductFeature:
    """A small business's app feature calling the API for each of its own users."""

    def __init__(self, rng: random.Random):
        self.template = rng.choice(PRODUCT_TEMPLATES)

    def __call__(self, rng: random.Random) -> str:
        item = rng.choice(FOODS if "recipe" in self.template else ITEMS)
        if rng.random() < 0.6:  # the end user's own details
            item += rng.choice(
                [
                    f", SKU {rng.randint(1000, 99999)}",
                    f" in size {rng.randint(4, 16)}",
                    f", {rng.randint(2, 30)} units",
                    f" (order {rng.randint(10**5, 10**6)})",
                ]
            )
        return self.template.format(
            item=item,
            tone=rng.choice(["casual", "formal", "vegan", "expert"]),
            lang=rng.choice(["German", "Spanish", "Japanese"]),
        )


class Coursework:
    """A course's problem sets: every student in it pastes the same assignment text."""

    def __init__(self, rng: random.Random, course: str):
        self.course = course
        self.sets = [
            f"{course} problem set {k}, question {q}: " + math_item(10000 + k * 20 + q)
            for k in range(1, 6)
            for q in range(1, 9)
        ]

    def __call__(self, rng: random.Random) -> str:
        q = rng.choice(self.sets)
        return rng.choice(
            [
                "{q}",
                "can you explain step by step how to do this? {q}",
                "{q}\nI got a different answer, where did I go wrong?",
            ]
        ).format(q=q)
