"""Every chart the console draws uses only trace types the plotly.js the pages load has.

The pages load plotly's cartesian bundle (``static/vendor/``), which registers a dozen trace
types and no WebGL ones: a figure with any other type draws nothing in the browser. The
bundle's types are read from the vendored file itself, so swapping it for another bundle is
checked against every figure too; and every figure producer in the code has a sample here,
so a new one cannot go unchecked.
"""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

import dashboard.charts
import detection.charts.activity
import detection.charts.network
import detection.charts.series
from detection.charts import NetAccount, Share, activity_bands
from tests.detection.test_charts import hub_network, small_network

ROOT = Path(__file__).resolve().parent.parent
PRODUCERS = (
    detection.charts.activity,
    detection.charts.network,
    detection.charts.series,
    dashboard.charts,
)


def loaded_bundle() -> Path:
    """The one plotly.js file the templates load."""
    names = {
        match
        for template in (ROOT / "templates").rglob("*.html")
        for match in re.findall(r"vendor/(plotly[\w.-]*\.js)", template.read_text())
    }
    assert len(names) == 1, f"the pages load several plotly.js files: {sorted(names)}"
    return ROOT / "static" / "vendor" / names.pop()


def bundle_traces() -> set[str]:
    text = loaded_bundle().read_text()
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', text))


def test_the_pages_load_the_cartesian_bundle_without_webgl_traces():
    bundle = loaded_bundle()
    assert bundle.name == "plotly-cartesian-4.1.1.min.js"
    assert bundle.read_text()[:200].count("Licensed under the MIT license") == 1
    traces = bundle_traces()
    assert {"bar", "heatmap", "scatter"} <= traces
    assert not {t for t in traces if t.endswith("gl") or t == "scatter3d"}


def test_the_bundle_is_the_version_the_python_figures_are_built_for():
    from plotly.offline.offline import get_plotlyjs_version

    assert f"v{get_plotlyjs_version()}\n" in loaded_bundle().read_text()[:200]


def _days(n):
    return [f"2026-10-{d + 1:02d}" for d in range(n)]


SAMPLES = {
    "network_figure": [
        lambda: detection.charts.network_figure(*small_network()),
        # Accounts of several campaigns, each ringed in its colour.
        lambda: detection.charts.network_figure(
            [NetAccount(f"a{i}", 0.5, f"C{i % 2}") for i in range(4)],
            *small_network()[1:],
        ),
        # Grouped, and with more links than it draws.
        lambda: detection.charts.network_figure(
            *hub_network(groups=20, per_group=5, private=2, hubs=10),
            summarise_above=0,
            links_above=50,
        ),
    ],
    "activity_heatmap_figure": [
        lambda: detection.charts.activity_heatmap_figure(
            activity_bands(np.ones((300, 24)), [f"a{i}" for i in range(300)], max_rows=20),
            [f"2026-10-01T{h:02d}:00" for h in range(24)],
        )
    ],
    "volume_figure": [
        lambda: detection.charts.volume_figure(
            _days(3),
            {"old": [5, 5, 0], "new": [0, 0, 9]},
            [50, 50, 90],
            model_first_use={"new": "2026-10-03"},
            population_first_seen={"new": "2026-10-02"},
        )
    ],
    "registrations_figure": [
        lambda: detection.charts.registrations_figure(
            _days(2),
            {"free": [8, 0], "pro": [1, 1]},
            bursts=[{"start": "2026-10-01", "end": "2026-10-01T02:00", "count": 8}],
            outside={"before": 2, "after": 0, "earliest": "2025-01-04T10:00:00+00:00"},
        )
    ],
    "shares_figure": [
        lambda: detection.charts.shares_figure(
            [
                Share("reasoning_elicitation", 0.5, 0.03, 0.25, 12),
                Share("tool_use", 0.2, None, None, 3),
            ]
        )
    ],
    "open_by_status_priority": [
        lambda: dashboard.charts.open_by_status_priority(
            [("new", "New"), ("triage", "Triage")],
            [(1, "P1"), (2, "P2")],
            {("new", 1): 3, ("triage", 2): 1},
            {("new", 1): "/cases/?status=new&priority=1"},
        )
    ],
    "weekly_flow": [
        lambda: dashboard.charts.weekly_flow(
            ["2026-W40", "2026-W41"], [4, 2], [1, 3], ["/o/1", "/o/2"], ["/c/1", "/c/2"]
        )
    ],
    "backlog_age": [
        lambda: dashboard.charts.backlog_age(["< 1 day", "1-7 days"], [3, 1], ["/a", "/b"])
    ],
    "campaign_share": [
        lambda: dashboard.charts.campaign_share(
            ["Fleet A", "Fleet B"], [0.6, 0.4], [30, 20], ["/x", "/y"]
        )
    ],
    "period_against_previous": [
        lambda: dashboard.charts.period_against_previous(
            ["opened", "closed"], [5, 3], [4, 4], ["/o", "/c"], period="May", previous="April"
        )
    ],
    "campaign_requests": [
        lambda: dashboard.charts.campaign_requests(["Fleet A"], [12_000], ["/cases/1/"])
    ],
    "shadow_trend": [
        lambda: dashboard.charts.shadow_trend(
            ["2026-10-01 02:00 · run 1", "2026-10-02 02:00 · run 2"],
            {"precision draft": [0.9, None], "recall draft": [0.5, 0.6]},
            {"newly flagged": [3, 0], "no longer flagged": [0, 1]},
            ["/b/1", "/b/2"],
        )
    ],
}


def _producers() -> set[str]:
    """Every public function of the chart modules that returns a figure."""
    return {
        name
        for module in PRODUCERS
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__
        and not name.startswith("_")
        and "Figure" in str(inspect.signature(fn).return_annotation)
    }


def test_every_figure_producer_has_a_sample_here():
    assert _producers() == set(SAMPLES)


def test_only_the_chart_modules_build_figures():
    importers = {
        path.relative_to(ROOT).as_posix()
        for app in ("api", "cases", "common", "dashboard", "detection")
        for path in (ROOT / app).rglob("*.py")
        if re.search(r"^\s*(import|from) plotly", path.read_text(), re.MULTILINE)
    }
    assert importers == {
        "cases/evidence/figures.py",  # calls detection.charts, builds nothing of its own
        *(module.__file__.removeprefix(f"{ROOT}/") for module in PRODUCERS),
    }


@pytest.mark.parametrize(
    "name, sample",
    [(name, sample) for name, samples in SAMPLES.items() for sample in samples],
)
def test_every_chart_uses_only_traces_the_bundle_has(name, sample):
    spec = json.loads(sample().to_json())
    used = {trace.get("type", "scatter") for trace in spec["data"]}
    assert used and used <= bundle_traces(), f"{name} uses {sorted(used - bundle_traces())}"
