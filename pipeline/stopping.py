"""A request to stop, seen by every work unit of this process between groups.

Ctrl-C and a cancelled flow run reach only the main thread. The units running in
the task runner's threads look here before each group of chunks they embed, so a
stop takes effect within one group instead of at the end of every unit. What was
written stays; the next run with the same command continues from it.
"""

from __future__ import annotations

import threading

from qdrant_rebuild.errors import RunStopped

_requested = threading.Event()


def request() -> None:
    """Ask every unit of this process to stop before its next group."""
    _requested.set()


def reset() -> None:
    """Forget an earlier request, at the start of a load."""
    _requested.clear()


def check() -> None:
    """Raise ``RunStopped`` when a stop was requested."""
    if _requested.is_set():
        raise RunStopped("stopped on request; run the same command again to continue")
