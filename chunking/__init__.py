"""Chunking: documents into pieces that fit the embedding model."""

from chunking.tokens import Chunk, TokenChunker

__all__ = ["Chunk", "TokenChunker"]
