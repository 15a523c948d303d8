from html.parser import HTMLParser

import pytest
from django.utils.html import escape

from cases.models import AuditEvent, Note, Notification
from tests.cases.conftest import PAYLOAD
from tests.factories import CaseFactory, NoteFactory

pytestmark = pytest.mark.django_db


def notes_url(case):
    return f"/cases/{case.pk}/notes/"


def test_an_analyst_adds_a_note_and_the_timeline_is_told(analyst_client, htmx_headers):
    case = CaseFactory()
    response = analyst_client.post(
        notes_url(case), {"body": "Same **card** on 40 keys"}, headers=htmx_headers
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notesChanged"
    assert b"<strong>card</strong>" in response.content
    note = Note.objects.get(case=case)
    assert AuditEvent.objects.filter(case=case, verb="note.added", target_id=str(note.pk)).exists()


def test_without_js_adding_a_note_redirects_to_the_case(analyst_client):
    case = CaseFactory()
    response = analyst_client.post(notes_url(case), {"body": "plain"})
    assert response.status_code == 302 and response["Location"].endswith("#case-notes")


def test_an_empty_note_is_refused_with_200(analyst_client, htmx_headers):
    case = CaseFactory()
    response = analyst_client.post(notes_url(case), {"body": "   "}, headers=htmx_headers)
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not Note.objects.exists()


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(html: str):
    parser = _Elements()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil></iframe>",
        "![x](javascript:alert(1))",
    ],
)
def test_note_markdown_never_runs_script(analyst_client, analyst, body):
    case = CaseFactory()
    NoteFactory(case=case, author=analyst, body=body)
    content = analyst_client.get(notes_url(case), headers={"HX-Request": "true"}).content.decode()
    for tag, attrs in elements(content):
        assert tag not in ("script", "img", "iframe")
        assert not any(name.startswith("on") for name in attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript")


def test_raw_html_in_a_note_is_shown_as_text(analyst_client, analyst):
    case = CaseFactory()
    NoteFactory(case=case, author=analyst, body="<b>bold?</b> and a [link](https://example.org)")
    content = analyst_client.get(notes_url(case)).content.decode()
    assert "&lt;b&gt;bold?&lt;/b&gt;" in content
    assert (
        'href="https://example.org"' in content and 'rel="noopener noreferrer nofollow"' in content
    )


def test_mentions_notify_people_who_can_read_cases(analyst_client, analyst2, manager, outsider):
    case = CaseFactory(title="Fleet 7")
    analyst_client.post(
        notes_url(case), {"body": "@alex @mona please look; @otto @ana @nobody mail x@mona.test"}
    )
    notified = set(Notification.objects.values_list("user__username", flat=True))
    assert notified == {"alex", "mona"}
    message = Notification.objects.get(user=analyst2).message
    assert "ana mentioned you" in message and "Fleet 7" in message


def test_notifications_page_shows_unread_count_and_marks_read(
    analyst_client, approver_client, approver
):
    case = CaseFactory()
    analyst_client.post(notes_url(case), {"body": "@april your call"})
    page = approver_client.get("/cases/notifications/")
    assert b"ana mentioned you" in page.content
    assert b'class="notif-count">1<' in page.content
    note = Notification.objects.get(user=approver)
    opened = approver_client.post("/cases/notifications/read/", {"id": note.pk, "open": "1"})
    assert opened.status_code == 302 and opened["Location"] == f"/cases/{case.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert b"notif-count" not in approver_client.get("/cases/").content


def test_a_hostile_case_title_in_a_mention_stays_text(analyst_client, approver_client):
    case = CaseFactory(title=PAYLOAD)
    analyst_client.post(notes_url(case), {"body": "@april have a look"})
    content = approver_client.get("/cases/notifications/").content.decode()
    assert "<script>alert(1)" not in content and "<img src=x" not in content
    message = f"ana mentioned you on case #{case.pk}: {escape(PAYLOAD)}"
    assert f'<button type="submit" class="link">{message}</button>' in content


def test_edit_own_note_keeps_history_and_only_new_mentions_notify(
    analyst_client, analyst, analyst2, approver, htmx_headers
):
    case = CaseFactory()
    note = NoteFactory(case=case, author=analyst, body="first @alex")
    form = analyst_client.get(f"/cases/{case.pk}/notes/{note.pk}/edit/", headers=htmx_headers)
    assert form.status_code == 200 and b"first @alex" in form.content
    saved = analyst_client.post(
        f"/cases/{case.pk}/notes/{note.pk}/edit/",
        {"body": "second @alex @april"},
        headers=htmx_headers,
    )
    assert saved.status_code == 200
    assert saved.content.lstrip().startswith(f'<li id="note-{note.pk}"'.encode())
    assert b"1 earlier version" in saved.content
    note.refresh_from_db()
    assert note.body == "second @alex @april" and note.edited_at is not None
    assert list(note.revisions.values_list("body", flat=True)) == ["first @alex"]
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["april"]
    history = analyst_client.get(f"/cases/{case.pk}/notes/{note.pk}/history/", headers=htmx_headers)
    assert b"<dialog" in history.content and b"first" in history.content


def test_nobody_edits_someone_elses_note(analyst_client, analyst2, approver_client):
    case = CaseFactory()
    note = NoteFactory(case=case, author=analyst2, body="mine")
    for client in (analyst_client, approver_client):
        assert client.get(f"/cases/{case.pk}/notes/{note.pk}/edit/").status_code == 403
        assert (
            client.post(f"/cases/{case.pk}/notes/{note.pk}/edit/", {"body": "x"}).status_code == 403
        )
    note.refresh_from_db()
    assert note.body == "mine"


def test_a_note_is_only_reachable_through_its_own_case(analyst_client, analyst):
    note = NoteFactory(author=analyst)
    other = CaseFactory()
    assert analyst_client.get(f"/cases/{other.pk}/notes/{note.pk}/edit/").status_code == 404
    assert analyst_client.get(f"/cases/{other.pk}/notes/{note.pk}/history/").status_code == 404


def test_managers_read_notes_without_a_form(manager_client, analyst):
    case = CaseFactory()
    NoteFactory(case=case, author=analyst, body="visible to managers")
    content = manager_client.get(notes_url(case)).content
    assert b"visible to managers" in content and b'name="body"' not in content
