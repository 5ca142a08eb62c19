"""Shared fixtures: an offline, telemetry-free environment, a Prefect test API,
the real model loaded once, and small corpora built per test."""

from __future__ import annotations

import os
import tempfile

# Before anything imports Prefect or transformers: nothing may leave the machine.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))
for name in ("QDRANT_URL", "QDRANT_API_KEY", "QDRANT_PATH", "QDRANT_ALIAS"):
    os.environ.pop(name, None)

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "fixtures" / "samples"
CORPUS = REPO / "examples" / "corpus"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API for tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real default model, loaded once per test session."""
    from config import EmbeddingSettings
    from embedders import load_embedder

    return load_embedder(EmbeddingSettings(device="cpu"))
