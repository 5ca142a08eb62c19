"""docker/entrypoint.sh: which command each container argument list becomes.

The script runs here as it runs in the image, with fakes of ``prefect`` and
``qdrant-rebuild`` first on PATH that record the arguments they were given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parent.parent / "docker" / "entrypoint.sh"

# A fake command: writes its name and arguments as one JSON line, then exits
# with FAKE_EXIT_CODE so the entrypoint's exit status can be checked too.
FAKE_COMMAND = """#!/bin/sh
"{python}" -c 'import json, os, sys
with open(os.environ["FAKE_RECORD"], "a") as out:
    out.write(json.dumps([os.path.basename(sys.argv[1]), *sys.argv[2:]]) + "\\n")
' "$0" "$@"
exit "${FAKE_EXIT_CODE:-0}"
"""


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("prefect", "qdrant-rebuild"):
        fake = folder / name
        fake.write_text(FAKE_COMMAND.replace("{python}", sys.executable))
        fake.chmod(0o755)
    return folder


def run_entrypoint(
    fake_bin: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, list[list[str]]]:
    record = fake_bin.parent / "record.jsonl"
    record.unlink(missing_ok=True)
    environment = {
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "FAKE_RECORD": str(record),
        **(env or {}),
    }
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return result.returncode, calls


def test_worker_starts_a_prefect_worker_on_the_projects_pool(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "worker")

    assert code == 0
    assert calls == [["prefect", "worker", "start", "--pool", "qdrant-rebuild"]]


def test_worker_pool_comes_from_the_environment(fake_bin: Path) -> None:
    code, calls = run_entrypoint(
        fake_bin, "worker", env={"QDRANT_REBUILD_WORK_POOL": "gpu-pool"}
    )

    assert code == 0
    assert calls == [["prefect", "worker", "start", "--pool", "gpu-pool"]]


def test_worker_passes_its_extra_arguments_to_prefect(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "worker", "--limit", "1", "--name", "w 1")

    assert code == 0
    assert calls == [
        [
            "prefect",
            "worker",
            "start",
            "--pool",
            "qdrant-rebuild",
            "--limit",
            "1",
            "--name",
            "w 1",
        ]
    ]


def test_prefect_arguments_run_prefect_unchanged(fake_bin: Path) -> None:
    # What a Kubernetes worker puts in a flow run Job's args.
    code, calls = run_entrypoint(fake_bin, "prefect", "flow-run", "execute")

    assert code == 0
    assert calls == [["prefect", "flow-run", "execute"]]


def test_other_arguments_go_to_the_cli(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "rebuild", "--config", "cortex")

    assert code == 0
    assert calls == [["qdrant-rebuild", "rebuild", "--config", "cortex"]]


def test_the_cli_named_first_is_not_named_twice(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "qdrant-rebuild", "parity")

    assert code == 0
    assert calls == [["qdrant-rebuild", "parity"]]


def test_arguments_with_spaces_and_quotes_arrive_whole(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "search", "how do I 'schedule' a run?")

    assert code == 0
    assert calls == [["qdrant-rebuild", "search", "how do I 'schedule' a run?"]]


def test_no_arguments_show_the_cli_help(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin)

    assert code == 0
    assert calls == [["qdrant-rebuild", "--help"]]


def test_the_commands_exit_status_is_the_containers(fake_bin: Path) -> None:
    code, calls = run_entrypoint(fake_bin, "rebuild", env={"FAKE_EXIT_CODE": "3"})

    assert code == 3
    assert calls == [["qdrant-rebuild", "rebuild"]]


def test_the_entrypoint_is_executable() -> None:
    # The image runs it directly (tini -- /app/docker/entrypoint.sh).
    mode = ENTRYPOINT.stat().st_mode

    assert mode & 0o111 == 0o111
