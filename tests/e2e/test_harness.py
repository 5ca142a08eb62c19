"""The e2e harness itself: its outbound trap, and a trivial flow run by its worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_worker_runs_a_deployed_flow_in_the_checkout(prefect_server, worker, tmp_path):
    out = tmp_path / "seen.json"
    prefect_server.prefect(
        "deploy",
        "tests/e2e/harness_flow.py:record_workspace",
        "--name",
        "harness",
        "--pool",
        "qdrant-rebuild",
    )

    flow_run = prefect_server.run_and_wait(
        "e2e-harness/harness", {"out": str(out)}, timeout=60
    )

    assert flow_run.state.type.value == "COMPLETED", prefect_server.describe_flow_run(
        flow_run.id
    )
    assert json.loads(out.read_text()) == {
        "cwd": str(REPO_ROOT),
        "hf_hub_offline": "1",
    }


def test_a_request_for_the_internet_is_caught_on_loopback(prefect_server):
    # .invalid never resolves; the request goes no further than the trap anyway.
    probe = (
        "import httpx; print(httpx.get('https://qdrant-rebuild.invalid/').status_code)"
    )

    try:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            env=prefect_server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        caught = list(prefect_server.trap.attempts)
    finally:
        # The session fails at its end if the trap holds an attempt.
        prefect_server.trap.attempts.clear()

    assert caught == ["CONNECT qdrant-rebuild.invalid:443 HTTP/1.1"]
    assert "ProxyError" in result.stderr
