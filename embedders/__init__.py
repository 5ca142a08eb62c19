"""Embedders: turn chunk texts into normalised vectors."""

from embedders.sentence_transformers import (
    Embedder,
    ModelInfo,
    load_embedder,
    pick_device,
    resolve_model_location,
)

__all__ = [
    "Embedder",
    "ModelInfo",
    "load_embedder",
    "pick_device",
    "resolve_model_location",
]
