"""A trivial flow that proves the e2e harness: deploy, worker, pull step, run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prefect import flow


@flow(name="e2e-harness")
def record_workspace(out: str) -> str:
    """Write where the worker ran this flow and what it was told, then return it."""
    seen = {
        "cwd": str(Path.cwd().resolve()),
        "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE", ""),
    }
    Path(out).write_text(json.dumps(seen), encoding="utf-8")
    return seen["cwd"]
