"""Cut documents into chunks measured in the embedding model's own tokens.

Every chunk, special tokens included, fits the model's maximum sequence length, so
the model never truncates a chunk and no text is silently lost. Transcripts are cut
along cue lines and keep their start and end seconds; documents are cut along their
sections and keep the heading path, which is also the first line of the chunk text
so that the vector knows where the passage sits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sources.base import Document, Segment

HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the model, with its place."""

    index: int
    text: str
    token_count: int
    start: float | None = None
    end: float | None = None
    heading_path: tuple[str, ...] = ()


class TokenChunker:
    """Chunks of at most ``max_tokens`` model tokens with ``overlap`` tokens carried.

    ``tokenizer`` is a Hugging Face tokenizer (``SentenceTransformer.tokenizer``).
    """

    def __init__(self, tokenizer: Any, max_tokens: int, overlap: int) -> None:
        self.tokens = _Tokenizer(tokenizer)
        self.budget = max_tokens - self.tokens.special
        self.overlap = overlap
        if self.budget < 8:
            raise ValueError(f"max_tokens={max_tokens} leaves no room for text")

    def count(self, text: str) -> int:
        """Tokens of ``text`` without special tokens."""
        return self.tokens.counts([text])[0]

    def chunk(self, document: Document) -> list[Chunk]:
        if document.kind == "transcript":
            pieces = self._transcript_pieces(document.segments)
        else:
            pieces = self._section_pieces(document.segments)
        return [
            Chunk(index, text, tokens, start, end, path)
            for index, (text, tokens, start, end, path) in enumerate(pieces)
        ]

    def _transcript_pieces(self, lines: list[Segment]) -> Iterator[_Piece]:
        """Whole cue lines per chunk; the last lines of one chunk open the next."""
        counts = self._counts([line.text for line in lines])
        window: list[tuple[Segment, int]] = []
        size = 0
        for line, tokens in zip(lines, counts, strict=True):
            if tokens > self.budget:
                if window:
                    yield self._join_lines(window)
                    window, size = [], 0
                for text, n in self._split(line.text):
                    yield text, n, line.start, line.end, ()
                continue
            # A newline joins two lines and may cost a token of its own.
            if window and size + tokens + 1 > self.budget:
                yield self._join_lines(window)
                window = self._carry(window)
                size = sum(n + 1 for _, n in window)
            window.append((line, tokens))
            size += tokens + 1
        if window:
            yield self._join_lines(window)

    def _carry(self, window: list[tuple[Segment, int]]) -> list[tuple[Segment, int]]:
        carried: list[tuple[Segment, int]] = []
        size = 0
        for line, tokens in reversed(window[1:]):
            if size + tokens > self.overlap:
                break
            carried.insert(0, (line, tokens))
            size += tokens + 1
        return carried

    def _join_lines(self, window: list[tuple[Segment, int]]) -> _Piece:
        text = "\n".join(line.text for line, _ in window)
        return text, self.count(text), window[0][0].start, window[-1][0].end, ()

    def _section_pieces(self, sections: list[Segment]) -> Iterator[_Piece]:
        """Sections that fit are merged with their neighbours; larger ones are split."""
        texts = [_with_heading(section) for section in sections]
        pending: list[str] = []
        pending_tokens = 0
        pending_path: tuple[str, ...] = ()
        for section, text, tokens in zip(
            sections, texts, self._counts(texts), strict=True
        ):
            if tokens > self.budget:
                if pending:
                    yield from self._pieces("\n\n".join(pending), pending_path)
                    pending, pending_tokens = [], 0
                heading = HEADING_SEPARATOR.join(section.heading_path)
                for piece, n in self._split(section.text, prefix=heading):
                    yield piece, n, None, None, section.heading_path
                continue
            # The sum of the parts, plus one per joint, bounds the merged count.
            if pending and pending_tokens + tokens + 1 > self.budget:
                yield from self._pieces("\n\n".join(pending), pending_path)
                pending, pending_tokens = [], 0
            if not pending:
                pending_path = section.heading_path
            pending.append(text)
            pending_tokens += tokens + 1
        if pending:
            yield from self._pieces("\n\n".join(pending), pending_path)

    def _pieces(self, text: str, path: tuple[str, ...]) -> Iterator[_Piece]:
        tokens = self.count(text)
        if tokens <= self.budget:
            yield text, tokens, None, None, path
            return
        for piece, n in self._split(text):
            yield piece, n, None, None, path

    def _split(self, text: str, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Windows over ``text`` by token offsets, cut where a word starts.

        Each window is re-counted: text cut inside a word can tokenise into more
        tokens than it had in place, so a window that grew is cut shorter.
        """
        lead = f"{prefix}\n" if prefix else ""
        budget = self.budget - (self.count(lead) + 1 if lead else 0)
        if budget < 8:
            lead, budget = "", self.budget
        offsets = self.tokens.offsets(text)
        starts = [i for i in range(len(offsets)) if _starts_word(text, offsets, i)]
        begin = 0
        while begin < len(offsets):
            end = min(begin + budget, len(offsets))
            while True:
                if end < len(offsets):
                    end = _word_start_at_or_before(starts, end, begin)
                stop = offsets[end][0] if end < len(offsets) else len(text)
                piece = lead + text[offsets[begin][0] : stop].strip()
                tokens = self.count(piece)
                if tokens <= self.budget or end - begin <= 1:
                    break
                end -= max(1, tokens - self.budget)
            yield piece, tokens
            if end >= len(offsets):
                break
            begin = max(end - self.overlap, begin + 1)
            begin = _word_start_at_or_after(starts, begin, end)

    def _counts(self, texts: list[str]) -> list[int]:
        return self.tokens.counts(texts) if texts else []


_Piece = tuple[str, int, float | None, float | None, tuple[str, ...]]


class _Tokenizer:
    """Token counts and offsets from a Hugging Face tokenizer.

    A fast tokenizer's Rust backend is used directly when there is one: it is
    about twice as quick as the Python wrapper, and it does not warn about texts
    longer than the model takes, which are exactly what a chunker measures.
    """

    def __init__(self, tokenizer: Any) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            from tokenizers import Tokenizer

            # A copy, so that switching truncation off leaves the model's own alone.
            backend = Tokenizer.from_str(backend.to_str())
            backend.no_truncation()
            backend.no_padding()
        self.backend = backend
        self.tokenizer = tokenizer
        self.special = len(self._ids("", special=True))

    def counts(self, texts: list[str]) -> list[int]:
        if self.backend is not None:
            encodings = self.backend.encode_batch(texts, add_special_tokens=False)
            return [len(e.ids) for e in encodings]
        return [len(self._ids(text)) for text in texts]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        if self.backend is not None:
            return list(self.backend.encode(text, add_special_tokens=False).offsets)
        encoding = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True
        )
        return list(encoding["offset_mapping"])

    def _ids(self, text: str, special: bool = False) -> list[int]:
        if self.backend is not None:
            return list(self.backend.encode(text, add_special_tokens=special).ids)
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])


def _with_heading(section: Segment) -> str:
    if not section.heading_path:
        return section.text
    return f"{HEADING_SEPARATOR.join(section.heading_path)}\n{section.text}"


def _starts_word(text: str, offsets: list[tuple[int, int]], i: int) -> bool:
    if i == 0:
        return True
    begin = offsets[i][0]
    previous_end = offsets[i - 1][1]
    return begin > previous_end or not text[begin - 1].isalnum()


def _word_start_at_or_before(starts: list[int], end: int, floor: int) -> int:
    import bisect

    at = bisect.bisect_right(starts, end) - 1
    if at >= 0 and starts[at] > floor:
        return starts[at]
    return end


def _word_start_at_or_after(starts: list[int], begin: int, ceiling: int) -> int:
    import bisect

    at = bisect.bisect_left(starts, begin)
    if at < len(starts) and starts[at] < ceiling:
        return starts[at]
    return begin
