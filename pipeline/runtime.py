"""What every task of a run shares within one process: settings, client, model, chunker.

Loaded once per process and config, so a task receives only the config name and
a few small values, and a worker that runs many tasks loads the model once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from qdrant_client import QdrantClient

from chunking import TokenChunker
from config import Settings, load_settings
from embedders import Embedder, load_embedder
from pipeline.plan import provenance
from qdrant_store import connect


@dataclass
class Runtime:
    settings: Settings
    client: QdrantClient
    embedder: Embedder
    chunker: TokenChunker
    provenance: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return str(self.provenance["fingerprint"])


_runtimes: dict[str, Runtime] = {}
_lock = threading.Lock()


def runtime(config: str) -> Runtime:
    """The runtime of ``config`` (a profile name or a file path) in this process.

    The order matters: settings, then Qdrant, then the model, so that a config
    mistake or an unreachable server stops the run before the slow model load.
    """
    with _lock:
        if config in _runtimes:
            return _runtimes[config]
        settings = load_settings(config)
        client = connect(settings)
        embedder = load_embedder(settings.embedding)
        max_tokens = min(settings.chunking.max_tokens, embedder.info.max_seq_length)
        chunker = TokenChunker(
            embedder.tokenizer, max_tokens, settings.chunking.overlap_tokens
        )
        found = Runtime(
            settings,
            client,
            embedder,
            chunker,
            provenance(settings, embedder.info, max_tokens),
        )
        _runtimes[config] = found
        return found


def forget() -> None:
    """Drop cached runtimes, e.g. after the config file or environment changed."""
    with _lock:
        _runtimes.clear()
