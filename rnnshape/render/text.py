"""Text in columns: how wide a string is on a terminal, and prose wrapped without splitting a word.

Prose breaks at spaces outside brackets, so a shape such as (2, 4, 32) stays on
one line; a bracketed group too wide for the line breaks at its own spaces, and
only a single word wider than the whole line is cut. Used by the tables
(layout.py) and by --help (clikit.py), which must not import more than this.
"""

from __future__ import annotations

import functools
import unicodedata


def visible(text: str) -> str:
    """The text with every control and format character written as its escape (\\x1b, \\n, \\u202e).

    Names come from files: a key prefix holding an ANSI escape, a newline, a NUL or a
    right-to-left override must reach a terminal, a table or a CSV cell as text, never
    as an instruction to the terminal or a row break.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@functools.lru_cache(maxsize=8192)
def cell_width(text: str) -> int:
    """Columns the text takes on a terminal: 2 for wide East Asian characters, 0 for combining marks.

    Cached, with an ASCII fast path: a 1000-layer table asks about 100,000 times,
    mostly for the same few hundred cells and their padding.
    """
    if text.isascii():  # printable ASCII is one column each; control characters were escaped before
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def tokens(text: str) -> list[str]:
    """Words of text, each with the spaces before it, splitting only at spaces outside brackets."""
    out: list[str] = []
    current, depth = "", 0
    for ch in text:
        if ch == " " and depth == 0 and current.strip():
            out.append(current)
            current = ""
        current += ch
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
    if current:
        out.append(current)
    return out


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Prose in lines of at most `width` columns; lines after the first indented by `indent` spaces."""
    width = max(width, 1)
    lines: list[str] = []
    current = ""
    for token in tokens(text):
        avail = width - (indent if lines else 0)
        candidate = current + token
        if cell_width(candidate) <= avail:
            current = candidate
            continue
        if current.strip():
            lines.append(current.rstrip())
            avail = width - indent
        token = token.lstrip(" ") if current.strip() else token
        current = ""
        pieces = [token] if cell_width(token) <= avail else _split(token, avail)
        for piece in pieces[:-1]:
            lines.append(piece.rstrip())
        current = pieces[-1]
    lines.append(current.rstrip())
    return [(" " * indent + line.lstrip(" ") if i else line) for i, line in enumerate(lines)] or [""]


def _split(token: str, width: int) -> list[str]:
    """A group too wide for the line: broken at its inner spaces, and a word wider than the line, by characters."""
    pieces: list[str] = []
    current = ""
    for word in [w for w in token.split(" ")]:
        candidate = f"{current} {word}" if current else word
        if cell_width(candidate) <= width:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while cell_width(word) > width:  # the last resort: one word wider than the whole line
            cut = _fit_chars(word, width)
            pieces.append(word[:cut])
            word = word[cut:]
        current = word
    pieces.append(current)
    return pieces


def _fit_chars(word: str, width: int) -> int:
    used = 0
    for i, ch in enumerate(word):
        used += cell_width(ch)
        if used > width:
            return max(i, 1)
    return len(word)
