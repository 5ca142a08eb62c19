"""``prefect deploy --all`` from the repository: the four deployments, as meant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
PULL_STEPS = [
    {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}
]
OPTIONAL_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}
OPTIONAL_TEXTS = {
    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
}


def types_of(schema: dict[str, Any]) -> dict[str, Any]:
    """Each parameter's type as the UI form sees it, without titles and positions."""
    shapes = {}
    for name, prop in schema["properties"].items():
        if "anyOf" in prop:
            shapes[name] = {"anyOf": prop["anyOf"]}
        else:
            shapes[name] = {"type": prop["type"]}
    return shapes


def test_deploy_all_registers_the_four_deployments(deployed):
    ours = {name: d for name, d in deployed.items() if "qdrant-rebuild" in d.tags}

    assert sorted(ours) == [
        "backfill/adhoc",
        "parity/check",
        "rebuild/full",
        "rebuild/nightly",
    ]
    assert {name: d.entrypoint for name, d in ours.items()} == {
        "backfill/adhoc": "flows/backfill.py:backfill",
        "parity/check": "flows/parity.py:parity_flow",
        "rebuild/full": "flows/rebuild.py:rebuild",
        "rebuild/nightly": "flows/rebuild.py:rebuild",
    }
    assert {d.work_pool_name for d in ours.values()} == {"qdrant-rebuild"}


def test_workers_are_pointed_at_the_checkout_that_deployed(deployed):
    pull_steps = {name: deployed[name].pull_steps for name in deployed}

    assert pull_steps["rebuild/full"] == PULL_STEPS
    assert pull_steps["rebuild/nightly"] == PULL_STEPS
    assert pull_steps["backfill/adhoc"] == PULL_STEPS
    assert pull_steps["parity/check"] == PULL_STEPS


def test_deployments_default_to_the_default_profile(deployed):
    parameters = {name: deployed[name].parameters for name in deployed}

    assert parameters["rebuild/full"] == {"config": "default"}
    assert parameters["rebuild/nightly"] == {"config": "default", "incremental": True}
    assert parameters["backfill/adhoc"] == {"config": "default"}
    assert parameters["parity/check"] == {"config": "default"}


def test_only_the_nightly_rebuild_has_a_schedule_and_it_is_paused(deployed):
    nightly = deployed["rebuild/nightly"].schedules

    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in nightly] == [
        ("0 3 * * *", "UTC", False)
    ]
    assert deployed["rebuild/full"].schedules == []
    assert deployed["backfill/adhoc"].schedules == []
    assert deployed["parity/check"].schedules == []


def test_one_run_at_a_time_for_the_deployments_that_write(deployed):
    limits = {
        name: deployed[name].global_concurrency_limit.limit
        if deployed[name].global_concurrency_limit
        else None
        for name in ("rebuild/full", "rebuild/nightly", "backfill/adhoc")
    }

    assert limits == {"rebuild/full": 1, "rebuild/nightly": 1, "backfill/adhoc": 1}


def test_rebuild_parameters_are_typed_for_the_form(deployed):
    schema = deployed["rebuild/full"].parameter_openapi_schema

    assert types_of(schema) == {
        "config": {"type": "string"},
        "sources": OPTIONAL_TEXTS,
        "incremental": {"type": "boolean"},
        "force_switch": {"type": "boolean"},
    }
    assert schema["properties"]["config"]["default"] == "default"


def test_backfill_parameters_are_typed_for_the_form(deployed):
    schema = deployed["backfill/adhoc"].parameter_openapi_schema

    assert types_of(schema) == {
        "config": {"type": "string"},
        "sources": OPTIONAL_TEXTS,
        "since": OPTIONAL_TEXT,
        "ids": OPTIONAL_TEXTS,
        "paths": OPTIONAL_TEXTS,
        "prune": {"type": "boolean"},
    }


def test_parity_parameters_are_typed_for_the_form(deployed):
    schema = deployed["parity/check"].parameter_openapi_schema

    assert types_of(schema) == {"config": {"type": "string"}, "new": OPTIONAL_TEXT}
