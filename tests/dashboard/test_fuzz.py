"""No input is answered with a server error: every URL, for every role, with hostile GET
parameters.

The routes come from the URL resolver, so a page added later is fuzzed without anyone
listing it here; path parameters are real ids from one small case file (a campaign with
evidence, a note, a ban with its deliveries, an export), so the views get past their 404s and
read their parameters. Which parameters a view reads is learnt by a first, plain request
that records every name looked up in ``request.GET``; then each route gets every name it or
any other view reads, plus names nobody reads, set to each hostile value in turn (huge and
odd numbers, NUL, a lone surrogate and other bytes that are not UTF-8, very long text,
right-to-left and full-width characters, dates that do not exist), with and without htmx.
Any 5xx fails the test with the list of every request that caused one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers import wsgi
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from cases.accounts.attributes import ATTRIBUTES
from cases.enforcement.services import action_decide, action_propose
from cases.evidence.services import evidence_snapshot_collect
from cases.models import CaseAccount, EvidenceSnapshot, Export
from detection.models import Exchange, IngestReport
from tests.cases.test_evidence_fixtures import make_campaign
from tests.factories import NoteFactory, enforcement_terms

pytestmark = pytest.mark.django_db

# Already percent-encoded, so bytes that are not UTF-8 reach the server as they are.
HOSTILE_VALUES = [
    "9" * 40,  # past a bigint and past what a float holds as an integer
    "-9223372036854775809",
    "1e400",  # infinity as a float
    "nan",
    "0x1F",
    "%00",  # NUL
    "a%00b",
    "%ED%A0%80",  # a lone surrogate (U+D800) in UTF-8's form
    "%FF%FE%FD",  # not UTF-8 at all
    "%F0%9F%99%82%E2%80%AE%EF%BC%9D",  # emoji, right-to-left override, full-width =
    "x" * 10_000,
    "2099-13-45T25:61:00",
    "2000-01-01T00:00:00%2B20:00~1",  # a cursor whose UTC offset PostgreSQL refuses
    "%27%22%3E%3Cscript%3E",
    "",
]
# Names no view reads, and names that are themselves hostile.
JUNK_NAMES = ["zz_unknown", "%00", "%ED%A0%80", "a%5B%5D", "x" * 300]


class RecordingQueryDict(QueryDict):
    """A query dict that remembers every name a view looks up."""

    seen: set[str] = set()

    def __getitem__(self, key):
        RecordingQueryDict.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        RecordingQueryDict.seen.add(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        RecordingQueryDict.seen.add(key)
        return super().get(key, default)

    def getlist(self, key, default=None):
        RecordingQueryDict.seen.add(key)
        return super().getlist(key, default)


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


@dataclass
class World:
    """The ids a route's path parameters are filled with."""

    ids: dict[str, list[str]] = field(default_factory=dict)

    def paths(self, route: str) -> list[str]:
        """The paths to fuzz for a route: one id per parameter, except for the parameters
        that choose a kind of page (``kind``, ``fmt``), which get each of their values."""
        if route.startswith(("^", "admin/")) or "(?P<" in route:
            return []  # the admin's pages come from its registry (_admin_paths)
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        paths = [route]
        for name in params:
            key = name
            if name == "pk" and route.startswith("cases/exports/"):
                key = "export_pk"  # the export pages' own id
            values = self.ids.get(key, ["1"])
            if name not in ("kind", "fmt"):
                values = values[:1]
            paths = [
                re.sub(rf"<(?:\w+:)?{name}>", value, p, count=1) for p in paths for value in values
            ]
        return ["/" + p for p in paths]


@pytest.fixture
def world(analyst, approver, manager):
    case, accounts, _ = make_campaign(2, days=1, per_day=2)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    evidence_snapshot_collect(snapshot.pk)
    note = NoteFactory(case=case, author=analyst)
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet"
    )
    action_decide(action=action, by=approver, approve=True)
    message = action.outbox.first()
    # Rows for the pages that list or show them (an export's page, the admin's reports).
    export = Export.objects.create(created_by=manager, format="csv", query="", total=1)
    IngestReport.objects.create(path="/nowhere/exchanges.jsonl", kind="exchanges")
    link = CaseAccount.objects.filter(case=case).first()
    return World(
        {
            "pk": [str(case.pk)],
            "export_pk": [str(export.pk)],
            "action_pk": [str(action.pk)],
            "link_pk": [str(link.pk)],
            "snapshot_pk": [str(snapshot.pk)],
            "note_pk": [str(note.pk)],
            "message_pk": [str(message.pk)],
            "exchange_pk": [str(Exchange.objects.filter(account=accounts[0]).first().pk)],
            "account_id": [accounts[1].account_id],
            "name": ["fleet"],
            "kind": sorted(ATTRIBUTES),
            "fmt": ["csv", "xlsx", "pdf", "txt", "json"],
        }
    )


@pytest.fixture
def recording(monkeypatch):
    RecordingQueryDict.seen = set()
    monkeypatch.setattr(wsgi, "QueryDict", RecordingQueryDict)
    return RecordingQueryDict


# Each role's requests give each name a different value, rotating, so that over every role's
# requests every name has had every value (a request costs a page view however many names it
# sets, and there are many pages).
ROLES = ["approver", "analyst", "manager", "admin_user", "outsider"]
REQUESTS_PER_ROLE = -(-len(HOSTILE_VALUES) // len(ROLES))


def _admin_paths() -> list[str]:
    """The admin's pages for every registered model: its list, its add form, and the change
    and history pages of its first row, if any."""
    paths = ["/admin/"]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        paths += [base, base + "add/"]
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            paths += [f"{base}{first}/change/", f"{base}{first}/history/"]
    return paths


def _query(names: list[str], offset: int) -> str:
    """Each name twice (a view that reads a list gets two entries), with the value
    ``offset`` places after its own in HOSTILE_VALUES."""
    n = len(HOSTILE_VALUES)
    return "&".join(
        f"{name}={HOSTILE_VALUES[(j + offset) % n]}&{name}={HOSTILE_VALUES[(j + offset) % n]}"
        for j, name in enumerate(names)
    )


class Fuzzer:
    def __init__(self, recording):
        self.recording = recording
        self.failures: list[str] = []

    def get(self, client: Client, url: str, htmx: bool) -> None:
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(url, headers=headers)
        if response.status_code >= 500:
            exc = response.exc_info[1] if response.exc_info else None
            self.failures.append(f"{response.status_code} GET {url[:200]} htmx={htmx}: {exc!r}")

    def learn(self, client: Client, paths: list[str]) -> None:
        """Plain requests: the names the views read are recorded."""
        for path in paths:
            self.get(client, path, False)

    def attack(self, client: Client, paths: list[str], offsets: range) -> None:
        names = sorted(self.recording.seen | set(JUNK_NAMES))
        for path in paths:
            for offset in offsets:
                self.get(client, f"{path}?{_query(names, offset)}", htmx=offset % 2 == 1)


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_no_url_answers_any_get_parameter_with_a_server_error(request, world, recording):
    paths = sorted({p for route in _routes() for p in world.paths(route)})
    assert len(paths) > 40
    fuzzer = Fuzzer(recording)
    fuzzer.learn(_client(request.getfixturevalue("approver")), paths)
    assert {"page", "q", "value", "campaign", "closed_within"} <= recording.seen

    for i, persona in enumerate(ROLES):
        offsets = range(i * REQUESTS_PER_ROLE, (i + 1) * REQUESTS_PER_ROLE)
        fuzzer.attack(_client(request.getfixturevalue(persona)), paths, offsets)
    # The admin's lists take any name as a filter: every value once, two at a time.
    admin_client = _client(request.getfixturevalue("admin_user"))
    fuzzer.attack(admin_client, _admin_paths(), range(0, len(HOSTILE_VALUES), 7))

    assert not fuzzer.failures, "\n".join(fuzzer.failures)


# Cursors (``?after=``, ``?before=``) are read against the listing's sort key, so each is
# tried under every sort a listing offers: a date, a number, a text, a NULL.
HOSTILE_CURSORS = [
    "2000-01-01T00:00:00%2B20:00~1",  # an offset past PostgreSQL's 15:59
    "2000-01-01T00:00:00-23:59~1",
    "0001-01-01T00:00:00%2B01:00~1",  # before year 1 once in UTC
    "9999-12-31T23:59:59-10:00~1",  # after year 9999 once in UTC
    "9" * 40 + "~" + "9" * 40,
    "1e400~1",
    "nan~-1",
    "%00~%00",
    "%ED%A0%80~1",
    "~",
]


def test_no_cursor_under_any_sort_is_answered_with_a_server_error(request, world, recording):
    paths = sorted({p for route in _routes() for p in world.paths(route)})
    client = _client(request.getfixturevalue("approver"))
    fuzzer = Fuzzer(recording)
    paged = 0
    for path in paths:
        recording.seen = set()
        response = client.get(path)
        if "after" not in recording.seen or response.status_code != 200:
            continue
        paged += 1
        sorts = sorted(set(re.findall(r"[?&]sort=([^&\"]+)", response.content.decode())))
        for i, sort in enumerate(sorts or [""]):
            after = HOSTILE_CURSORS[i % len(HOSTILE_CURSORS)]
            before = HOSTILE_CURSORS[(i + 1) % len(HOSTILE_CURSORS)]
            for query in (f"sort={sort}&after={after}", f"sort={sort}&before={before}&page=2"):
                fuzzer.get(client, f"{path}?status=any&{query}", htmx=i % 2 == 1)
    assert paged >= 2  # the queue and a case's accounts, at least
    assert not fuzzer.failures, "\n".join(fuzzer.failures)


UPLOAD_NAMES = [
    "exchanges-" + "x" * 300 + ".jsonl.gz",
    "exchanges\x00.jsonl",
    "exchanges-\u202e\uff1d.csv",
    "../../../etc/exchanges.jsonl",
    "exchanges.jsonl.gz.exe",
    ".gz",
    "accounts.csv",
]
UPLOAD_BODIES = [b"", b"\x00" * 4096, b"\x1f\x8b\x08not gzip", b"\xff\xfe\n" * 100]


@pytest.mark.parametrize("name", UPLOAD_NAMES)
def test_the_upload_form_answers_any_file_name_and_kind_without_a_server_error(
    admin_user, name, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client = _client(admin_user)
    for body, kind in zip(UPLOAD_BODIES, ["", "accounts", "bogus", "exchanges\x00"], strict=True):
        upload = SimpleUploadedFile(name, body, content_type="application/octet-stream")
        response = client.post(
            "/admin/detection/ingestreport/upload/", {"file": upload, "kind": kind}
        )
        assert response.status_code in (200, 302), (name, kind, response.status_code)
