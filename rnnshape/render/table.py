"""The terminal format: the report's sections laid out to fit the width (layout.py), then drawn.

Plain text needs nothing more; colour is ANSI codes around the styled spans, and
the SVG picture for the docs is drawn by rich, imported only for it.
"""

from __future__ import annotations

from rnnshape.render.layout import RULE, Line, lay_out, plain
from rnnshape.render.sections import Section
from rnnshape.report import Report

# The styles the layout names, as ANSI codes (SGR): bold titles and headers, failures in red.
_ANSI = {"title": "1", "header": "1", "failed": "31"}
_RICH = {"title": "bold", "header": "bold", "failed": "red"}


def render(report: Report, *, width: int = 100, color: bool = False) -> str:
    from rnnshape.render import readable_sections

    return render_sections(readable_sections(report), width=width, color=color)


def render_sections(parts: list[Section], *, width: int = 100, color: bool = False, ascii: bool = False) -> str:
    lines = lay_out(parts, width, rule="-" if ascii else RULE)
    return _ansi(lines) if color else plain(lines)


def _ansi(lines: list[Line]) -> str:
    out = []
    for line in lines:
        out.append("".join(f"\x1b[{_ANSI[s.style]}m{s.text}\x1b[0m" if s.style in _ANSI and s.text.strip() else s.text
                           for s in line) + "\n")
    return "".join(out)


def save_svg(parts: list[Section], path: str, *, width: int = 100, title: str = "rnnshape") -> None:
    """The same lines, in colour, as an SVG picture for docs (rich records and exports)."""
    import io

    from rich.console import Console
    from rich.text import Text

    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor", highlight=False,
                      emoji=False, record=True)
    for line in lay_out(parts, width):
        text = Text()
        for span in line:
            text.append(span.text, style=_RICH.get(span.style or ""))
        console.print(text, no_wrap=True, crop=False)
    console.save_svg(path, title=title)
