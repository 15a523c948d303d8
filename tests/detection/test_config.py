"""Configuration versions: defaults, validation, and the admin writing a new version per save."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from detection.config import (
    DEFAULTS,
    config_new_version,
    current_config,
    effective_params,
    validate_params,
)
from detection.models import DetectionConfig, DetectionRun
from detection.services import detection_run_create

pytestmark = pytest.mark.django_db


def test_current_config_creates_version_one_from_defaults_once():
    first = current_config()
    assert first.version == 1 and first.params == DEFAULTS
    assert current_config() == first
    assert DetectionConfig.objects.count() == 1


def test_new_version_is_the_next_number_and_runs_record_theirs(admin_user):
    current_config()
    new = config_new_version(
        params={**DEFAULTS, "lone_threshold": 0.9}, reason="fewer lone flags", author=admin_user
    )
    assert new.version == 2 and new.created_by == admin_user and new.reason == "fewer lone flags"
    assert current_config() == new
    assert detection_run_create().config == new
    assert DetectionConfig.objects.get(version=1).params["lone_threshold"] == 0.85


def test_new_version_needs_a_reason_and_valid_params():
    with pytest.raises(ValueError, match="reason"):
        config_new_version(params=DEFAULTS, reason=" ")
    with pytest.raises(ValueError, match="does not compile"):
        config_new_version(params={**DEFAULTS, "reasoning_patterns": ["(unclosed"]}, reason="x")
    assert DetectionConfig.objects.count() == 0


def test_validation_names_each_problem():
    params = {
        **DEFAULTS,
        "typo_key": 1,
        "lone_threshold": 2,
        "signals": {
            **DEFAULTS["signals"],
            "model_pivot": {"weight": 3, "threshold": 1, "saturation": 0.5},
        },
    }
    problems = validate_params(params)
    assert "unknown parameter 'typo_key'" in problems
    assert "lone_threshold must be a number in (0, 1]" in problems
    assert "model_pivot: weight must be between 0 and 1" in problems
    assert "model_pivot: saturation must be above the threshold" in problems


def test_old_versions_read_new_parameters_from_defaults():
    params = effective_params({"signals": {"model_pivot": {"weight": 0.5}}})
    assert params["signals"]["model_pivot"] == {**DEFAULTS["signals"]["model_pivot"], "weight": 0.5}
    assert params["hub_cap"] == DEFAULTS["hub_cap"]


def _form_data(config, **changes):
    """What the admin's change form posts for ``config``, with ``changes`` applied."""
    import json

    from detection.admin import FLAG_FIELDS, SIGNAL_PARTS, signal_field

    params = effective_params(config.params)
    patterns = params.pop("reasoning_patterns")
    params.update(changes)
    data = {
        "reasoning_patterns": "\n".join(patterns + [r"narrate your cogitation"]),
        "reason": "catch a new phrasing",
    }
    for key in FLAG_FIELDS:
        data[key] = params.pop(key)
    for name, spec in params.pop("signals").items():
        for part in SIGNAL_PARTS:
            data[signal_field(name, part)] = spec[part]
    data["params_json"] = json.dumps(params)
    return data


def test_admin_save_writes_a_new_version_and_never_edits(admin_client_, admin_user):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    assert admin_client_.get(url).status_code == 200
    response = admin_client_.post(url, _form_data(v1, lone_threshold=0.9))
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.params == DEFAULTS  # untouched
    v2 = DetectionConfig.objects.get(version=2)
    assert v2.created_by == admin_user and v2.reason == "catch a new phrasing"
    assert v2.params["lone_threshold"] == 0.9
    assert "narrate your cogitation" in v2.params["reasoning_patterns"]


def test_admin_edits_signals_and_thresholds_as_numbers(admin_client_):
    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    page = admin_client_.get(url).content.decode()
    # Every signal's three numbers are fields of their own, with the signal's description.
    for name in DEFAULTS["signals"]:
        for part in ("weight", "threshold", "saturation"):
            assert f'name="signal__{name}__{part}"' in page
    assert "Share of prompts asking for chain of thought" in page
    assert 'name="lone_threshold"' in page and '"signals"' not in page
    assert "Defaults from the code." not in page  # the new version's reason starts empty

    data = _form_data(v1)
    data["signal__model_pivot__weight"] = "0.3"
    data["campaign_threshold"] = "0.6"
    assert admin_client_.post(url, data).status_code == 302

    v2 = DetectionConfig.objects.get(version=2)
    assert v2.params["signals"]["model_pivot"] == {
        **DEFAULTS["signals"]["model_pivot"],
        "weight": 0.3,
    }
    assert v2.params["campaign_threshold"] == 0.6


def test_admin_refuses_bad_numbers_and_doubled_keys_without_saving(admin_client_):
    import json

    v1 = current_config()
    url = reverse("admin:detection_detectionconfig_change", args=[v1.pk])
    data = _form_data(v1)
    data["signal__model_pivot__saturation"] = "0.1"  # below its threshold
    data["signal__shared_payment__weight"] = "heavy"
    body = admin_client_.post(url, data).content.decode()
    assert "Enter a number." in body

    data = _form_data(v1)
    data["signal__model_pivot__saturation"] = "0.1"
    body = admin_client_.post(url, data).content.decode()
    assert "model_pivot: saturation must be above the threshold" in body

    data = _form_data(v1)
    data["params_json"] = json.dumps({**json.loads(data["params_json"]), "lone_threshold": 0.1})
    body = admin_client_.post(url, data).content.decode()
    assert "edit lone_threshold in the fields above" in body
    assert DetectionConfig.objects.count() == 1


def test_a_new_version_can_start_from_the_code_defaults(admin_client_):
    """A stored version keeps its own lists; the add form offers this release's defaults."""
    old = DetectionConfig.objects.create(
        version=1, params={**DEFAULTS, "reasoning_patterns": ["step by step"]}, reason="old"
    )
    change = admin_client_.get(reverse("admin:detection_detectionconfig_change", args=[old.pk]))
    add_url = reverse("admin:detection_detectionconfig_add")
    assert f'href="{add_url}"' in change.content.decode()

    page = admin_client_.get(add_url).content.decode()
    assert escape(DEFAULTS["reasoning_patterns"][-1]) in page


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


def test_admin_preview_shows_what_a_change_would_flag(admin_client_):
    from detection.services import detection_run_execute
    from tests.detection.cohorts import Cohort

    cohort = Cohort(seed=31)
    cohort.fleet(n=6)
    cohort.benchmark_runner()
    cohort.coding_agent()
    cohort.ordinary(20)
    cohort.save()
    run = detection_run_execute(run=detection_run_create())
    assert run.counts["flagged"] == 6
    # A much lower bar for lone accounts would flag the two busy look-alikes.
    data = _form_data(run.config, lone_threshold=0.3, lone_min_families=1)
    response = admin_client_.post(reverse("admin:detection_detectionconfig_preview"), data)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Newly flagged (2)" in body
    assert "benchmark-" in body and "agent-" in body
    assert DetectionConfig.objects.count() == 1  # preview saves nothing


def test_admin_run_now_starts_a_run(admin_client_, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client_.post(reverse("admin:detection_detectionrun_run_now"))
    run = DetectionRun.objects.get()
    assert response.status_code == 302
    assert (run.status, run.triggered_by) == (DetectionRun.Status.QUEUED, admin_user)
    assert len(callbacks) == 1  # its first task, sent once the request commits
    assert admin_client_.get(reverse("admin:detection_detectionrun_changelist")).status_code == 200


def test_analyst_cannot_use_the_admin_preview(analyst_client):
    response = analyst_client.post(reverse("admin:detection_detectionconfig_preview"), {})
    assert response.status_code in (302, 403)


def test_behaviour_share_may_be_zero_but_not_above_one():
    assert validate_params({**DEFAULTS, "campaign_min_behaviour_share": 0}) == []
    problems = validate_params({**DEFAULTS, "campaign_min_behaviour_share": 1.5})
    assert problems == ["campaign_min_behaviour_share must be a number in [0, 1]"]


def test_new_parameters_are_validated():
    assert validate_params({**DEFAULTS, "share_min_exchanges": 0}) == []
    problems = validate_params(
        {**DEFAULTS, "share_min_exchanges": -1, "campaign_merge_min_lift": 0}
    )
    assert "share_min_exchanges must be a whole number, 0 or more" in problems
    assert "campaign_merge_min_lift must be a positive number" in problems


def test_a_version_stored_before_a_parameter_reads_it_from_the_defaults():
    old = {k: v for k, v in DEFAULTS.items() if k not in ("share_min_exchanges",)}
    assert effective_params(old)["share_min_exchanges"] == DEFAULTS["share_min_exchanges"]
