"""Cached chart figures carry the format they were drawn in: figures cached before a change
in how charts are drawn are drawn again from the snapshot's frozen data when next shown,
while the snapshot's data, the record, stays exactly as it was."""

import json

import pytest

from cases.evidence.figures import (
    FIGURES_FORMAT,
    FORMAT_KEY,
    NETWORK_TABLE,
    build_figures,
    charts_of,
    figures_current,
    network_table,
)
from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.evidence.services import evidence_figures, evidence_snapshot_collect
from tests.cases.test_evidence_fixtures import make_campaign

pytestmark = pytest.mark.django_db

STALE = {"data": [{"type": "bar", "x": [1], "y": ["drawn the old way"]}], "layout": {}}


@pytest.fixture
def snapshot():
    case, _, _ = make_campaign(6, days=4)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE
    return snapshot


def _rows(snapshot):
    return {e.kind: e for e in Evidence.objects.filter(snapshot=snapshot, source="telemetry")}


def _charts_html(client, snapshot):
    url = f"/cases/{snapshot.case_id}/evidence/charts/?snapshot={snapshot.pk}"
    return client.get(url, headers={"HX-Request": "true"}).content.decode()


def test_a_new_snapshot_stores_its_figures_in_the_current_format(snapshot):
    rows = _rows(snapshot)
    assert all(row.figures[FORMAT_KEY] == FIGURES_FORMAT for row in rows.values())
    assert set(charts_of(rows["signals"].figures)) == {"shares"}


def test_figures_cached_in_an_older_format_are_drawn_again_and_the_data_stays(
    snapshot, analyst_client
):
    rows = _rows(snapshot)
    data_before = {kind: json.dumps(row.data, sort_keys=True) for kind, row in rows.items()}
    # As a snapshot taken before formats were marked: unmarked figures, drawn differently.
    Evidence.objects.filter(pk=rows["signals"].pk).update(figures={"shares": STALE})
    for kind in ("traffic", "network"):
        marked = {**rows[kind].figures, FORMAT_KEY: FIGURES_FORMAT - 1}
        Evidence.objects.filter(pk=rows[kind].pk).update(figures=marked)

    html = _charts_html(analyst_client, snapshot)
    assert "drawn the old way" not in html

    after = _rows(snapshot)
    assert all(figures_current(row.figures) for row in after.values())
    # The cache now holds what the current code draws from the unchanged data.
    expected = build_figures({kind: row.data for kind, row in after.items()})
    assert charts_of(after["signals"].figures) == expected["signals"]
    assert charts_of(after["traffic"].figures) == expected["traffic"]
    assert after["network"].figures[NETWORK_TABLE] == expected["network"][NETWORK_TABLE]
    assert {kind: json.dumps(row.data, sort_keys=True) for kind, row in after.items()} == (
        data_before
    )
    snapshot.refresh_from_db()
    assert snapshot.status == EvidenceSnapshot.Status.DONE and snapshot.figures_bytes > 1000


def test_a_network_cached_when_big_ones_were_webgl_is_drawn_again_in_svg(snapshot, analyst_client):
    """Format 3 drew networks past 40,000 marks with WebGL traces, which the page's plotly.js
    (the cartesian bundle) does not have: such a cached figure is never shown as it is."""
    row = _rows(snapshot)["network"]
    network = row.figures["network"]
    webgl = {**network, "data": [{**t, "type": "scattergl"} for t in network["data"]]}
    Evidence.objects.filter(pk=row.pk).update(
        figures={**row.figures, "network": webgl, FORMAT_KEY: 3}
    )
    html = _charts_html(analyst_client, snapshot)
    assert "scattergl" not in html
    assert {t["type"] for t in evidence_figures(snapshot)["network"][1]["data"]} == {"scatter"}


def test_figures_in_the_current_format_are_read_as_cached(snapshot, analyst_client):
    row = _rows(snapshot)["signals"]
    kept = {FORMAT_KEY: FIGURES_FORMAT, "shares": STALE}
    Evidence.objects.filter(pk=row.pk).update(figures=kept)
    assert evidence_figures(snapshot)["shares"] == ("signals", STALE)
    assert "drawn the old way" in _charts_html(analyst_client, snapshot)
    assert Evidence.objects.get(pk=row.pk).figures == kept


def test_the_network_table_lists_what_the_chart_draws_with_the_same_counts(snapshot):
    data = _rows(snapshot)["network"].data
    figure = evidence_figures(snapshot)["network"][1]
    drawn = {}
    for trace in figure["data"][1:]:  # after the links
        if trace["marker"].get("symbol") == "circle":
            continue  # accounts
        for text in trace["text"]:
            label, count = text.split("<br>")[:2]
            drawn[label] = int(count.split(" accounts")[0])
    table = network_table(data, limit=10_000)
    assert table.total == len(drawn) == len(table.rows)
    assert sorted(r["accounts"] for r in table.rows) == sorted(drawn.values())
    assert all(r["accounts"] > 0 for r in table.rows)
    short = network_table(data, limit=2)
    assert len(short.rows) == 2 and short.total == table.total
    assert short.rows == table.rows[:2]


def test_the_network_table_on_the_page_is_the_one_cached_beside_the_chart(snapshot, analyst_client):
    """The page reads the table with the figures, never the network's data (every account
    of the case and every membership)."""
    row = _rows(snapshot)["network"]
    table = network_table(row.data)
    assert row.figures[NETWORK_TABLE] == {"rows": table.rows, "total": table.total}
    marked = {
        **row.figures,
        NETWORK_TABLE: {
            "rows": [{**table.rows[0], "value": "cached-row", "link_value": False}],
            "total": 999,
        },
    }
    Evidence.objects.filter(pk=row.pk).update(figures=marked)
    html = _charts_html(analyst_client, snapshot)
    assert "cached-row" in html and "the 1 most shared of 999 shared things" in html
