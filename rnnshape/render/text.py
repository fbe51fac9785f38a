"""Text in columns: how wide a string is on a terminal, and prose wrapped without splitting a word.

Prose breaks at spaces outside brackets, so a shape such as (2, 4, 32) stays on
one line; a bracketed group too wide for the line breaks at its own spaces, and
only a single word wider than the whole line is cut. Used by the tables
(layout.py) and by --help (clikit.py), which must not import more than this.

Chinese (any East Asian wide text) has no spaces: a line may also break between
two wide characters, and between a wide character and a narrow word next to it,
as terminals and browsers break it (Unicode's line breaking, UAX #14, kept
simple): never before closing punctuation (，。） ) , .) nor after opening
punctuation (（「 ( [). Identifiers, numbers and shapes stay whole as in English.
Text without a wide character takes the English path, unchanged, and ASCII text
never looks at a character's class.
"""

from __future__ import annotations

import functools
import re
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


# No line starts with closing punctuation, and none ends with opening punctuation.
CLOSING = frozenset("，。、；：！？）」』】》〉〕］｝”’" ")]},.;:!?")
OPENING = frozenset("（「『【《〈〔［｛“‘" "([{")


@functools.lru_cache(maxsize=8192)
def has_wide(text: str) -> bool:
    """Whether the text holds a wide (East Asian W or F) character: then it may break between characters."""
    return not text.isascii() and any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


def _wide(ch: str) -> bool:
    return ch > "\u10ff" and unicodedata.east_asian_width(ch) in ("W", "F")


def tokens(text: str) -> list[str]:
    """Words of text, each with the spaces before it, splitting only at spaces outside brackets
    (and, in wide text, where a line may break between characters: `_wide_tokens`)."""
    if has_wide(text):
        return list(_wide_tokens(text, True))
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


@functools.lru_cache(maxsize=8192)
def _wide_tokens(text: str, grouped: bool) -> tuple[str, ...]:
    """Text with wide characters cut where a line may break, each piece with the spaces before it.

    A break: before a run of spaces (unless closing punctuation follows it), and between
    two characters one of which is wide, unless the first opens or the second closes.
    `grouped`: not inside brackets ( ) [ ] { } (a shape stays whole); else anywhere (a
    group too wide for its line)."""
    out: list[str] = []
    start, depth, content, n = 0, 0, False, len(text)
    for i, ch in enumerate(text):
        free = depth == 0 or not grouped
        if ch == " ":
            if free and content:
                j = i + 1
                while j < n and text[j] == " ":
                    j += 1
                if j == n or text[j] not in CLOSING:
                    out.append(text[start:i])
                    start, content = i, False
        else:
            before = text[i - 1] if i else " "
            if (free and before != " " and before not in OPENING and ch not in CLOSING
                    and (_wide(before) or _wide(ch)) and not unicodedata.combining(ch)):
                out.append(text[start:i])
                start = i
            content = True
            if ch in "([{":
                depth += 1
            elif ch in ")]}" and depth:
                depth -= 1
    if start < n:
        out.append(text[start:])
    return tuple(out)


def _inner(token: str) -> tuple[str, ...]:
    """The pieces a token too wide for its line breaks into: at every break, brackets or not."""
    if has_wide(token):
        return _wide_tokens(token, False)
    return tuple(re.findall(r" *[^ ]+| +", token))


def narrowest(text: str) -> int:
    """The widest piece `text` keeps whole when broken at every place it may break, brackets or not:
    its widest word (or, in wide text, run of characters no line may break inside)."""
    if not has_wide(text):
        return max((cell_width(w) for w in text.split()), default=0)
    return max((cell_width(piece.strip()) for piece in _wide_tokens(text, False)), default=0)


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Prose in lines of at most `width` columns; lines after the first indented by `indent` spaces.

    Breaks where tokens() allows (spaces outside brackets; in wide text, between characters
    too); a token wider than its line breaks inside, by _split (or _split_wide)."""
    width = max(width, 1)
    rest = max(width - indent, 1)
    split = _split_wide if has_wide(text) else _split
    lines: list[str] = []
    current, used = "", 0
    for token in tokens(text):
        avail = rest if lines else width
        size = cell_width(token)
        if used + size <= avail:
            current, used = current + token, used + size
            continue
        if current.strip():
            lines.append(current.rstrip())
            avail = rest
        if lines:  # a new line: it starts with no space
            token = token.lstrip(" ")
            size = cell_width(token)
        pieces = [token] if size <= avail else split(token, avail, rest)
        lines += [piece.rstrip() for piece in pieces[:-1]]
        current = pieces[-1]
        used = cell_width(current)
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return [(" " * indent + line.lstrip(" ") if i else line) for i, line in enumerate(lines)]


def _split_wide(token: str, first: int, rest: int) -> list[str]:
    """A token too wide for its line, in pieces: the first at most `first` columns, the others `rest`."""
    pieces: list[str] = []
    current, used, avail = "", 0, first
    for piece in _inner(token):
        size = cell_width(piece)
        if used + size <= avail:
            current, used = current + piece, used + size
            continue
        if current.strip():
            pieces.append(current)
            avail = rest
            piece = piece.lstrip(" ")
            size = cell_width(piece)
        while size > avail:  # the last resort: a piece wider than the whole line, cut by characters
            cut = _fit_chars(piece, avail)
            # and, where it can, not before closing punctuation, after opening, or before a combining mark
            cut = next((c for c in range(min(cut, len(piece) - 1), 0, -1) if piece[c] not in CLOSING
                        and piece[c - 1] not in OPENING and not unicodedata.combining(piece[c])), cut)
            pieces.append(piece[:cut])
            avail = rest
            piece = piece[cut:]
            size = cell_width(piece)
        current, used = piece, size
    pieces.append(current)
    return pieces


def _split(token: str, first: int, rest: int) -> list[str]:
    """A group too wide for the line: broken at its inner spaces, and a word wider than the line, by characters.

    The first piece at most `first` columns, the others (on indented lines) `rest`."""
    pieces: list[str] = []
    current = ""
    for word in [w for w in token.split(" ")]:
        candidate = f"{current} {word}" if current else word
        if cell_width(candidate) <= (rest if pieces else first):
            current = candidate
            continue
        if current:
            pieces.append(current)
        while cell_width(word) > (rest if pieces else first):  # the last resort: one word wider than the whole line
            cut = _fit_chars(word, rest if pieces else first)
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
