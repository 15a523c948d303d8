"""Prompt pools of the legitimate cohorts.

Each ``*_prompt`` function takes a ``random.Random`` and returns one prompt. Ordinary
customers combine many small parts (openers, tasks, topics, details, tails), so two people
rarely write the same sentence; the integrations and benchmark suites are templates with
slots, because that is what real ones are. Some ordinary and campus prompts ask for step-by-step
explanations, as real homework questions do: reasoning words alone must not look malicious.
"""

from __future__ import annotations

import random

TOPICS = [
    "sourdough bread",
    "a trip to Lisbon",
    "my tomato plants",
    "a birthday party for a 7 year old",
    "the French Revolution",
    "climate change",
    "my cover letter",
    "learning Spanish",
    "marathon training",
    "a job interview at a bank",
    "my landlord",
    "a vegan lasagne",
    "index funds",
    "my cat's diet",
    "a wedding speech",
    "the solar system",
    "a road trip in Utah",
    "my resume",
    "photosynthesis",
    "the stock market",
    "knitting a scarf",
    "our team offsite",
    "a small bakery business",
    "my thesis introduction",
    "a D&D campaign",
    "the Roman empire",
    "electric cars",
    "home insulation",
    "a podcast intro",
    "my garden pond",
    "a fantasy novel",
    "a customer complaint",
    "moving to Berlin",
    "meal prep for a week",
    "a chess opening",
    "a lost package",
    "quantum computing",
    "a product launch email",
    "my budget spreadsheet",
    "a haiku about autumn",
    "the Cold War",
    "noise-cancelling headphones",
    "a yoga routine",
    "a newsletter for my choir",
    "mortgage rates",
    "my dog's training",
    "a toast for my parents",
    "Kubernetes basics",
    "a kids' science fair project",
    "Japanese grammar",
    "a bike commute",
    "my sleep schedule",
    "a LinkedIn post",
    "an apology to a friend",
    "a Halloween costume",
]
TASKS = [
    "Can you give me some ideas for {t}?",
    "write a short email about {t}",
    "What are the pros and cons of {t}?",
    "help me plan {t}",
    "summarise the main points of {t}",
    "explain {t} like I'm twelve",
    "I need a checklist for {t}",
    "tell me a fun fact about {t}",
    "make a shopping list for {t}",
    "rewrite this to sound friendlier: a note about {t}",
    "what should I know before starting {t}?",
    "write a poem about {t}",
    "give me 5 catchy titles for a blog post on {t}",
    "how long does {t} usually take?",
    "compare two approaches to {t}",
    "draft a polite message to my boss about {t}",
    "what questions should I ask about {t}?",
    "translate into German: I am excited about {t}",
    "give me a 3 day schedule for {t}",
    "any common mistakes with {t}?",
    "what's a good budget for {t}?",
    "outline an essay on {t}",
    "is it worth it: {t}?",
    "my {who} asked me about {t} and I had no idea what to say. what should I tell them?",
    "rewrite this so it sounds less stiff: 'we are writing regarding {t}'",
    "I keep putting off {t}. how do I actually get started",
    "compare two options for {t} in a table",
    "what questions should I ask before committing to {t}?",
    "draft a text message to my {who} about {t}",
    "is there a cheaper way to handle {t}?",
    "give me a reading list on {t}",
    "what would a total beginner get wrong about {t}",
    "turn my notes on {t} into a one-page summary",
    "brainstorm names for a project about {t}",
    "how long does {t} usually take?",
    "what's the history behind {t}",
    "{t}: what do experts disagree about?",
    "write a limerick about {t}",
]
WHO = ["mum", "boss", "flatmate", "brother", "neighbour", "teacher", "partner", "grandad", "kid"]
PLACES = ["Leeds", "Austin", "Pune", "Lyon", "Osaka", "Porto", "Calgary", "Krakow", "Recife"]
OPENERS = [
    "",
    "",
    "",
    "hi! ",
    "Hey, ",
    "Quick question: ",
    "Please ",
    "ok so ",
    "Hello. ",
    "I'm stuck. ",
    "Could you ",
    "Need help: ",
    "thanks for earlier. now ",
    "hmm, ",
]
TAILS = [
    "",
    "",
    "",
    " Keep it short.",
    " Thanks!",
    " in bullet points please",
    " :)",
    " Use simple words.",
    " Make it funny.",
    " about 200 words",
    " no jargon",
    " I only have an hour.",
    " for a beginner",
    " Be honest.",
    "?",
    " asap",
]
DETAILS = [
    "",
    "",
    "",
    " My budget is {n} euros.",
    " It's for {n} people.",
    " I have {n} days.",
    " We tried it {n} times already.",
    " My friend Sam disagrees.",
    " Last time it went badly.",
    " I live in a small flat.",
    " We're in {place}.",
    " It has to be done by {day}.",
    " My {who} will read it.",
    " I tried the obvious thing and it didn't work.",
    " Context: I'm {n} and not very technical.",
]
DAYS = ["Monday", "Friday", "the weekend", "tonight", "next week", "the 14th"]
FOREIGN = [
    "¿Puedes ayudarme a escribir un correo sobre {t}?",
    "Kannst du mir {t} kurz erklären?",
    "Peux-tu me donner des idées pour {t} ?",
    "{t} について簡単に説明してください。",
    "请帮我写一段关于{t}的介绍。",
    "{t}에 대해 짧게 설명해 줄래요?",
    "Me explica {t} de forma simples?",
]
HOMEWORK = [
    "Can you explain step by step how to solve {a}x + {b} = {c}?",
    "walk me through the steps for this problem: a train leaves at {a} km/h for {b} hours",
    "how do I find the derivative of x^{a} + {b}x? explain each step",
    "why does the {a}th term of this sequence equal {c}? show the steps",
]


# How people who have read a prompting guide ask for reasoning. Some are word for word what a
# harvesting fleet sends (prompts_harvest.ELICITATIONS): the phrase alone is not the behaviour.
REASONING_ASKS = [
    " Think step by step.",
    " Explain your reasoning.",
    " Show your working.",
    " Let's think step by step.",
    "\n\nThink step by step inside <thinking> tags, then give the answer.",
    "\n\nShow your full reasoning before the final answer.",
    " walk me through your thinking",
    " Explain every step of your working before answering.",
]


def ordinary_prompt(
    rng: random.Random, topics: list[str] | None = None, reasoning: float = 0.0
) -> str:
    """A consumer prompt: a task about a topic the person cares about, in their own words.

    ``reasoning`` is how often this person asks for the reasoning too (most never do).
    """
    topic = rng.choice(topics or TOPICS)
    r = rng.random()
    if r < 0.05:
        return rng.choice(FOREIGN).format(t=topic)
    if r < 0.08:
        return rng.choice(HOMEWORK).format(
            a=rng.randint(2, 9), b=rng.randint(1, 40), c=rng.randint(10, 99)
        )
    task = rng.choice(TASKS).format(t=topic, who=rng.choice(WHO))
    detail = rng.choice(DETAILS).format(
        n=rng.randint(2, 70), place=rng.choice(PLACES), day=rng.choice(DAYS), who=rng.choice(WHO)
    )
    if rng.random() < 0.25:  # a second detail, as people ramble
        detail += rng.choice(DETAILS).format(
            n=rng.randint(2, 70),
            place=rng.choice(PLACES),
            day=rng.choice(DAYS),
            who=rng.choice(WHO),
        )
    text = rng.choice(OPENERS) + task + detail + rng.choice(TAILS)
    if rng.random() < 0.15:
        text = text.lower()
    if reasoning and rng.random() < reasoning:
        text += rng.choice(REASONING_ASKS)
    return text


COURSES = [
    "organic chemistry",
    "linear algebra",
    "macroeconomics",
    "European history",
    "data structures",
    "microbiology",
    "statistics",
    "philosophy of mind",
    "thermodynamics",
    "constitutional law",
    "art history",
    "psychology 101",
]
STUDY = [
    "explain {c} concept: {k}, I have an exam tomorrow",
    "give me practice questions on {k} for {c}",
    "summarise this week's {c} reading on {k}",
    "help me structure my {c} essay about {k}",
    "what's the difference between {k} and the thing before it in {c}?",
    "check my answer for {c}: I think {k} causes the effect. am I right?",
    "make flashcards for {k} ({c})",
    "explain {k} step by step, I missed the {c} lecture",
    "how do I cite a paper about {k} in APA?",
    "quiz me on {k}",
]
KEYWORDS = [
    "eigenvalues",
    "supply shocks",
    "enzyme kinetics",
    "the Treaty of Westphalia",
    "binary heaps",
    "Bayes' theorem",
    "entropy",
    "qualia",
    "judicial review",
    "the Baroque",
    "cognitive dissonance",
    "SN2 reactions",
    "CRISPR",
    "p-values",
    "red-black trees",
    "the Krebs cycle",
    "opportunity cost",
]


def study_prompt(rng: random.Random) -> str:
    """A student's prompt (campus cohort): coursework, half the time; everyday life otherwise."""
    if rng.random() < 0.45:
        return ordinary_prompt(rng)
    return rng.choice(STUDY).format(c=rng.choice(COURSES), k=rng.choice(KEYWORDS))


LANGUAGES = ["python", "typescript", "go", "rust", "java", "sql", "bash", "kotlin", "c#"]
FILES = [
    "src/api/handlers.py",
    "app/models/user.ts",
    "internal/queue/worker.go",
    "lib/parse.rs",
    "tests/test_billing.py",
    "web/components/Table.tsx",
    "migrations/0042_add_index.sql",
    "cmd/server/main.go",
    "services/auth/session.py",
    "scripts/deploy.sh",
]
ERRORS = [
    "TypeError: 'NoneType' object is not subscriptable",
    "panic: runtime error: index out of range [3] with length 3",
    "error[E0502]: cannot borrow `self` as mutable",
    "AssertionError: expected 200, got 500",
    "ModuleNotFoundError: No module named 'yaml'",
    "TS2345: Argument of type 'string' is not assignable",
    "deadlock detected",
    "Segmentation fault (core dumped)",
    "connection refused on port 5432",
]
DEV = [
    "the tests in {f} fail with `{e}`. find the cause and fix it",
    "refactor {f} so the retry logic is in one place",
    "add a unit test for the edge case where the list is empty in {f}",
    "why is this {l} code slow? it loops over {n} rows in {f}",
    "write a {l} function that parses ISO dates and returns None on bad input",
    "run the linter and fix whatever it reports in {f}",
    "explain what this stack trace means: {e}",
    "update the README with the new env variables from {f}",
    "continue",
    "yes, apply that change",
    "now run the tests again",
    "search the repo for usages of the old config loader and update them",
    "rename `get_user` to `fetch_user` everywhere and keep the tests green",
    "open {f} and add type hints",
    "think step by step about why {f} fails before you edit anything",
    "plan the change first and explain your reasoning, then edit {f}",
]


def developer_prompt(rng: random.Random) -> str:
    """A coding-agent or IDE turn: terse, about this person's repository, often a follow-up."""
    return rng.choice(DEV).format(
        f=rng.choice(FILES),
        e=rng.choice(ERRORS),
        l=rng.choice(LANGUAGES),
        n=rng.randint(2, 900) * 1000,
    )


ENTERPRISE_TEMPLATES = [
    "You are the support assistant for {co}. Summarise the ticket below in three bullet points "
    "and choose one category from [billing, bug, feature, account].\n\nTicket #{id}: {body}",
    "Classify the sentiment of this {co} product review as positive, neutral or negative. "
    'Reply with JSON {{"sentiment": ...}}.\n\nReview {id}: {body}',
    "Extract the invoice number, total and due date from this document for {co} accounts "
    "payable. Output JSON only.\n\nDocument {id}: {body}",
    "Translate the following {co} help-centre article into {lang}. Keep markdown.\n\n"
    "Article {id}: {body}",
    "Draft a reply to this customer on behalf of {co}, polite, under 120 words.\n\n"
    "Message {id}: {body}",
]
BODIES = [
    "I was charged twice this month and nobody answers my emails.",
    "The export button does nothing on Safari.",
    "Can we get SSO for our team?",
    "Great product, but the mobile app logs me out every day.",
    "Invoice INV-{n} total 1,{n} EUR due 2026-11-{d}.",
    "How do I reset my password if I lost access to my phone?",
    "Delivery was late by {d} days and the box was damaged.",
    "Please add dark mode.",
    "Your API returns 502 between 2 and 3 am UTC.",
]


def enterprise_prompt(rng: random.Random, template: str, company: str) -> str:
    """One call of a company's integration: a fixed template with a record filled in."""
    body = rng.choice(BODIES).format(n=rng.randint(100, 999), d=rng.randint(10, 28))
    return template.format(
        co=company,
        id=rng.randint(10000, 999999),
        body=body,
        lang=rng.choice(["German", "French", "Japanese", "Spanish"]),
    )


# A large company's own tools: an internal assistant with its tool schema (sent word for word
# with every request, like a popular agent's harness but used by one customer only), a code
# review bot and a reporting helper. Staff fill in a different task every time.
INTERNAL_HARNESS = (
    "You are {co} Copilot, the internal assistant of {co} engineering and operations. "
    "Answer for employees only; never share customer data outside the company. Tools (JSON "
    "schema): jira_search {{query: string, project?: string}}; run_sql {{warehouse: string, "
    "query: string}}; read_runbook {{service: string}}; open_pr {{repo: string, title: string, "
    "diff: string}}. Use a tool when the answer needs live data.\n"
    "Employee ({team}): {task}"
)
INTERNAL_TASKS = [
    "why did the nightly {svc} job fail on {day}? the log says `{e}`",
    "how many tickets did {team} close last sprint, by priority",
    "write the SQL for weekly active customers by region from the {svc} tables",
    "summarise the open incidents for {svc} and who owns them",
    "draft the postmortem timeline for the {svc} outage on {day}",
    "which runbook covers restarting {svc}, and what are the steps",
    "open a PR that bumps the {svc} client timeout to {n} seconds",
    "compare last week's {svc} latency with the week before",
    "find the Jira epic for the {svc} migration and list what is left",
    "what does error `{e}` in {svc} usually mean here",
]
SERVICES = ["billing", "search", "checkout", "ledger", "notifications", "auth", "reporting"]
TEAMS = ["payments", "platform", "data", "support tooling", "growth", "risk", "infra"]
INTERNAL_TEMPLATES = [
    "Review this diff against the {co} style guide. List problems as bullet points with file "
    "and line, then say APPROVE or REQUEST_CHANGES.\n\nDiff {id} ({team}): {task}",
    "You write the weekly report for the {co} {team} team. Turn these notes into five short "
    "paragraphs for leadership.\n\nNotes {id}: {task}",
    "Classify this {co} internal request into one queue of [it, facilities, hr, security, "
    "finance] and give a one-line reason. Reply as JSON.\n\nRequest {id}: {task}",
]


def internal_prompt(rng: random.Random, template: str, company: str) -> str:
    """One request through a company's own tooling: its fixed wording around a task that
    differs every time (the records, questions and diffs of a working company)."""
    task = rng.choice(INTERNAL_TASKS).format(
        svc=rng.choice(SERVICES),
        day=rng.choice(["Monday", "Tuesday", "the 3rd", "the 17th", "last night"]),
        e=rng.choice(ERRORS),
        team=rng.choice(TEAMS),
        n=rng.randint(5, 120),
    )
    if rng.random() < 0.3:
        task += " " + rng.choice(BODIES).format(n=rng.randint(100, 999), d=rng.randint(10, 28))
    return template.format(
        co=company, team=rng.choice(TEAMS), id=rng.randint(10000, 999999), task=task
    )


BENCH_SUFFIXES = [
    "A: Let's think step by step.",
    "Let's think step by step.",
    "Answer: Let's work this out in a step by step way to be sure we have the right answer.",
    "Think step by step, then give the final answer after '####'.",
    # Chain-of-thought harness prompts, word for word what some fleets send.
    "Think step by step inside <thinking> tags, then give the final answer after 'Answer:'.",
    "Show your full reasoning before the final answer.",
]
NAMES = ["Natalia", "Weng", "Betty", "James", "Tina", "Mark", "Olga", "Raj", "Ken", "Julie"]
ITEMS = ["clips", "apples", "pencils", "books", "cupcakes", "marbles", "stamps", "tickets"]


def benchmark_prompt(rng: random.Random, suffix: str, few_shot: str) -> str:
    """A grade-school maths item in a fixed harness format (GSM8K / MMLU style)."""
    a, b, c = rng.randint(2, 60), rng.randint(2, 12), rng.randint(1, 30)
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    if rng.random() < 0.5:
        q = (
            f"{name} sold {a} {item} in April, and then she sold {b} times as many in May "
            f"minus {c}. How many {item} did {name} sell altogether in April and May?"
        )
    else:
        q = (
            f"The following is a multiple choice question about elementary mathematics.\n"
            f"What is {a} * {b} + {c}?\n(A) {a * b + c} (B) {a * b - c} (C) {a + b + c} "
            f"(D) {a * (b + c)}"
        )
    return f"{few_shot}Q: {q}\n{suffix}"
