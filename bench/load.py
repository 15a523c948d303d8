"""Locust scenario: a team working the console, analysts on the queue and cases, approvers
deciding.

Run it through ``bench/load_run.py``, which seeds a database, starts gunicorn (several
workers), a Celery worker and Redis, and runs this file for 10, 25 and 50 users. By hand:

    BENCH_PASSWORD=... .venv/bin/locust -f bench/load.py --host http://127.0.0.1:8100 \\
        --headless -u 10 -r 5 -t 60s

Users log in as ``bench-analyst-N`` / ``bench-approver-N`` (created by ``load_run.py`` with
``BENCH_PASSWORD``), each a user of its own, as a team would. Page names in the statistics
are the URL patterns (``/cases/[id]/``), not each case's URL, so the figures group by page.

The measured period starts once every user has logged in: the statistics are reset when the
last login of the ramp has been answered, so the figures are those of a team at work, not of
fifty password hashes (slow by design) sharing the cores with the pages. The logins are timed
on their own and written to ``--logins-out`` (JSON) when the measured period starts.

- An analyst (four in five users): lists the queue, filters it (htmx fragment), opens a case,
  reads its sections (accounts, evidence, timeline, notes as htmx fragments), writes a note,
  assigns the case to themself, and now and then proposes a ban for a second person's
  approval.
- An approver (one in five): reads the approvals page and decides one of the pending
  proposals (approve, or reject with a comment), then reads the case it came from.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import statistics
import time

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password")
HTMX = {"HX-Request": "true"}
CASE_LINK = re.compile(r'href="/cases/(\d+)/"')
DECIDE_LINK = re.compile(r"/cases/(\d+)/enforcement/(\d+)/decide/")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FILTERS = [
    {"status": "open"},
    {"status": "open", "sort": "-risk_score"},
    {"priority": "1"},
    {"assignee": "me"},
    {"q": "fleet"},
]
_numbers = {"analyst": itertools.count(1), "approver": itertools.count(1)}
_logins: list[float] = []  # seconds, page and POST, one per user, in the order they ended
_refused: list[str] = []  # users whose login was refused
_started = time.monotonic()


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--analysts", type=int, default=50, help="bench-analyst-N users seeded")
    parser.add_argument("--approvers", type=int, default=10, help="bench-approver-N users seeded")
    parser.add_argument("--logins-out", default="", help="JSON file for the logins' timings")


@events.test_start.add_listener
def _test_start(environment, **_kwargs):
    global _started
    _started = time.monotonic()


def _login_done(environment, username: str, seconds: float, refused: bool) -> None:
    """Count a finished login; the last of the ramp starts the measured period."""
    _logins.append(seconds)
    if refused:
        _refused.append(username)
    runner = environment.runner
    if runner is None or len(_logins) != runner.target_user_count:
        return
    environment.stats.reset_all()
    out = environment.parsed_options.logins_out
    if out:
        ordered = sorted(_logins)
        summary = {
            "users": len(ordered),
            "all_logged_in_after_s": round(time.monotonic() - _started, 1),
            "p50_ms": round(statistics.median(ordered) * 1000),
            "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000),
            "max_ms": round(ordered[-1] * 1000),
            "refused": _refused,
        }
        with open(out, "w") as fh:
            json.dump(summary, fh)


class ConsoleUser(HttpUser):
    abstract = True
    role = ""
    wait_time = between(1, 3)  # a person reads what a page shows before the next click

    def on_start(self) -> None:
        seeded = getattr(self.environment.parsed_options, f"{self.role}s", 10)
        number = (next(_numbers[self.role]) - 1) % seeded + 1
        self.username = f"bench-{self.role}-{number}"
        began = time.monotonic()
        page = self.client.get("/accounts/login/", name="/accounts/login/")
        token = self._token(page.text)
        with self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="/accounts/login/ (POST)",
            catch_response=True,
        ) as response:
            refused = "/accounts/login/" in response.url or response.status_code >= 400
            if refused:
                response.failure(f"login refused for {self.username}")
        self.cases: list[str] = []
        _login_done(self.environment, self.username, time.monotonic() - began, refused)

    def _token(self, html: str) -> str:
        match = CSRF_INPUT.search(html)
        return match.group(1) if match else self.client.cookies.get("csrftoken", "")

    def _post(self, url: str, data: dict, name: str, **kwargs):
        token = self.client.cookies.get("csrftoken", "")
        headers = {"X-CSRFToken": token, "Referer": self.host + url, **kwargs.pop("headers", {})}
        return self.client.post(url, data, headers=headers, name=name, **kwargs)

    def _queue(self, params: dict | None = None, htmx: bool = False) -> None:
        with self.client.get(
            "/cases/",
            params=params or {},
            headers=HTMX if htmx else {},
            name="/cases/ (filtered, htmx)" if htmx else "/cases/",
            catch_response=True,
        ) as response:
            found = CASE_LINK.findall(response.text)
            if found:
                self.cases = found
            if response.status_code == 200:
                response.success()

    def _a_case(self) -> str | None:
        if not self.cases:
            self._queue()
        return random.choice(self.cases) if self.cases else None


class Analyst(ConsoleUser):
    role = "analyst"
    weight = 4

    @task(3)
    def list_queue(self) -> None:
        self._queue()

    @task(3)
    def filter_queue(self) -> None:
        self._queue(random.choice(FILTERS), htmx=True)

    @task(4)
    def open_case_and_read_sections(self) -> None:
        pk = self._a_case()
        if pk is None:
            return
        self.client.get(f"/cases/{pk}/", name="/cases/[id]/")
        for section in ("accounts", "evidence", "timeline", "notes"):
            self.client.get(
                f"/cases/{pk}/{section}/", headers=HTMX, name=f"/cases/[id]/{section}/ (htmx)"
            )

    @task(1)
    def write_note(self) -> None:
        pk = self._a_case()
        if pk is None:
            return
        self._post(
            f"/cases/{pk}/notes/",
            {"body": f"Checked the shared card and the shift pattern ({self.username})."},
            name="/cases/[id]/notes/ (POST, htmx)",
            headers=HTMX,
        )

    @task(1)
    def assign_to_me(self) -> None:
        pk = self._a_case()
        if pk is None:
            return
        self._post(
            f"/cases/{pk}/assign/",
            {"assignee": "me"},
            name="/cases/[id]/assign/ (POST, htmx)",
            headers=HTMX,
        )

    @task(1)
    def propose_ban(self) -> None:
        pk = self._a_case()
        if pk is None:
            return
        self._post(
            f"/cases/{pk}/enforcement/propose/",
            {"kind": "ban", "scope": "all", "reason": "Fleet: shared card, one shift, CoT harvest"},
            name="/cases/[id]/enforcement/propose/ (POST, htmx)",
            headers=HTMX,
        )


class Approver(ConsoleUser):
    role = "approver"
    weight = 1

    @task(2)
    def read_approvals(self) -> None:
        self.client.get("/cases/approvals/", name="/cases/approvals/")

    @task(3)
    def decide_one(self) -> None:
        page = self.client.get("/cases/approvals/", name="/cases/approvals/")
        pending = DECIDE_LINK.findall(page.text)
        if not pending:
            return
        case_pk, action_pk = random.choice(pending)
        url = f"/cases/{case_pk}/enforcement/{action_pk}/decide/"
        if random.random() < 0.8:
            data = {"decision": "approve", "comment": ""}
        else:
            data = {"decision": "reject", "comment": "Needs the evidence refreshed first."}
        # The password, in case the re-authentication window has passed (ignored otherwise).
        data["password"] = PASSWORD
        # A proposal another approver decided first comes back as the form with its error
        # (200), as htmx expects: the console answering correctly.
        self._post(
            url, data, name="/cases/[id]/enforcement/[id]/decide/ (POST, htmx)", headers=HTMX
        )
        self.client.get(f"/cases/{case_pk}/", name="/cases/[id]/")
