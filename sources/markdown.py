"""Markdown and MDX to sections: YAML front matter, headings, fences, JSX.

A section is the text under one heading, with the headings above it as its path;
fenced code is content, and a ``#`` or ``---`` inside a fence is not structure.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, ClassVar

import yaml

from sources.base import Segment

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^\s*(?:[-*+>|]|\d+[.)]\s|#|`{3}|~{3})")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

# MDX's ES module lines: "import X from '...'" and "export const x = ...". Only
# this strict shape counts, so "import dlt" in prose stays.
_IMPORT = re.compile(r"^import\s+(?:[\w*{}\s,]+?\s+from\s+)?[\"'][^\"']+[\"'];?\s*$")
_EXPORT = re.compile(r"^export\s+(?:const|let|var|function|default|class|async)\b")
# An inline code span (kept as it is) or something tags and comments remove.
_MARKUP = re.compile(
    r"(?P<code>(`+)[^`]*?\2)"
    r"|(?P<comment><!--.*?-->|\{/\*.*?\*/\})"
    r"|(?P<tag></?[A-Za-z][\w.:-]*"
    r"(?:\s(?:[^<>{}\"']|\"[^\"]*\"|'[^']*'|\{[^{}]*\})*)?/?>)",
    re.DOTALL,
)
_TITLE_ATTRIBUTE = re.compile(r"\b(?:title|label)=(?:\"([^\"]*)\"|'([^']*)')")
_HEADING_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML that keeps what the author wrote.

    Only null, ``true``/``false`` and plain decimal integers are typed (the YAML
    1.2 core schema, less floats); everything else stays the string it was:
    ``NO``, ``yes``, ``1.10`` and ``2024-01-15`` are not turned into False, True,
    1.1 and a date as YAML 1.1 would.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}


_FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), list("~nN")
)
_FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789")
)
_FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"]
)


@dataclass
class Parsed:
    """What a Markdown file says: front matter, first heading, sections."""

    front_matter: dict[str, Any] = field(default_factory=dict)
    first_heading: str | None = None
    sections: list[Segment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_markdown(text: str) -> Parsed:
    """Front matter and sections of a Markdown or MDX text."""
    parsed = Parsed()
    raw, body = split_front_matter(text)
    if raw is not None:
        try:
            loaded = yaml.load(raw, Loader=_FrontMatterLoader)
        except yaml.YAMLError as exc:
            parsed.warnings.append(
                f"invalid YAML front matter ({_describe(exc)}); left out, body indexed"
            )
        else:
            if isinstance(loaded, dict):
                parsed.front_matter = json_safe(loaded)
            elif loaded is not None:
                parsed.warnings.append(
                    "front matter is not a mapping of keys to values; left out"
                )
    parsed.sections, parsed.first_heading = _sections(body)
    return parsed


def split_front_matter(text: str) -> tuple[str | None, str]:
    """``(front matter or None, body)``: front matter opens the file with ``---``.

    It must be closed by a ``---`` or ``...`` line; an unclosed block is body text.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :])
    return None, text


def json_safe(value: Any) -> Any:
    """``value`` with dates as ISO strings, keys as strings, sets as lists."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def heading_text(raw: str) -> str:
    """A heading as words: no anchor, link targets, tags, code marks or emphasis."""
    text = _HEADING_ANCHOR.sub("", raw)
    text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub(lambda m: m.group("code") or "", text)
    text = text.replace("`", "").replace("**", "").replace("__", "")
    return " ".join(text.split())


def _sections(body: str) -> tuple[list[Segment], str | None]:
    sections: list[Segment] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    first_heading: str | None = None

    def flush() -> None:
        text = _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")
        if text.strip():
            sections.append(Segment(text, heading_path=tuple(t for _, t in stack)))
        lines.clear()

    for kind, block in _blocks(body):
        if kind == "code":
            lines.extend(block)
            continue
        for index, line in enumerate(block):
            heading = _heading(block, index)
            if heading is None:
                # A thematic break (---, ***) is layout, not words.
                if not _RULE.match(line):
                    lines.append(line)
                continue
            level, words = heading
            if not words:
                continue
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, words))
            first_heading = first_heading or words
    flush()
    return sections, first_heading


def _heading(block: list[str], index: int) -> tuple[int, str] | None:
    """(level, text) when the line starts a heading; (0, "") for a setext underline."""
    line = block[index]
    atx = _ATX.match(line)
    if atx:
        return len(atx.group(1)), heading_text(atx.group(2) or "")
    if _underlines(block, index):
        return 0, ""
    following = block[index + 1] if index + 1 < len(block) else ""
    if _SETEXT.match(following) and _underlines(block, index + 1):
        return (1 if following.strip()[0] == "=" else 2), heading_text(line)
    return None


def _underlines(block: list[str], index: int) -> bool:
    # A setext underline sits right under a one-line paragraph.
    if index == 0 or not _SETEXT.match(block[index]):
        return False
    above = block[index - 1]
    before = block[index - 2] if index >= 2 else ""
    return (
        bool(above.strip()) and not _NOT_PARAGRAPH.match(above) and not before.strip()
    )


def _blocks(body: str) -> list[tuple[str, list[str]]]:
    """Runs of prose and of fenced code; prose has MDX and tags taken out."""
    blocks: list[tuple[str, list[str]]] = []
    prose: list[str] = []
    lines = body.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            prose.append(lines[index])
            index += 1
            continue
        if prose:
            blocks.append(("prose", _strip_mdx(prose)))
            prose = []
        fence = opening.group(2)
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if (
                closing
                and closing.group(2)[0] == fence[0]
                and len(closing.group(2)) >= len(fence)
                and not closing.group(3).strip()
            ):
                break
            end += 1
        # An unclosed fence runs to the end of the document, as in CommonMark.
        blocks.append(("code", lines[index : end + 1]))
        index = end + 1
    if prose:
        blocks.append(("prose", _strip_mdx(prose)))
    return blocks


def _strip_mdx(lines: list[str]) -> list[str]:
    """Prose without ES module lines, comments and tags, keeping text inside tags.

    A tag's ``title`` or ``label`` attribute is kept as a line of its own: in MDX
    docs (``<Tab title="Python">``, ``<Step title="...">``) it is visible text.
    """
    kept: list[str] = []
    depth = 0
    for line in lines:
        if depth or _IMPORT.match(line) or _EXPORT.match(line):
            # A multi-line export runs until its brackets close.
            depth = max(0, depth + _balance(line))
            continue
        kept.append(line)
    return _MARKUP.sub(_replace_markup, "\n".join(kept)).split("\n")


def _replace_markup(match: re.Match[str]) -> str:
    if match.group("code"):
        return match.group("code")
    title = _TITLE_ATTRIBUTE.search(match.group("tag") or "")
    if title:
        return "\n" + (title.group(1) or title.group(2) or "") + "\n"
    # Keep the lines a removed block spanned, so line-based structure stays put.
    return "\n" * match.group(0).count("\n")


def _describe(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).split("\n")[0]
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return problem
    # The mark counts from the line after the opening ``---``, from zero.
    return f"line {mark.line + 2}, column {mark.column + 1}: {problem}"


def _balance(line: str) -> int:
    return sum(line.count(c) for c in "({[") - sum(line.count(c) for c in ")}]")
