"""The Evidence and Charts sections: per role, progress, failure and retry, audited prompts."""

import json

import pytest
from django.utils.html import escape

from cases.evidence.services import evidence_snapshot_collect
from cases.evidence.tasks import evidence_snapshot_task
from cases.models import AuditEvent, EvidenceSnapshot
from detection.models import Exchange
from tests.cases.conftest import PAYLOAD
from tests.cases.test_evidence_fixtures import HOSTILE, make_campaign
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, ExchangeFactory

pytestmark = pytest.mark.django_db
S = EvidenceSnapshot.Status
EVIDENCE_CHANGED = json.dumps({"evidenceChanged": {}})


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(
        evidence_snapshot_task, "apply_async", lambda args, *_, **__: calls.append(*args)
    )
    return calls


@pytest.fixture
def collected():
    case, _, _ = make_campaign(6, days=4)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == S.DONE
    return case, snapshot


def urls(case, snapshot):
    base = f"/cases/{case.pk}/evidence/"
    exchange = Exchange.objects.filter(account__case_links__case=case).first()
    return {
        "body": base,
        "charts": base + "charts/",
        "status": f"{base}{snapshot.pk}/status/",
        "prompt": f"{base}prompts/{exchange.pk}/",
    }


@pytest.mark.parametrize("persona", ["analyst_client", "approver_client", "manager_client"])
def test_every_role_that_reads_cases_sees_the_evidence(request, persona, collected, htmx_headers):
    case, snapshot = collected
    client = request.getfixturevalue(persona)
    body = client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers)
    assert body.status_code == 200
    html = body.content.decode()
    for heading in (
        "Signals at snapshot time",
        "Shared prompt templates",
        "Traffic",
        "Infrastructure",
        "Registrations",
    ):
        assert heading in html
    assert f"Snapshot <strong>#{snapshot.pk}</strong>" in html
    charts = client.get(f"/cases/{case.pk}/evidence/charts/", headers=htmx_headers).content.decode()
    for name in ("network", "activity", "volume", "registrations", "shares"):
        assert f'data-chart="fig-{snapshot.pk}-{name}"' in charts
        assert f'id="fig-{snapshot.pk}-{name}"' in charts


def test_roleless_users_get_403_everywhere(outsider_client, collected, htmx_headers):
    case, snapshot = collected
    for url in urls(case, snapshot).values():
        assert outsider_client.get(url, headers=htmx_headers).status_code == 403
    assert outsider_client.post(f"/cases/{case.pk}/evidence/refresh/").status_code == 403
    assert (
        outsider_client.post(f"/cases/{case.pk}/evidence/{snapshot.pk}/retry/").status_code == 403
    )


@pytest.mark.parametrize("view", ["body", "charts", "status", "prompt", "refresh", "retry"])
@pytest.mark.parametrize("htmx", [False, True])
def test_roleless_users_get_403_on_every_evidence_page_with_or_without_htmx(
    outsider_client, collected, view, htmx, enqueued
):
    case, snapshot = collected
    headers = {"HX-Request": "true"} if htmx else {}
    if view in ("refresh", "retry"):
        base = f"/cases/{case.pk}/evidence/"
        target = base + ("refresh/" if view == "refresh" else f"{snapshot.pk}/retry/")
        response = outsider_client.post(target, headers=headers)
    elif view == "prompt":
        response = outsider_client.post(urls(case, snapshot)[view], headers=headers)
    else:
        response = outsider_client.get(urls(case, snapshot)[view], headers=headers)
    assert response.status_code == 403
    assert list(EvidenceSnapshot.objects.values_list("pk", "status")) == [(snapshot.pk, S.DONE)]
    assert not AuditEvent.objects.filter(verb="prompt.viewed").exists() and not enqueued


def test_unknown_cases_and_other_cases_snapshots_are_404(analyst_client, collected, htmx_headers):
    case, snapshot = collected
    other = CaseFactory()
    assert analyst_client.get("/cases/999999/evidence/").status_code == 404
    assert (
        analyst_client.get(f"/cases/{other.pk}/evidence/?snapshot={snapshot.pk}").status_code == 404
    )
    assert (
        analyst_client.get(f"/cases/{other.pk}/evidence/{snapshot.pk}/status/").status_code == 404
    )
    assert analyst_client.get(f"/cases/{case.pk}/evidence/?snapshot=abc").status_code == 404


def test_hostile_telemetry_is_escaped_in_sections_and_chart_data(
    analyst_client, collected, htmx_headers
):
    case, _ = collected
    html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html  # UA, org, domain, account
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html  # prompt sample
    charts = analyst_client.get(
        f"/cases/{case.pk}/evidence/charts/", headers=htmx_headers
    ).content.decode()
    assert "<img" not in charts and "<script>alert" not in charts
    # Inside json_script the figure's own escaping survives: Plotly gets entities, not markup.
    figures = []
    start = charts.find('id="fig-')
    while start != -1:
        payload = charts[charts.index(">", start) + 1 : charts.index("</script>", start)]
        figures.append(json.loads(payload))
        start = charts.find('id="fig-', start + 1)
    assert len(figures) == 5 and all(f["data"] for f in figures)
    text = json.dumps(figures, ensure_ascii=False)
    assert "<img" not in text and "<script" not in text and "&lt;img" in text


def test_long_hostile_telemetry_is_clipped_with_the_whole_text_behind_the_control(
    analyst_client, htmx_headers
):
    # Each longer than the 48 characters the shared-infrastructure tables show, and shorter
    # than the 300 the snapshot keeps.
    long_ua = f"{PAYLOAD} evil-bot/1.0 (+https://bots.example/{'u' * 40})"
    long_org = f"{PAYLOAD} org-{'o' * 40}"
    long_domain = f"{PAYLOAD}{'d' * 40}.example"
    case = CaseFactory(account_count=2)
    for _ in range(2):
        account = AccountFactory(org_id=long_org, email_domain=long_domain)
        CaseAccountFactory(case=case, account=account)
        ExchangeFactory.create_batch(3, account=account, user_agent=long_ua)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == S.DONE

    for headers in (htmx_headers, {}):
        html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=headers).content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        for value in (long_ua, long_org, long_domain):
            assert len(value) > 48
            control = (
                f'<details class="clip"><summary title="Show all {len(value)} characters">'
                f'<span class="clip-short">{escape(value[:47])}…</span>'
                '<span class="clip-less">Show less</span></summary>'
                f'<span class="clip-full">{escape(value)}</span></details>'
            )
            assert control in html
            # The whole text is nowhere on the page but inside the control.
            assert html.count(escape(value)) == html.count(control)


def test_the_full_page_shows_evidence_and_charts_without_htmx(manager_client, collected):
    case, snapshot = collected
    page = manager_client.get(f"/cases/{case.pk}/evidence/")
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html
    assert (
        "vendor/plotly-cartesian-4.1.1.min.js" in html
        and f'data-chart="fig-{snapshot.pk}-network"' in html
    )


def test_the_network_has_a_table_beside_it_and_nodes_that_link(analyst_client, collected):
    case, snapshot = collected
    html = analyst_client.get(f"/cases/{case.pk}/evidence/charts/").content.decode()
    assert "The network as a table" in html
    table = html[html.index('class="network-table"') :].split("</details>")[0]
    assert "/accounts/shared/" in table and '<th scope="col">Kind</th>' in table
    assert f'data-chart="fig-{snapshot.pk}-network" data-chart-links' in html
    figure = snapshot.items.get(kind="network").figures["network"]
    links = [d for t in figure["data"] for d in t.get("customdata") or [] if d]
    assert links and all(link.startswith("/accounts/") for link in links)


def test_the_fragment_needs_a_bounded_number_of_queries(
    analyst_client, collected, htmx_headers, django_assert_max_num_queries
):
    case, _ = collected
    with django_assert_max_num_queries(14):
        analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers)
    with django_assert_max_num_queries(10):
        analyst_client.get(f"/cases/{case.pk}/evidence/charts/", headers=htmx_headers)


def test_a_running_snapshot_polls_until_done(analyst_client, htmx_headers):
    case = CaseFactory()
    snapshot = EvidenceSnapshot.objects.create(
        case=case, status=S.RUNNING, progress=40, stage="collecting from telemetry"
    )
    body = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert 'hx-trigger="every 2s"' in body and "collecting from telemetry" in body
    assert 'value="40"' in body
    status = analyst_client.get(
        f"/cases/{case.pk}/evidence/{snapshot.pk}/status/", headers=htmx_headers
    )
    assert 'hx-trigger="every 2s"' in status.content.decode() and "HX-Trigger" not in status.headers

    EvidenceSnapshot.objects.filter(pk=snapshot.pk).update(status=S.DONE, progress=100)
    done = analyst_client.get(
        f"/cases/{case.pk}/evidence/{snapshot.pk}/status/", headers=htmx_headers
    )
    assert "every 2s" not in done.content.decode()  # polling stops
    assert done.headers["HX-Trigger"] == EVIDENCE_CHANGED


def test_a_failed_snapshot_shows_its_error_and_retry_for_analysts_only(
    analyst_client, manager_client, htmx_headers, enqueued, django_capture_on_commit_callbacks
):
    case = CaseFactory()
    snapshot = EvidenceSnapshot.objects.create(
        case=case, status=S.FAILED, error=f"OperationalError: {HOSTILE}"
    )
    retry_url = f"/cases/{case.pk}/evidence/{snapshot.pk}/retry/"
    analyst_html = analyst_client.get(
        f"/cases/{case.pk}/evidence/", headers=htmx_headers
    ).content.decode()
    assert "failed" in analyst_html and "OperationalError: &lt;img" in analyst_html
    assert retry_url in analyst_html
    manager_html = manager_client.get(
        f"/cases/{case.pk}/evidence/", headers=htmx_headers
    ).content.decode()
    assert "OperationalError" in manager_html and retry_url not in manager_html
    assert manager_client.post(retry_url, headers=htmx_headers).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(retry_url, headers=htmx_headers)
    assert response.status_code == 204 and response.headers["HX-Trigger"] == EVIDENCE_CHANGED
    assert EvidenceSnapshot.objects.get(pk=snapshot.pk).status == S.PENDING
    assert enqueued == [snapshot.pk]


def test_refresh_adds_a_snapshot_for_analysts_and_not_for_managers(
    analyst_client,
    manager_client,
    collected,
    htmx_headers,
    enqueued,
    django_capture_on_commit_callbacks,
):
    case, old = collected
    assert manager_client.post(f"/cases/{case.pk}/evidence/refresh/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(f"/cases/{case.pk}/evidence/refresh/", headers=htmx_headers)
    assert response.status_code == 204 and response.headers["HX-Trigger"] == EVIDENCE_CHANGED
    new = EvidenceSnapshot.objects.filter(case=case).first()
    assert new.pk != old.pk and new.status == S.PENDING and enqueued == [new.pk]
    # The page keeps the old evidence while the new snapshot runs.
    html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert f"Snapshot <strong>#{old.pk}</strong>" in html and "every 2s" in html
    no_js = analyst_client.post(f"/cases/{case.pk}/evidence/refresh/")
    assert no_js.status_code == 302 and no_js["Location"].endswith(
        f"/cases/{case.pk}/#case-evidence"
    )


def test_older_snapshots_stay_listed_and_viewable(analyst_client, collected, htmx_headers):
    case, old = collected
    new = EvidenceSnapshot.objects.create(case=case)
    evidence_snapshot_collect(new.pk)
    html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert f"?snapshot={old.pk}" in html and f"Snapshot <strong>#{new.pk}</strong>" in html
    page = analyst_client.get(f"/cases/{case.pk}/evidence/?snapshot={old.pk}").content.decode()
    assert (
        f"Snapshot <strong>#{old.pk}</strong>" in page
        and f'data-chart="fig-{old.pk}-network"' in page
    )


def test_viewing_a_full_prompt_is_audited(analyst, analyst_client, collected, htmx_headers):
    case, _ = collected
    exchange = Exchange.objects.filter(account__case_links__case=case).order_by("pk").first()
    response = analyst_client.post(
        f"/cases/{case.pk}/evidence/prompts/{exchange.pk}/", headers=htmx_headers
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    event = AuditEvent.objects.get(verb="prompt.viewed")
    assert (event.actor, event.case_id, event.target_id) == (analyst, case.pk, str(exchange.pk))
    assert event.data["exchange_id"] == exchange.exchange_id


@pytest.mark.parametrize("fragment", [False, True])
def test_a_get_of_the_prompt_shows_a_button_and_neither_the_text_nor_an_audit_event(
    analyst, analyst_client, collected, htmx_headers, fragment
):
    """A link followed from anywhere (another site included) records nothing in the
    analyst's name and serves no prompt text: only the button's POST does."""
    case, _ = collected
    exchange = Exchange.objects.filter(account__case_links__case=case).order_by("pk").first()
    url = f"/cases/{case.pk}/evidence/prompts/{exchange.pk}/"
    response = analyst_client.get(url, headers=htmx_headers if fragment else {})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'hx-post="{url}"' in html and "Show the full text" in html
    assert "<pre" not in html
    assert not AuditEvent.objects.filter(verb="prompt.viewed").exists()
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(analyst)
    assert strict.post(url).status_code == 403
    assert not AuditEvent.objects.filter(verb="prompt.viewed").exists()
    # The page after the POST is never kept by the browser, so it cannot be shown unaudited.
    assert analyst_client.post(url)["Cache-Control"] == "no-store"


def test_prompt_text_needs_its_permission_and_an_account_on_the_case(
    manager_client, analyst_client, collected
):
    case, _ = collected
    exchange = Exchange.objects.filter(account__case_links__case=case).first()
    assert (
        manager_client.post(f"/cases/{case.pk}/evidence/prompts/{exchange.pk}/").status_code == 403
    )
    stranger = ExchangeFactory()
    assert (
        analyst_client.post(f"/cases/{case.pk}/evidence/prompts/{stranger.pk}/").status_code == 404
    )
    assert not AuditEvent.objects.filter(verb="prompt.viewed").exists()
