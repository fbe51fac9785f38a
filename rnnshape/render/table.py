"""The terminal format: the report's sections as Rich tables.

The only module that imports rich (lazily, from render()), so the formats
that do not draw tables never pay for it.
"""

from __future__ import annotations

import io

from rnnshape.render.sections import Section, sections
from rnnshape.report import Report


def render(report: Report, *, width: int = 100, color: bool = False) -> str:
    return render_sections(sections(report), width=width, color=color)


def render_sections(parts: list[Section], *, width: int = 100, color: bool = False) -> str:
    console = _console(width, color)
    _print(console, parts)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _print(console, parts: list[Section]) -> None:
    for i, section in enumerate(parts):
        console.print(_draw(section))
        if not section.columns and i < len(parts) - 1:
            console.print()  # a block of text ends in no blank line of its own, unlike a table


def save_svg(parts: list[Section], path: str, *, width: int = 100, title: str = "rnnshape") -> None:
    """The same tables, in colour, as an SVG picture for docs (Rich records and exports)."""
    console = _console(width, color=True, record=True)
    _print(console, parts)
    console.save_svg(path, title=title)


def _console(width: int, color: bool, record: bool = False):  # -> rich.console.Console
    from rich.console import Console

    # Colour is decided by the caller (a terminal, NO_COLOR), never guessed from the buffer.
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=color,
        color_system="truecolor" if record else ("standard" if color else None),
        no_color=not color,
        highlight=False,
        emoji=False,
        record=record,
    )


def _draw(section: Section):  # -> a Rich renderable
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not section.columns:
        return _lines(section.title, section.lines)
    show_header = any(section.columns)
    table = Table(
        title=section.title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD if show_header else box.SIMPLE,
        show_header=show_header,
        header_style="bold",
        pad_edge=False,
        # A sweep's many short columns: one space between them, not three.
        collapse_padding=bool(section.keep_whole),
        min_width=len(section.title) + 1,  # a narrow table must not fold its own title
    )
    for i, name in enumerate(section.columns):
        # The first column names things (weight_ih_l0_reverse): never break it.
        # Names (weight_ih_l0_reverse) and a sweep's short cells stay whole: a minimum
        # width, never no_wrap, which would crop them silently on a narrow terminal.
        whole = i == 0 or i in section.keep_whole
        # Every other column keeps at least its header's width: a folded "held" reads as "hel".
        widest = max([len(name)] + [len(row[i]) for row in section.rows]) if whole else len(name)
        # no_wrap keeps Rich from shrinking a whole column when the table is too wide and
        # then growing it back to min_width, which pushed the last column off the edge.
        table.add_column(name, justify="right" if i in section.numeric else "left", overflow="fold", min_width=widest,
                         no_wrap=whole)
    for row in section.rows:
        table.add_row(*(Text(cell, style="red" if "✗" in cell else None) for cell in row))
    if section.lines:
        from rich.console import Group

        return Group(table, _lines("", section.lines + [""]))
    return table


def _lines(title: str, lines: list[str]):  # -> rich.text.Text
    from rich.text import Text

    text = Text(title, style="bold")
    for i, line in enumerate(lines):
        style = "red" if line.startswith(("✗", "refused")) else None
        text.append(("\n" if title or i else "") + line, style=style)
    return text
