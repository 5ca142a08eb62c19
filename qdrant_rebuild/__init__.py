"""qdrant-rebuild: rebuild a Qdrant vector store from its sources."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qdrant-rebuild")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
