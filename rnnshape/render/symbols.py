"""The symbols rnnshape draws with, and what an output that cannot show them gets instead.

A UTF-8 terminal gets ✓ ✗ ─ → as they are. Any other encoding (ascii, latin-1,
a Chinese console's gbk, where even the symbols it can encode are drawn two
columns wide) gets the ASCII stand-ins below, chosen before a table is laid out
so that its columns still line up; a picture's stand-ins are one character each,
so that its grid does too. As a last resort every rnnshape stream writes any
other character it cannot encode as its stand-in or "?", so an encoding never
ends a run (nor changes its exit status).
"""

from __future__ import annotations

import codecs
from typing import Any

# One entry per symbol: the stand-in (one character wherever a picture's grid uses it).
STAND_INS = {
    "✓": "ok", "✗": "X", "—": "-", "–": "-", "×": "x", "…": "...", "≤": "<=", "≥": ">=",
    "─": "-", "━": "-", "┄": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+",
    "┬": "+", "┴": "+", "┼": "+", "→": ">", "←": "<", "↑": "^", "↓": "v", "●": "o", "·": ".", "⋯": "~", "⋮": ":",
}
ERRORS = "rnnshape-stand-in"
_TABLE = str.maketrans(STAND_INS)


def to_ascii(text: str) -> str:
    return text.translate(_TABLE)


def shows_symbols(encoding: str | None) -> bool:
    """Whether an output in this encoding gets rnnshape's symbols themselves: only UTF's do."""
    return (encoding or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig", "utf16", "utf32")


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(STAND_INS.get(ch, "?") for ch in bad), error.end


codecs.register_error(ERRORS, _stand_in)


def guard(stream: Any) -> None:
    """Make `stream` write what its encoding cannot as stand-ins, never raising UnicodeEncodeError."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors=ERRORS)
        except (ValueError, OSError):  # a closed or detached stream: nothing to write to anyway
            pass
