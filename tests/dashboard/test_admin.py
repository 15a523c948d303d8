"""The admin is a window, not a back door: telemetry, detection results and cases are
read-only there, nothing of theirs can be deleted, a prompt is never shown, and every change
an admin can make (detection configuration, tags, users and roles) is in the audit log with
its old and new values."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from cases.models import AuditEvent, Case, Tag
from common.admin import AuditedAdmin, ReadOnlyAdmin
from dashboard.roles import ANALYST, APPROVER
from detection.config import current_config
from detection.models import (
    Account,
    AccountScore,
    Campaign,
    DetectionRun,
    Exchange,
    IngestReport,
)
from tests.detection.test_config import _form_data
from tests.factories import (
    AccountScoreFactory,
    CampaignFactory,
    CaseFactory,
    DetectionRunFactory,
    ExchangeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(tmp_path):
    exchange = ExchangeFactory(prompt="SECRET PROMPT <b>text</b>")
    return {
        Account: exchange.account,
        Exchange: exchange,
        Campaign: CampaignFactory(),
        AccountScore: AccountScoreFactory(),
        DetectionRun: DetectionRunFactory(),
        IngestReport: IngestReport.objects.create(path=str(tmp_path / "a.jsonl"), kind="accounts"),
        Case: CaseFactory(title="Read only"),
    }


def _url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize(
    "model", [Account, Exchange, Campaign, AccountScore, DetectionRun, IngestReport, Case]
)
def test_telemetry_results_and_cases_are_read_only_and_undeletable(admin_client_, rows, model):
    row = rows[model]
    change = _url(model, "change", row.pk)
    assert admin_client_.get(change).status_code == 200  # shown
    before = {f.name: getattr(row, f.attname) for f in model._meta.concrete_fields}
    admin_client_.post(change, {"title": "Rewritten", "status": "dismissed", "prompt": "x"})
    row.refresh_from_db()
    assert {f.name: getattr(row, f.attname) for f in model._meta.concrete_fields} == before
    assert admin_client_.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert admin_client_.get(_url(model, "add")).status_code == 403
    bulk = admin_client_.post(
        _url(model, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk]}
    )
    assert bulk.status_code in (200, 302)
    assert model.objects.filter(pk=row.pk).exists()


def test_the_admin_never_shows_a_prompt(admin_client_, rows):
    exchange = rows[Exchange]
    page = admin_client_.get(_url(Exchange, "change", exchange.pk)).content.decode()
    assert "SECRET PROMPT" not in page
    listing = admin_client_.get(_url(Exchange, "changelist")).content.decode()
    assert "SECRET PROMPT" not in listing


def test_a_detection_config_change_is_audited_with_old_and_new_values(admin_client_, admin_user):
    v1 = current_config()
    response = admin_client_.post(
        _url(type(v1), "change", v1.pk), _form_data(v1, lone_threshold=0.9)
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="admin.added")
    assert event.actor == admin_user
    assert event.target_type == "detection.detectionconfig"
    changes = event.data["changes"]
    assert changes["lone_threshold"] == [v1.params["lone_threshold"], 0.9]
    assert changes["version"] == [1, 2]
    assert changes["reason"][1] == "catch a new phrasing"
    old, new = changes["reasoning_patterns"]
    assert "narrate your cogitation" in "".join(new) and "narrate your cogitation" not in "".join(
        old
    )
    assert set(changes) == {"lone_threshold", "reasoning_patterns", "version", "reason"}


def test_roles_given_and_taken_are_audited(admin_client_, admin_user, roles):
    user = UserFactory(username="newbie", roles=[ANALYST])
    url = _url(type(user), "change", user.pk)
    page = admin_client_.get(url)
    data = {
        k: v
        for k, v in page.context["adminform"].form.initial.items()
        if k not in ("password", "groups", "user_permissions", "last_login", "date_joined")
        and v is not None
    }
    data.update(
        groups=[Group.objects.get(name=APPROVER).pk],
        is_active="on",
        date_joined_0="2026-01-01",
        date_joined_1="00:00:00",
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(verb="admin.changed")
    assert (event.actor, event.target_id) == (admin_user, str(user.pk))
    assert event.data["changes"]["groups"] == [[ANALYST], [APPROVER]]


def test_tag_renames_and_deletes_are_audited(admin_client_):
    tag = Tag.objects.create(name="fleet")
    response = admin_client_.post(_url(Tag, "change", tag.pk), {"name": "fleet-a"})
    assert response.status_code == 302
    renamed = AuditEvent.objects.get(verb="admin.changed")
    assert renamed.data["changes"] == {"name": ["fleet", "fleet-a"]}
    admin_client_.post(_url(Tag, "delete", tag.pk), {"post": "yes"})
    assert not Tag.objects.exists()
    deleted = AuditEvent.objects.get(verb="admin.deleted")
    assert deleted.target_id == str(tag.pk) and deleted.data["object"] == "fleet-a"


def test_starting_a_run_from_the_admin_is_audited(admin_client_, admin_user):
    # The run's task is enqueued on commit, which the test's transaction never reaches.
    response = admin_client_.post(reverse("admin:detection_detectionrun_run_now"))
    assert response.status_code == 302
    run = DetectionRun.objects.get()
    event = AuditEvent.objects.get(verb="admin.added")
    assert (event.actor, event.target_type, event.target_id) == (
        admin_user,
        "detection.detectionrun",
        str(run.pk),
    )


# Admins that write through a service of their own, which writes the audit log (each tested
# with it): the detection configuration (a new version per save, above), the allowlist
# (tests/detection/test_allowlist.py), service tokens (tests/api/test_tokens.py).
OWN_AUDIT = {"detection.DetectionConfig", "detection.KnownGood", "api.ServiceToken"}


def test_every_model_in_the_admin_is_read_only_or_audited():
    """A model registered later cannot open a door the audit log does not see."""
    neither = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, ReadOnlyAdmin | AuditedAdmin)
        and model._meta.label not in OWN_AUDIT
    ]
    assert neither == []
