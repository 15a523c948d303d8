"""Every action of the case page, in a real browser: from a click (each opens its dialog,
saves, and the page shows the result and the timeline the event), from its direct URL with
JavaScript off (a page of its own that posts and lands back on the case), and from its key."""

import re

import pytest
from playwright.sync_api import expect

from cases.enforcement.models import EnforcementAction
from cases.models import AccountLabel, CaseAccount
from detection.models import KnownGood
from tests.e2e.conftest import choose_terms
from tests.factories import (
    PASSWORD,
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
# The free-text reason, not the reason code beside it in the deciding dialogs.
REASON = re.compile(r"^Reason:?$")


@pytest.fixture
def team(monkeypatch, enforcement_lists):
    """An analyst, a second analyst to assign to, an approver; a case of a campaign with two
    accounts, a second case of the same campaign to merge, and an account on neither."""
    from cases.enforcement.tasks import deliver_outbox_message_task
    from dashboard.roles import ANALYST, APPROVER, ensure_roles

    # No worker here: an approved action's deliveries are queued and left alone.
    monkeypatch.setattr(deliver_outbox_message_task, "apply_async", lambda *a, **kw: None)
    ensure_roles()
    campaign = CampaignFactory(label="Harvest fleet")
    case = CaseFactory(title="Harvest fleet", campaign=campaign, account_count=2, risk_score=0.9)
    for i in range(2):
        CaseAccountFactory(case=case, account=AccountFactory(account_id=f"fleet-{i}"))
    other = CaseFactory(title="Harvest fleet, part two", campaign=campaign, risk_score=0.5)
    AccountFactory(account_id="spare-7")
    return {
        "analyst": UserFactory(username="erin", roles=[ANALYST]),
        "colleague": UserFactory(username="otto", roles=[ANALYST]),
        "approver": UserFactory(username="april", roles=[APPROVER]),
        "case": case,
        "other": other,
    }


def _dialog(page):
    dialog = page.locator("#modal-root dialog")
    expect(dialog).to_be_visible()
    return dialog


def _saved(page, dialog, message):
    """The dialog closes, the message bar says what happened."""
    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text(message)


def _log_out(page):
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_every_case_action_from_a_click(page, live_server, login, console_errors, team):
    case, other = team["case"], team["other"]
    login(team["analyst"])
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    header = page.locator("#case-header")
    accounts = page.locator("#case-accounts")
    timeline = page.locator("#case-timeline")
    expect(timeline).to_contain_text("Nothing has happened")

    header.get_by_role("link", name="Assign…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Assignee").select_option("otto")
    dialog.get_by_role("button", name="Assign").click()
    _saved(page, dialog, "assigned to otto")
    expect(header).to_contain_text("otto")
    expect(timeline).to_contain_text("assigned to otto")

    header.get_by_role("link", name="Priority…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Priority").select_option(label="P1 critical")
    dialog.get_by_role("button", name="Set priority").click()
    _saved(page, dialog, "is now P1 critical")
    expect(header.locator(".badge.prio-1")).to_have_text("P1 critical")
    expect(timeline).to_contain_text("→ P1 critical")

    header.get_by_role("link", name="Tag…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Tag").fill("card-reuse")
    dialog.get_by_role("button", name="Add tag").click()
    _saved(page, dialog, "Tagged card-reuse")
    expect(header.locator(".tags")).to_contain_text("card-reuse")
    expect(timeline).to_contain_text("tagged card-reuse")

    header.get_by_role("link", name="Merge…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Merge this case into this one").select_option(str(other.pk))
    dialog.get_by_label(REASON).fill("Same card, same shift")
    dialog.get_by_role("button", name="Merge").click()
    _saved(page, dialog, f"#{other.pk} merged into #{case.pk}")
    expect(timeline).to_contain_text(f"merged case #{other.pk} into this one")

    accounts.get_by_role("link", name="Add account…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Account id").fill("spare-7")
    dialog.get_by_label(REASON).fill("Shares the card")
    dialog.get_by_role("button", name="Add account").click()
    _saved(page, dialog, "Added account spare-7")
    expect(accounts).to_contain_text("spare-7")
    expect(timeline).to_contain_text("added account spare-7")

    accounts.get_by_role("link", name="Remove spare-7 from this case").click()
    dialog = _dialog(page)
    dialog.get_by_label(REASON).fill("A customer after all")
    dialog.get_by_label("Dismiss as").select_option("legitimate")
    dialog.get_by_label("Reason code").select_option("known-customer")
    dialog.get_by_label(re.compile(r"^Allow-list:?$")).select_option("account")
    dialog.get_by_label("Allow-list for (days)").fill("30")
    dialog.get_by_role("button", name="Remove account").click()
    _saved(page, dialog, "Removed account spare-7")
    label = AccountLabel.objects.get(account__account_id="spare-7")
    assert (label.outcome, label.reason.code, label.decided_by) == (
        "legitimate",
        "known-customer",
        team["analyst"],
    )
    assert KnownGood.objects.get(value="spare-7").holds()
    expect(timeline).to_contain_text("labelled 1 account legitimate (known-customer)")
    expect(timeline).to_contain_text("allow-listed account spare-7 until")
    expect(accounts.get_by_role("link", name="Remove spare-7 from this case")).to_have_count(0)
    expect(timeline).to_contain_text("removed account spare-7")

    header.get_by_role("button", name="Move to Investigating").click()
    expect(header.locator(".badge.status-investigating")).to_be_visible()
    expect(timeline).to_contain_text("moved from New to Investigating")

    header.get_by_role("link", name="Status…").click()
    dialog = _dialog(page)
    dialog.get_by_label("New status").select_option("triage")
    dialog.get_by_role("button", name="Change status").click()
    _saved(page, dialog, "moved to triage")
    expect(header.locator(".badge.status-triage")).to_be_visible()
    expect(timeline).to_contain_text("moved from Investigating to Triage")

    header.get_by_role("link", name="Dismiss…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Resolution").select_option(index=1)
    dialog.get_by_label("Outcome").select_option("legitimate")
    dialog.get_by_label("Reason code").select_option("legitimate-lookalike")
    dialog.get_by_label(REASON).fill("Looked like a benchmark suite")
    dialog.get_by_role("button", name="Change status").click()
    _saved(page, dialog, "moved to dismissed")
    labels = AccountLabel.objects.filter(account__account_id__startswith="fleet-")
    assert {(x.outcome, x.reason.code, x.source) for x in labels} == {
        ("legitimate", "legitimate-lookalike", "case_closed")
    }
    expect(timeline).to_contain_text("labelled 2 accounts legitimate (legitimate-lookalike)")
    expect(header.locator(".badge.status-dismissed")).to_be_visible()
    expect(timeline).to_contain_text("moved from Triage to Dismissed")

    header.get_by_role("link", name="Reopen…").click()
    dialog = _dialog(page)
    dialog.get_by_label(REASON).fill("Same card showed up again")
    dialog.get_by_role("button", name="Change status").click()
    _saved(page, dialog, "moved to investigating")
    expect(header.locator(".badge.status-investigating")).to_be_visible()
    expect(timeline).to_contain_text("reopened from Dismissed to Investigating")

    page.locator("#note-body").fill("Fleet confirmed by the shared card.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#case-notes .note").first).to_contain_text("Fleet confirmed")
    expect(timeline).to_contain_text("added a note")

    page.get_by_role("link", name="Propose an action…").click()
    dialog = _dialog(page)
    choose_terms(dialog)
    dialog.get_by_label(REASON).fill("A fleet harvesting reasoning traces")
    dialog.get_by_role("button", name="Propose").click()
    _saved(page, dialog, "awaiting approval")
    expect(page.locator("#case-enforcement")).to_contain_text("Proposed")
    expect(header.locator(".badge.status-pending_approval")).to_be_visible()
    expect(timeline).to_contain_text("proposed ban")

    _log_out(page)
    login(team["approver"])
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.get_by_role("link", name="Approve or reject…").click()
    dialog = _dialog(page)
    dialog.get_by_label("Approve").check()
    dialog.get_by_role("button", name="Record decision").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#case-enforcement")).to_contain_text("Approved by april")
    expect(timeline).to_contain_text("approved ban")

    # A click the server refuses (the role was taken away meanwhile) says so in place.
    team["approver"].groups.clear()
    header.get_by_role("link", name="Assign…").click()
    expect(page.locator("#messages .message.error")).to_contain_text(
        "You do not have permission to do that"
    )
    expect(page.locator("#modal-root dialog")).to_have_count(0)
    assert [e for e in console_errors if "403" not in e] == []


def _nojs_login(browser, live_server, user):
    """A browser with JavaScript off, logged in through the form."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    return context, page


def _submit_at(page, url, fill, submit, message):
    """Open an action's own URL, fill it, submit: back on the case page, which says so."""
    page.goto(url)
    expect(page.locator("#main dialog")).to_have_count(0)  # a page, not a dialog
    fill(page.locator("#main form.action-form"))
    page.locator("#main form.action-form").get_by_role("button", name=submit).click()
    expect(page).to_have_url(re.compile(r"/cases/\d+/$"))
    expect(page.locator("#messages")).to_contain_text(message)


def test_every_case_action_from_its_url_without_javascript(browser, live_server, team):
    case, other = team["case"], team["other"]
    base = f"{live_server.url}/cases/{case.pk}"
    context, page = _nojs_login(browser, live_server, team["analyst"])
    header = page.locator("#case-header")

    _submit_at(
        page,
        f"{base}/assign/",
        lambda f: f.get_by_label("Assignee").select_option("otto"),
        "Assign",
        "assigned to otto",
    )
    expect(header).to_contain_text("otto")
    _submit_at(
        page,
        f"{base}/priority/",
        lambda f: f.get_by_label("Priority").select_option(label="P2 high"),
        "Set priority",
        "is now P2 high",
    )
    expect(header.locator(".badge.prio-2")).to_be_visible()
    _submit_at(
        page, f"{base}/tags/add/", lambda f: f.get_by_label("Tag").fill("nojs"), "Add tag", "nojs"
    )
    expect(header.locator(".tags")).to_contain_text("nojs")

    def merge(form):
        form.get_by_label("Merge this case into this one").select_option(str(other.pk))
        form.get_by_label(REASON).fill("Same fleet")

    _submit_at(page, f"{base}/merge/", merge, "Merge", f"#{other.pk} merged into #{case.pk}")

    def add(form):
        form.get_by_label("Account id").fill("spare-7")
        form.get_by_label(REASON).fill("Shares the card")

    _submit_at(page, f"{base}/accounts/add/", add, "Add account", "Added account spare-7")
    link = CaseAccount.objects.get(case=case, account__account_id="spare-7")
    _submit_at(
        page,
        f"{base}/accounts/{link.pk}/remove/",
        lambda f: f.get_by_label(REASON).fill("A customer"),
        "Remove account",
        "Removed account spare-7",
    )

    def dismiss(form):
        form.get_by_label("Resolution").select_option(index=1)
        form.get_by_label(REASON).fill("Benchmarks")

    # A form the server refuses comes back as the same page with the error, not a dialog.
    page.goto(f"{base}/status/?to=dismissed")
    form = page.locator("#main form.action-form")
    form.get_by_label(REASON).fill("Benchmarks")
    form.get_by_role("button", name="Change status").click()
    expect(form.locator(".has-error")).to_contain_text("Pick why the case is dismissed")
    _submit_at(page, f"{base}/status/?to=dismissed", dismiss, "Change status", "dismissed")
    expect(header.locator(".badge.status-dismissed")).to_be_visible()
    _submit_at(
        page,
        f"{base}/status/",
        lambda f: f.get_by_label(REASON).fill("Back again"),
        "Change status",
        "moved to investigating",
    )
    expect(header.locator(".badge.status-investigating")).to_be_visible()

    _submit_at(
        page,
        f"{base}/enforcement/propose/",
        lambda f: (choose_terms(f), f.get_by_label(REASON).fill("Fleet")),
        "Propose",
        "awaiting approval",
    )
    context.close()

    action = EnforcementAction.objects.get(case=case)
    context, page = _nojs_login(browser, live_server, team["approver"])
    _submit_at(
        page,
        f"{base}/enforcement/{action.pk}/decide/",
        lambda f: f.get_by_label("Approve").check(),
        "Record decision",
        "pproved",
    )
    # Without JS the sections are pages of their own: the timeline has every step.
    page.goto(f"{base}/timeline/")
    timeline = page.locator("#case-timeline")
    for line in (
        "assigned to otto",
        "→ P2 high",
        "tagged nojs",
        f"merged case #{other.pk} into this one",
        "added account spare-7",
        "removed account spare-7",
        "moved from New to Dismissed",
        "reopened from Dismissed to Investigating",
        "proposed ban",
        "approved ban",
    ):
        expect(timeline).to_contain_text(line)
    context.close()


def test_case_page_keys(page, live_server, login, console_errors, team):
    case = team["case"]
    second = CaseFactory(title="Second in the queue", risk_score=0.8)
    login(team["analyst"])
    page.goto(f"{live_server.url}/cases/")
    page.get_by_role("link", name=f"#{case.pk} Harvest fleet", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    timeline = page.locator("#case-timeline")
    expect(timeline).to_contain_text("Nothing has happened")

    # Keys are ignored while typing.
    page.locator("#note-body").click()
    page.keyboard.type("sdpj")
    expect(page.locator("#modal-root dialog")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    page.locator("#note-body").fill("")
    page.locator("#note-body").blur()

    page.keyboard.press("?")
    help_overlay = page.locator("#keys-help")
    expect(help_overlay).to_be_visible()
    for key in ("s", "d", "p", "j", "k"):
        expect(help_overlay.locator("kbd", has_text=re.compile(f"^{key}$"))).to_have_count(1)
    page.keyboard.press("Escape")
    expect(help_overlay).to_be_hidden()

    page.keyboard.press("s")
    dialog = _dialog(page)
    dialog.get_by_label("New status").select_option("investigating")
    dialog.get_by_role("button", name="Change status").click()
    _saved(page, dialog, "moved to investigating")
    expect(timeline).to_contain_text("moved from New to Investigating")

    # j and k step through the queue in its order (risk, highest first).
    page.keyboard.press("j")
    expect(page).to_have_url(f"{live_server.url}/cases/{second.pk}/")
    page.keyboard.press("k")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")
    page.keyboard.press("k")  # the first case: stays, and says so
    expect(page.locator("#messages")).to_contain_text("first case in the queue")

    expect(page.locator("#propose-action")).to_be_visible()  # its section has loaded
    page.keyboard.press("p")
    dialog = _dialog(page)
    choose_terms(dialog)
    dialog.get_by_label(REASON).fill("Fleet, by the keyboard")
    dialog.get_by_role("button", name="Propose").click()
    _saved(page, dialog, "awaiting approval")
    expect(timeline).to_contain_text("proposed ban")

    page.goto(f"{live_server.url}/cases/{second.pk}/")
    expect(page.locator("#case-timeline")).to_contain_text("Nothing has happened")
    page.keyboard.press("d")
    dialog = _dialog(page)
    dialog.get_by_label("Resolution").select_option(index=1)
    dialog.get_by_label(REASON).fill("Dismissed by key")
    dialog.get_by_role("button", name="Change status").click()
    _saved(page, dialog, "moved to dismissed")
    expect(page.locator("#case-header .badge.status-dismissed")).to_be_visible()
    expect(page.locator("#case-timeline")).to_contain_text("to Dismissed")
    # A case that has left the open queue still steps from where it stood.
    page.keyboard.press("k")
    expect(page).to_have_url(f"{live_server.url}/cases/{case.pk}/")

    _log_out(page)
    login(team["approver"])
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.get_by_role("link", name="Approve or reject…")).to_be_visible()
    page.keyboard.press("Shift+A")
    dialog = _dialog(page)
    dialog.get_by_label("Approve").check()
    dialog.get_by_role("button", name="Record decision").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#case-timeline")).to_contain_text("approved ban")
    assert console_errors == []
