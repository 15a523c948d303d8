"""Configuration: the typed parameters, their versions, and the admin writing a new version."""

import msgspec
import pytest
from django.urls import reverse
from django.utils.html import escape

from detection.config import (
    DetectionParams,
    ParamsError,
    SignalWeights,
    config_new_version,
    current_config,
)
from detection.models import ConfigPublication, DetectionConfig, DetectionRun
from detection.services import detection_run_create
from detection.signals import SIGNALS

pytestmark = pytest.mark.django_db
DEFAULTS = DetectionParams()


def _problems(stored) -> list[str]:
    with pytest.raises(ParamsError) as caught:
        DetectionParams.from_stored(stored)
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------- the declaration


def test_the_defaults_are_a_valid_frozen_parameter_set():
    assert DEFAULTS.validate() == []
    assert DetectionParams.from_stored(DEFAULTS.to_stored()) == DEFAULTS
    with pytest.raises(AttributeError):
        DEFAULTS.lone_threshold = 0.1  # a run reads one set of parameters from start to end


def test_every_registered_signal_has_a_declared_spec_and_no_other():
    assert set(SignalWeights.names()) == {fn.__name__ for fn in SIGNALS}


def test_every_parameter_is_documented():
    def undocumented(struct, prefix=""):
        for info in msgspec.structs.fields(struct):
            meta = [m for m in getattr(info.type, "__metadata__", ()) if m.description]
            if not meta:
                yield prefix + info.name
            kind = getattr(info.type, "__origin__", info.type)
            if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                yield from undocumented(kind, f"{prefix}{info.name}.")

    assert list(undocumented(DetectionParams)) == []


def test_the_detection_guide_lists_every_parameter():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "detection.md").read_text()
    table = guide[guide.index("| parameter | default | meaning |") :]
    missing = [name for name in DetectionParams.__struct_fields__ if f"`{name}" not in table]
    assert missing == []


def test_unknown_keys_are_refused_by_name():
    assert _problems({"typo_key": 1}) == ["typo_key: unknown parameter"]
    assert _problems({"signals": {"no_such_signal": {}}}) == [
        "signals.no_such_signal: unknown parameter"
    ]
    assert _problems({"capability_patterns": {"poetry": []}}) == [
        "capability_patterns.poetry: unknown parameter"
    ]


def test_case_policy_is_not_a_detection_parameter():
    assert _problems({"priority_risk_cuts": [0.9, 0.75, 0.55]}) == [
        "priority_risk_cuts: unknown parameter"
    ]
    assert not hasattr(DEFAULTS, "reopen_min_new_accounts")


@pytest.mark.parametrize(
    ("stored", "key"),
    [
        ({"window_days": 0}, "window_days"),
        ({"chunk_size": "many"}, "chunk_size"),
        ({"lone_threshold": 2}, "lone_threshold"),
        ({"campaign_threshold": 0}, "campaign_threshold"),
        ({"campaign_min_behaviour_share": 1.5}, "campaign_min_behaviour_share"),
        ({"share_min_exchanges": -1}, "share_min_exchanges"),
        ({"campaign_merge_min_lift": 0}, "campaign_merge_min_lift"),
        ({"hub_cap": 2.5}, "hub_cap"),
        ({"leiden_objective": "louvain"}, "leiden_objective"),
        ({"reasoning_patterns": "step by step"}, "reasoning_patterns"),
        ({"signals": {"model_pivot": {"weight": 3}}}, "signals.model_pivot.weight"),
    ],
)
def test_types_and_ranges_are_checked_naming_the_parameter(stored, key):
    (problem,) = _problems(stored)
    assert problem.startswith(f"{key}: ")


def test_orderings_and_patterns_are_checked_and_every_problem_named():
    problems = _problems(
        {
            "member_threshold": 0.6,
            "campaign_threshold": 0.5,
            "minhash_bands": 128,
            "signals": {"model_pivot": {"threshold": 1, "saturation": 0.5}},
            "reasoning_patterns": ["(unclosed"],
        }
    )
    assert "signals.model_pivot.saturation: must be above the threshold" in problems
    assert "member_threshold: must not be above campaign_threshold" in problems
    assert "minhash_bands: must not be above minhash_num_perm" in problems
    assert any(p.startswith("reasoning_patterns: pattern '(unclosed' does not") for p in problems)


def test_zero_is_allowed_where_it_means_something():
    params = DetectionParams.from_stored(
        {"campaign_min_behaviour_share": 0, "share_min_exchanges": 0}
    )
    assert params.campaign_min_behaviour_share == 0 and params.share_min_exchanges == 0


def test_a_version_stored_before_a_parameter_reads_it_from_the_defaults():
    old = {k: v for k, v in DEFAULTS.to_stored().items() if k != "share_min_exchanges"}
    assert DetectionParams.from_stored(old).share_min_exchanges == DEFAULTS.share_min_exchanges
    # A signal stored with some of its numbers keeps the defaults of the others.
    params = DetectionParams.from_stored({"signals": {"model_pivot": {"weight": 0.5}}})
    assert params.signals.model_pivot.weight == 0.5
    assert params.signals.model_pivot.threshold == DEFAULTS.signals.model_pivot.threshold
    assert params.hub_cap == DEFAULTS.hub_cap


def test_replace_checks_the_changed_parameters():
    assert DEFAULTS.replace(lone_threshold=0.9).lone_threshold == 0.9
    with pytest.raises(ParamsError, match="lone_threshold"):
        DEFAULTS.replace(lone_threshold=1.5)


def test_stored_versions_lose_the_case_policy_keys_in_the_migration():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("detection.migrations.0003_detectionconfig_without_case_policy")
    stored = {
        **DEFAULTS.to_stored(),
        "priority_risk_cuts": [0.9, 0.75, 0.55],
        "reopen_min_new_accounts": 5,
        "reopen_account_growth": 0.25,
        "reopen_exchange_growth": 1.0,
        "reopen_risk_increase": 0.15,
    }
    old = DetectionConfig.objects.create(version=1, params=stored, reason="old")
    migration.strip_case_policy(apps, None)
    old.refresh_from_db()
    assert old.params == DEFAULTS.to_stored()
    assert DetectionParams.from_stored(old.params) == DEFAULTS


# ------------------------------------------------------------------------------- versions


def test_current_config_creates_version_one_from_defaults_once():
    first = current_config()
    assert first.version == 1 and first.params == DEFAULTS.to_stored()
    assert current_config() == first
    assert DetectionConfig.objects.count() == 1


def test_new_version_is_the_next_number_and_runs_record_theirs(admin_user):
    current_config()
    new = config_new_version(
        params=DEFAULTS.replace(lone_threshold=0.9), reason="fewer lone flags", author=admin_user
    )
    assert new.version == 2 and new.created_by == admin_user and new.reason == "fewer lone flags"
    assert current_config() == new
    assert detection_run_create().config == new
    assert DetectionConfig.objects.get(version=1).params["lone_threshold"] == 0.85


def test_new_version_needs_a_reason():
    with pytest.raises(ValueError, match="reason"):
        config_new_version(params=DEFAULTS, reason=" ")
    assert DetectionConfig.objects.count() == 0


# ---------------------------------------------------------------------------------- admin


def _form_data(config, **changes):
    """What the admin's change form posts for ``config``, with ``changes`` applied."""
    from detection.forms import DetectionConfigForm

    form = DetectionConfigForm(instance=config)
    data = {
        name: form[name].field.prepare_value(form.initial[name])
        for name in form.fields
        if name in form.initial
    }
    data["reasoning_patterns"] += "\nnarrate your cogitation"
    data["reason"] = "catch a new phrasing"
    data.update(changes)
    return data


def test_admin_save_writes_a_new_version_and_never_edits(admin_client_, admin_user):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    assert admin_client_.get(url).status_code == 200
    response = admin_client_.post(url, _form_data(v1, lone_threshold=0.9))
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.params == DEFAULTS.to_stored()  # untouched
    v2 = DetectionConfig.objects.get(version=2)
    assert v2.created_by == admin_user and v2.reason == "catch a new phrasing"
    assert v2.params["lone_threshold"] == 0.9
    assert "narrate your cogitation" in v2.params["reasoning_patterns"]
    # Everything not edited is saved as it was.
    unchanged = DetectionParams.from_stored(v2.params).replace(
        lone_threshold=0.85, reasoning_patterns=list(DEFAULTS.reasoning_patterns)
    )
    assert unchanged == DEFAULTS


def test_admin_saves_a_draft_that_no_run_uses_until_published(admin_client_, admin_user):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    page = admin_client_.get(url).content.decode()
    assert "Save as a draft" in page and "This version is in force." in page
    data = {**_form_data(v1, lone_threshold=0.7), "_draft": "Save as a draft"}
    assert admin_client_.post(url, data).status_code == 302
    draft = DetectionConfig.objects.get(version=2)
    assert draft.is_draft and draft.published_at is None and current_config() == v1
    page = admin_client_.get(
        reverse("admin:detection_detectionconfig_change", args=[draft.pk])
    ).content.decode()
    assert "Publish this draft" in page and "Backtest against the version in force" in page
    # Saving a version the usual way publishes it; restoring v1 puts it back in force.
    admin_client_.post(url, _form_data(v1, lone_threshold=0.8))
    assert current_config().version == 3
    restore = reverse("admin:detection_detectionconfig_publish", args=[v1.pk])
    assert "Restore v1" in admin_client_.get(restore).content.decode()
    admin_client_.post(restore, {"reason": "v3 flagged customers"})
    assert current_config() == v1
    assert [p.config.version for p in ConfigPublication.objects.all()] == [1, 3]


def test_admin_form_has_a_field_with_help_for_every_parameter(admin_client_):
    from detection.forms import PARAM_FIELDS

    v1 = current_config()
    page = admin_client_.get(reverse("admin:detection_detectionconfig_change", args=[v1.pk]))
    page = page.content.decode()
    for name in SignalWeights.names():
        for part in ("weight", "threshold", "saturation"):
            assert f'name="signals__{name}__{part}"' in page
    for param in PARAM_FIELDS:
        assert f'name="{param.name}"' in page
    assert "Share of prompts asking for chain of thought" in page  # a signal's help
    assert escape("Exchanges in the window an account needs") in page  # a parameter's help
    assert 'name="params_json"' not in page  # no JSON blob: every value has one field
    assert "Defaults from the code." not in page  # the new version's reason starts empty


def test_admin_edits_signals_lists_and_thresholds_as_fields(admin_client_):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    data = _form_data(v1)
    data["signals__model_pivot__weight"] = "0.3"
    data["campaign_threshold"] = "0.6"
    data["hosting_asns"] += ", 64500"
    data["capability_patterns__coding"] += "\n\\bhaskell\\b"
    data["leiden_objective"] = "modularity"
    assert admin_client_.post(url, data).status_code == 302

    v2 = DetectionParams.from_stored(DetectionConfig.objects.get(version=2).params)
    assert v2.signals.model_pivot == msgspec.structs.replace(
        DEFAULTS.signals.model_pivot, weight=0.3
    )
    assert v2.campaign_threshold == 0.6
    assert v2.hosting_asns == (*DEFAULTS.hosting_asns, 64500)
    assert v2.capability_patterns.coding[-1] == r"\bhaskell\b"
    assert v2.leiden_objective == "modularity"


def test_admin_refuses_bad_values_on_their_fields_without_saving(admin_client_):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])

    data = _form_data(v1)
    data["signals__shared_payment__weight"] = "heavy"
    data["hosting_asns"] += ", AS13335"
    body = admin_client_.post(url, data).content.decode()
    assert "Enter a number." in body
    assert "Not a whole number: AS13335" in body

    data = _form_data(v1, signals__model_pivot__saturation="0.1", lone_threshold="1.5")
    response = admin_client_.post(url, data)
    form = response.context["adminform"].form
    assert form.errors["lone_threshold"] == ["expected `float` <= 1.0"]

    data = _form_data(v1, signals__model_pivot__saturation="0.1")
    form = admin_client_.post(url, data).context["adminform"].form
    assert form.errors["signals__model_pivot__saturation"] == ["must be above the threshold"]
    assert "must be above the threshold" in admin_client_.post(url, data).content.decode()
    assert DetectionConfig.objects.count() == 1


def test_admin_rejects_bad_patterns_without_saving(admin_client_):
    v1 = current_config()
    data = _form_data(v1)
    data["reasoning_patterns"] += "\n(unclosed"
    response = admin_client_.post(
        reverse("admin:detection_detectionconfig_change", args=[v1.pk]), data
    )
    assert response.status_code == 200
    assert "does not compile" in response.content.decode()
    assert DetectionConfig.objects.count() == 1


def test_a_new_version_can_start_from_the_code_defaults(admin_client_):
    """A stored version keeps its own lists; the add form offers this release's defaults."""
    old = DetectionConfig.objects.create(
        version=1, params={"reasoning_patterns": ["step by step"]}, reason="old"
    )
    change = admin_client_.get(reverse("admin:detection_detectionconfig_change", args=[old.pk]))
    add_url = reverse("admin:detection_detectionconfig_add")
    assert f'href="{add_url}"' in change.content.decode()
    assert escape(DEFAULTS.reasoning_patterns[-1]) not in change.content.decode()

    page = admin_client_.get(add_url).content.decode()
    assert escape(DEFAULTS.reasoning_patterns[-1]) in page


def test_a_change_saved_as_a_draft_is_backtested_to_show_what_it_would_flag(
    admin_client_, django_capture_on_commit_callbacks
):
    """The one way to try a change: save it as a draft, backtest it beside the version in
    force, read what it would newly flag. Nothing goes into force."""
    from detection.backtest import backtest_default_window
    from detection.models import Backtest
    from detection.services import detection_run_execute
    from detection.tasks import backtest_task
    from tests.detection.cohorts import Cohort

    cohort = Cohort(seed=31)
    cohort.fleet(n=6)
    cohort.benchmark_runner()
    cohort.coding_agent()
    cohort.ordinary(20)
    cohort.save()
    run = detection_run_execute(run=detection_run_create())
    assert run.counts["flagged"] == 6
    # A much lower bar for lone accounts, ties not required, would flag the two busy
    # look-alikes.
    data = _form_data(run.config, lone_threshold=0.3, lone_min_families=1, lone_needs_tie=False)
    data["_draft"] = "Save as a draft"
    admin_client_.post(
        reverse("admin:detection_detectionconfig_change", args=[run.config.pk]), data
    )
    draft = DetectionConfig.objects.get(is_draft=True)
    assert current_config() == run.config
    start, end = backtest_default_window(draft)
    with django_capture_on_commit_callbacks(execute=False):
        admin_client_.post(
            reverse("admin:detection_detectionconfig_backtest", args=[draft.pk]),
            {"start": f"{start:%Y-%m-%d %H:%M:%S}", "end": f"{end:%Y-%m-%d %H:%M:%S.%f}"},
        )
    backtest = Backtest.objects.get()
    assert backtest_task(backtest.pk) == Backtest.Status.SUCCEEDED
    body = admin_client_.get(
        reverse("admin:detection_backtest_change", args=[backtest.pk])
    ).content.decode()
    assert "Accounts newly flagged (2)" in body
    assert "benchmark-" in body and "agent-" in body
    assert current_config() == run.config  # a backtest puts nothing in force


def test_admin_run_now_starts_a_run(admin_client_, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client_.post(reverse("admin:detection_detectionrun_run_now"))
    run = DetectionRun.objects.get()
    assert response.status_code == 302
    assert (run.status, run.triggered_by) == (DetectionRun.Status.QUEUED, admin_user)
    assert len(callbacks) == 1  # its first task, sent once the request commits
    assert admin_client_.get(reverse("admin:detection_detectionrun_changelist")).status_code == 200


def test_analyst_cannot_backtest(analyst_client):
    url = reverse("admin:detection_detectionconfig_backtest", args=[current_config().pk])
    response = analyst_client.post(url, {"start": "2026-01-01 00:00", "end": "2026-02-01 00:00"})
    assert response.status_code in (302, 403)
    from detection.models import Backtest

    assert not Backtest.objects.exists()
