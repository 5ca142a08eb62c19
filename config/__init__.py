"""Settings of qdrant-rebuild and the shipped config profiles (``*.toml`` here)."""

from config.settings import (
    ChunkingSettings,
    CollectionSettings,
    EmbeddingSettings,
    ParitySettings,
    QdrantSettings,
    RunSettings,
    Settings,
    SourceSettings,
    UpsertSettings,
    load_settings,
    resolve_config_path,
)

__all__ = [
    "ChunkingSettings",
    "CollectionSettings",
    "EmbeddingSettings",
    "ParitySettings",
    "QdrantSettings",
    "RunSettings",
    "Settings",
    "SourceSettings",
    "UpsertSettings",
    "load_settings",
    "resolve_config_path",
]
