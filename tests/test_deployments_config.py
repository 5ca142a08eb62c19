"""prefect.yaml read without a server: what it declares and what its build steps say.

tests/e2e/test_deployments.py deploys it for real; these checks run in
milliseconds and cover the cluster's side, which the e2e test cannot deploy.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO_ROOT / "prefect.yaml"


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))


def build_outputs(
    project: dict[str, Any], cwd: Path, env: dict[str, str]
) -> dict[str, str]:
    """Each build step's stdout by id, run the way run_shell_script runs it."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("QDRANT_REBUILD_")
    }
    outputs = {}
    for step in project["build"]:
        (name, inputs), *_ = step.items()
        assert name == "prefect.deployments.steps.run_shell_script"
        assert inputs["shell"] is True
        result = subprocess.run(
            inputs["script"],
            shell=True,
            cwd=cwd,
            env={**clean, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        outputs[inputs["id"]] = result.stdout.strip()
    return outputs


def test_the_yaml_declares_the_four_deployments_on_one_pool(project):
    deployments = {d["name"]: d for d in project["deployments"]}

    assert {name: d["entrypoint"] for name, d in deployments.items()} == {
        "full": "flows/rebuild.py:rebuild",
        "nightly": "flows/rebuild.py:rebuild",
        "adhoc": "flows/backfill.py:backfill",
        "check": "flows/parity.py:parity_flow",
    }
    assert {d["work_pool"]["name"] for d in deployments.values()} == {"qdrant-rebuild"}


def test_only_the_nightly_rebuild_is_scheduled_paused_at_three(project):
    schedules = {d["name"]: d.get("schedules") for d in project["deployments"]}

    assert schedules == {
        "full": None,
        "nightly": [{"cron": "0 3 * * *", "timezone": "UTC", "active": False}],
        "adhoc": None,
        "check": None,
    }


def test_the_nightly_rebuild_is_incremental(project):
    nightly = next(d for d in project["deployments"] if d["name"] == "nightly")

    assert nightly["parameters"]["incremental"] is True


def test_every_deployment_takes_its_config_and_code_from_the_build_steps(project):
    configs = {d["parameters"]["config"] for d in project["deployments"]}
    pull = project["pull"]

    assert configs == {"{{ profile.stdout }}"}
    assert pull == [
        {
            "prefect.deployments.steps.set_working_directory": {
                "directory": "{{ code-dir.stdout }}"
            }
        }
    ]


def test_a_plain_deploy_uses_its_folder_and_the_default_profile(project, tmp_path):
    outputs = build_outputs(project, cwd=tmp_path, env={})

    assert outputs == {"code-dir": str(tmp_path), "profile": "default"}


def test_a_cluster_deploy_uses_the_image_folder_and_its_profile(project, tmp_path):
    env = {"QDRANT_REBUILD_CODE_DIR": "/app", "QDRANT_REBUILD_CONFIG": "cortex"}

    outputs = build_outputs(project, cwd=tmp_path, env=env)

    assert outputs == {"code-dir": "/app", "profile": "cortex"}


def test_the_image_tells_prefect_deploy_where_its_code_is():
    # prefect.yaml's code-dir step reads this when `prefect deploy` runs inside
    # the image; the Dockerfile copies the project to /app.
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")

    assert "QDRANT_REBUILD_CODE_DIR=/app" in dockerfile
    assert "WORKDIR /app" in dockerfile
