"""Chart builders are pure: plain data in, a figure out; hostile text is escaped in every label."""

import json
import random

import numpy as np
import pytest

from detection.charts import (
    NetAccount,
    Share,
    SharedKey,
    activity_bands,
    activity_heatmap_figure,
    network_figure,
    registrations_figure,
    safe_text,
    shares_figure,
    shift_order,
    volume_figure,
)

EVIL = '<img src=x onerror="alert(1)">'
ESCAPED = '&lt;img src=x onerror="alert(1)"&gt;'


def as_json(fig) -> dict:
    return json.loads(fig.to_json())


def strings(value):
    """Every string anywhere in a figure's JSON (plotly's to_json hides "<" as \\u003c)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_no_raw_markup(fig):
    texts = list(strings(as_json(fig)))
    assert not [t for t in texts if "<img" in t or "<script" in t]
    return "\n".join(texts)


def assert_chart_basics(spec: dict):
    layout = spec["layout"]
    assert layout["title"]["text"]
    # Every axis a reader reads is named; a layout's hidden axes (the network's) need no name.
    assert layout["xaxis"]["title"]["text"] or layout["xaxis"]["showticklabels"] is False
    assert layout["meta"]["caption"].startswith("Look for")
    assert all(t.get("hovertemplate") or t.get("hoverinfo") == "skip" for t in spec["data"])


def test_safe_text_truncates_then_escapes():
    assert safe_text(EVIL) == ESCAPED
    assert safe_text("a" * 100, 10) == "a" * 9 + "…"
    assert safe_text(None) == ""


def small_network():
    accounts = [NetAccount(f"acct-{i}{EVIL if i == 0 else ''}", 0.1 * i, "") for i in range(6)]
    keys = [
        SharedKey("ip", "203.0.113.1"),
        SharedKey("user_agent", EVIL),
        SharedKey("asn", "14061", "hosting"),
    ]
    memberships = [(i, 0) for i in range(4)] + [(i, 1) for i in range(3)] + [(5, 2)]
    return accounts, keys, memberships


def test_network_draws_accounts_and_what_they_share():
    spec = as_json(network_figure(*small_network()))
    assert_chart_basics(spec)
    edges, *kinds, accounts = spec["data"]
    assert edges["mode"] == "lines"
    # One link per membership: start, end, gap.
    assert len(edges["x"]) == 8 * 3 and edges["x"][2] is None
    # Each kind of shared thing is a trace of its own: its own shape, colour and legend name.
    assert [k["name"] for k in kinds] == ["ASN (1)", "IP (1)", "user agent (1)"]
    assert len({k["marker"]["symbol"] for k in kinds}) == 3
    assert len({k["marker"]["color"] for k in kinds}) == 3
    assert accounts["marker"]["symbol"] == "circle"
    assert len(accounts["x"]) == 6 and accounts["marker"]["color"][5] == 0.5
    assert "4 accounts in this case" in kinds[1]["text"][0]
    assert ESCAPED in kinds[2]["text"][0]
    assert spec["data"][0]["type"] == "scatter"


def test_network_nodes_carry_the_page_they_open():
    accounts, keys, memberships = small_network()
    spec = as_json(
        network_figure(
            accounts,
            keys,
            memberships,
            account_urls=[f"/accounts/{i}/" for i in range(6)],
            key_urls=["/accounts/shared/ip/?value=203.0.113.1", None, "/accounts/shared/asn/"],
        )
    )
    by_name = {t["name"]: t for t in spec["data"][1:]}
    assert by_name["IP (1)"]["customdata"] == ["/accounts/shared/ip/?value=203.0.113.1"]
    assert by_name["user agent (1)"]["customdata"] == [None]
    assert by_name["accounts (colour: risk)"]["customdata"] == [f"/accounts/{i}/" for i in range(6)]


def test_network_colours_by_risk_and_rings_each_campaign_when_there_are_several():
    accounts = [NetAccount(f"a{i}", 0.2 + 0.2 * i, f"Campaign {i % 2}{EVIL}") for i in range(4)]
    spec = as_json(network_figure(accounts, [SharedKey("ip", "1.2.3.4")], [(0, 0), (1, 0)]))
    traces = spec["data"][2:]  # after the links and the one IP
    assert [t["name"] for t in traces] == [
        f"Campaign 0{ESCAPED} (ring; fill: risk)",
        f"Campaign 1{ESCAPED} (ring; fill: risk)",
    ]
    # One sequential risk scale for every account, its bar drawn once; the rings differ.
    assert traces[0]["marker"]["color"] == [0.2, 0.6] and traces[1]["marker"]["color"] == [0.4, 0.8]
    assert {t["marker"]["colorscale"][0][1] for t in traces} == {
        traces[0]["marker"]["colorscale"][0][1]
    }
    assert [t["marker"]["showscale"] for t in traces] == [True, False]
    assert traces[0]["marker"]["line"]["color"] != traces[1]["marker"]["line"]["color"]


def test_network_accounts_are_circles_and_each_kind_of_thing_its_own_shape():
    spec = as_json(network_figure(*small_network()))
    symbols = {t["name"]: t["marker"].get("symbol") for t in spec["data"][1:]}
    accounts = symbols.pop("accounts (colour: risk)")
    assert accounts == "circle"
    assert len(set(symbols.values())) == len(symbols) and "circle" not in symbols.values()


def test_network_is_deterministic():
    assert network_figure(*small_network()).to_json() == network_figure(*small_network()).to_json()


def test_big_fleets_are_summarised_into_groups_and_stay_light():
    n = 3000
    accounts = [NetAccount(f"fleet-{i}", 0.9, "Fleet") for i in range(n)]
    keys = [SharedKey("ip", f"10.0.{i // 250}.{i % 250}") for i in range(200)]
    keys += [SharedKey("payment", f"card-{j}") for j in range(5)]
    memberships = [(i, i % 200) for i in range(n)] + [(i, 200 + i % 5) for i in range(n)]
    fig = network_figure(accounts, keys, memberships)
    spec = as_json(fig)
    groups = spec["data"][-1]
    assert groups["name"].startswith("groups of accounts")
    assert len(groups["x"]) < 200
    assert sum(int(t.split(" accounts")[0]) for t in groups["text"]) == n
    assert "groups of 3000 accounts" in spec["layout"]["title"]["text"]
    assert "more than 400 accounts or 8,000 links" in spec["layout"]["meta"]["caption"]
    assert len(fig.to_json()) < 400_000


def test_a_few_hundred_accounts_with_many_links_are_grouped_too():
    """300 accounts each using 100 of 200 shared addresses: 30,000 lines drawn one by one."""
    n = 300
    accounts = [NetAccount(f"fleet-{i}", 0.9, "Fleet") for i in range(n)]
    keys = [SharedKey("ip", f"10.0.{i // 250}.{i % 250}") for i in range(200)]
    memberships = [(i, (i + j) % 200) for i in range(n) for j in range(100)]
    spec = as_json(network_figure(accounts, keys, memberships))
    assert spec["data"][-1]["name"].startswith("groups of accounts")
    assert f"groups of {n} accounts" in spec["layout"]["title"]["text"]
    assert len(spec["data"][0]["x"]) < 3 * 8_000
    few = as_json(network_figure(accounts, keys, memberships[: 20 * n]))
    assert few["data"][-1]["name"].startswith("accounts")
    assert "drawn as groups" not in few["layout"]["meta"]["caption"]


def hub_network(groups=300, per_group=30, private=8, hubs=100, hubs_each=2):
    """Groups of accounts each with addresses of their own, every account also on two of the
    same 100 ASNs: a few hundred groups, each linked to most ASNs (13,700 links once grouped).
    The marks and line points came to over 40,000, where the chart used to switch to WebGL."""
    rng = random.Random(3)
    n = groups * per_group
    accounts = [NetAccount(f"fleet-{i}", 0.8, "Fleet") for i in range(n)]
    keys = [SharedKey("ip", f"10.{i // 250}.{i % 250}.1") for i in range(groups * private)]
    keys += [SharedKey("asn", str(64_500 + h)) for h in range(hubs)]
    memberships = [
        (g * per_group + a, g * private + k)
        for g in range(groups)
        for a in range(per_group)
        for k in range(private)
    ]
    memberships += [
        (i, groups * private + h) for i in range(n) for h in rng.sample(range(hubs), hubs_each)
    ]
    return accounts, keys, memberships


def segments(lines: dict) -> set[tuple]:
    x, y = lines["x"], lines["y"]
    return {(x[i], y[i], x[i + 1], y[i + 1]) for i in range(0, len(x), 3)}


def test_a_network_with_more_links_than_drawn_stays_svg_and_keeps_the_heaviest():
    accounts, keys, memberships = hub_network()
    spec = as_json(network_figure(accounts, keys, memberships))
    assert {t["type"] for t in spec["data"]} == {"scatter"}
    lines, groups = spec["data"][0], spec["data"][-1]
    assert len(lines["x"]) == 3 * 8_000
    caption = spec["layout"]["meta"]["caption"]
    assert "Only the 8,000 links of " in caption
    links = int(caption.split("links of ")[1].split(" ")[0].replace(",", ""))
    nodes = sum(len(t["x"]) for t in spec["data"][1:])
    # Past where the chart used to switch to WebGL (40,000 marks and line points), had every
    # link been drawn; every node is still drawn.
    assert nodes + 3 * links > 40_000
    assert nodes == len(keys) + len(groups["x"])
    # The links left out are the lightest: each group's links to its own addresses (all its
    # accounts share them) stay; lines to the ASNs (a few of its accounts each) go first.
    at_group = set(zip(groups["x"], groups["y"], strict=True))
    linked = {(x1, y1) for x0, y0, x1, y1 in segments(lines) if (x0, y0) in at_group}
    ips = next(t for t in spec["data"] if t["name"].startswith("IP"))
    assert set(zip(ips["x"], ips["y"], strict=True)) <= linked


def test_a_network_past_its_lines_says_how_many_it_left_out():
    accounts, keys, memberships = hub_network(groups=20, per_group=5, private=2, hubs=10)
    every = as_json(network_figure(accounts, keys, memberships, summarise_above=0))
    n = len(every["data"][0]["x"]) // 3
    assert "Only the" not in every["layout"]["meta"]["caption"]
    fewer = as_json(
        network_figure(accounts, keys, memberships, summarise_above=0, links_above=n - 5)
    )
    assert len(fewer["data"][0]["x"]) == 3 * (n - 5)
    assert segments(fewer["data"][0]) < segments(every["data"][0])
    assert (
        f"Only the {n - 5} links of {n} that the most accounts share are drawn."
        in (fewer["layout"]["meta"]["caption"])
    )
    assert fewer["data"][1:] == every["data"][1:]


def test_network_escapes_every_telemetry_string():
    text = assert_no_raw_markup(network_figure(*small_network()))
    assert ESCAPED in text


def test_shift_order_puts_synchronised_accounts_together():
    m = np.zeros((6, 48))
    for row in (0, 2, 4):  # night shift 02:00-06:00
        m[row, [2, 3, 4, 5, 26, 27, 28, 29]] = 5
    for row in (1, 3, 5):  # day shift 14:00-18:00
        m[row, [14, 15, 16, 17, 38, 39, 40, 41]] = 5
    order = shift_order(m, first_hour=0, bucket_hours=1).tolist()
    assert sorted(order[:3]) == [0, 2, 4] and sorted(order[3:]) == [1, 3, 5]


def test_round_the_clock_accounts_go_last():
    m = np.zeros((3, 24))
    m[0, :] = 3  # busy all day: no phase
    m[1, 9:12] = 4
    m[2, 10:13] = 4
    assert shift_order(m, 0, 1).tolist()[-1] == 0


def test_heatmap_groups_big_fleets_into_bands():
    rng = np.random.default_rng(1)
    m = rng.poisson(1, (1000, 48)).astype(float)
    bands = activity_bands(m, [f"a{i}" for i in range(1000)], max_rows=100)
    assert len(bands.labels) == 100 and sum(bands.sizes) == 1000
    spec = as_json(
        activity_heatmap_figure(bands, [f"2026-10-01T{h % 24:02d}:00" for h in range(48)])
    )
    assert_chart_basics(spec)
    heat = spec["data"][0]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 100 and len(heat["z"][0]) == 48
    assert "mean exchanges per account" in heat["hovertemplate"]


def test_heatmap_rows_are_single_accounts_when_few_and_escaped():
    m = np.ones((2, 3))
    bands = activity_bands(m, [EVIL, "b"], max_rows=10)
    fig = activity_heatmap_figure(bands, ["t0", "t1", "t2"])
    spec = as_json(fig)
    assert spec["data"][0]["z"] == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert ESCAPED in spec["data"][0]["y"]
    assert_no_raw_markup(fig)


def test_volume_marks_the_pivot_to_a_new_model():
    buckets = ["2026-10-01", "2026-10-02", "2026-10-03"]
    fig = volume_figure(
        buckets,
        {"old": [10, 10, 0], EVIL: [0, 0, 12]},
        [100, 100, 120],
        model_first_use={"old": "2026-10-01", EVIL: "2026-10-03"},
        population_first_seen={EVIL: "2026-10-02T22:00:00+00:00"},
    )
    spec = as_json(fig)
    assert_chart_basics(spec)
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    assert [b["y"] for b in bars] == [[0, 0, 12], [10, 10, 0]] or [b["y"] for b in bars] == [
        [10, 10, 0],
        [0, 0, 12],
    ]
    assert spec["data"][-1]["yaxis"] == "y2"
    (line,) = spec["layout"]["shapes"]
    assert line["x0"] == "2026-10-03"
    (note,) = spec["layout"]["annotations"]
    assert ESCAPED in note["text"] and "first seen anywhere 2026-10-02T22:00" in note["hovertext"]
    assert_no_raw_markup(fig)


def test_registrations_shade_bursts_and_stack_plans():
    fig = registrations_figure(
        ["2026-09-28T00:00", "2026-09-28T01:00"],
        {"free": [8, 0], EVIL: [4, 1]},
        bursts=[{"start": "2026-09-28T00:00", "end": "2026-09-28T00:11", "count": 12}],
        bucket_label="hour",
    )
    spec = as_json(fig)
    assert_chart_basics(spec)
    assert spec["layout"]["shapes"][0]["x0"] == "2026-09-28T00:00"
    assert "1 bursts shaded" in spec["layout"]["title"]["text"]
    assert sorted(sum(t["y"]) for t in spec["data"]) == [5, 8]
    assert_no_raw_markup(fig)


def test_registrations_say_what_they_leave_out_of_the_range():
    fig = registrations_figure(
        ["2026-09-28T00:00", "2026-09-28T01:00"],
        {"free": [30, 0]},
        outside={"before": 2, "after": 0, "earliest": "2025-01-04T10:00:00+00:00"},
        bucket_label="hour",
    )
    (note,) = as_json(fig)["layout"]["annotations"]
    assert note["text"] == "Not drawn: 2 registered earlier (earliest 2025-01-04)"


def test_pivot_labels_close_in_time_do_not_print_over_each_other():
    buckets = [f"2026-10-0{d}" for d in range(1, 5)]
    models = {f"model-{i}": [0, 5, 5, 5] for i in range(3)}
    fig = volume_figure(
        buckets,
        models,
        [1, 1, 1, 1],
        model_first_use=dict.fromkeys(models, "2026-10-02T01:00"),
    )
    rows = [a["y"] for a in as_json(fig)["layout"]["annotations"]]
    assert len(rows) == 3 and len(set(rows)) == 3


def test_shares_compare_the_case_with_the_norm():
    fig = shares_figure(
        [Share("reasoning_elicitation", 0.5, 0.03, 0.25, 12), Share(EVIL, 0.2, None, None, 3)]
    )
    spec = as_json(fig)
    assert_chart_basics(spec)
    case, norm = spec["data"]
    assert case["x"] == [50.0, 20.0] and norm["x"] == [3.0, None]
    # Named as the Why section names the signal, and with the Why table's word for the norm.
    assert case["y"][0] == "Asks for step-by-step reasoning"
    assert "median of 12 accounts" in case["text"][0]
    assert "typical for their plans: 3.0%" in case["text"][0]
    assert_no_raw_markup(fig)


@pytest.mark.parametrize("n", [0, 1])
def test_builders_cope_with_tiny_inputs(n):
    accounts = [NetAccount("solo", 0.5)] * n
    assert as_json(network_figure(accounts, [], []))["data"]
    bands = activity_bands(np.zeros((n, 4)), ["solo"] * n)
    assert as_json(activity_heatmap_figure(bands, ["a", "b", "c", "d"]))["data"]


def test_shared_things_never_wear_the_colours_of_the_risk_scale():
    """Accounts are filled yellow to red by risk: no kind of shared thing is warm-coloured."""
    import colorsys

    from detection.charts.base import KEY_KIND_STYLES

    for kind, (_, colour) in KEY_KIND_STYLES.items():
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
        assert saturation < 0.2 or 0.2 < hue < 0.9, f"{kind} looks like a risk colour: {colour}"
