"""The exceptions of qdrant-rebuild, in one small tree.

    RebuildError                  every error this project raises on purpose
    ├── ConfigError               a setting is wrong; nothing has been written
    ├── SourceError               one input could not be read; that input is rejected
    ├── EmbedderError             the model could not be loaded or produced bad vectors
    ├── StoreError                Qdrant refused or failed a call
    │   ├── TransientStoreError   timeouts, resets, 5xx, 429: worth retrying
    │   └── ModelMismatchError    vectors of another model or size; never retried
    ├── ParityError               the old collection cannot be read or mapped
    ├── ParityFailed              parity ran and failed; the alias was not moved
    ├── SwitchRefused             the build is empty or partial; the alias was not moved
    ├── RejectRateExceeded        too many inputs rejected; what was good is written
    └── RunStopped                Ctrl-C or a cancelled run; what was written stays

Each error says what happened to which input and what to do next. ``transient``
tells a caller whether the same call can succeed if tried again. Errors raised by a
run carry the run's summary in ``summary`` once one exists.
"""

from __future__ import annotations

from typing import Any


class RebuildError(Exception):
    """Base of every error raised on purpose by qdrant-rebuild."""

    transient = False
    summary: dict[str, Any] | None = None


class ConfigError(RebuildError):
    """A setting is missing, unknown or of the wrong type."""


class SourceError(RebuildError):
    """One input (file, video) cannot be read; it is rejected and the run goes on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmbedderError(RebuildError):
    """The model cannot be loaded, or cannot embed a chunk."""


class StoreError(RebuildError):
    """Qdrant refused or failed a call."""


class TransientStoreError(StoreError):
    """A failure that can succeed on retry: timeout, reset, 5xx, 429."""

    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelMismatchError(StoreError):
    """The collection holds vectors of another model or dimension."""


class ParityError(RebuildError):
    """The old collection cannot be reached, read or mapped."""


class ParityFailed(RebuildError):
    """Parity ran and at least one check failed, so the alias was not moved."""


class SwitchRefused(RebuildError):
    """The new collection is complete but empty, or holds only some sources, so
    the alias was not moved to it."""


class RejectRateExceeded(RebuildError):
    """More inputs were rejected than the configured threshold allows."""


class RunStopped(RebuildError):
    """The run was asked to stop; the next run with the same command continues."""
