"""Tables that fit: a report's sections laid out in a given width, as lines of styled text.

The rules, in order of what gives way first:
1. A cell of a column that is not prose (a name, a shape, a number, a gate string,
   dims, an identity) is never split. A prose cell (a meaning, a why, a formula)
   wraps at spaces, never inside a word, and not inside brackets while the
   bracketed group fits: "(2, 4, 32)" stays whole. Chinese prose, which has no
   spaces, also wraps between its characters (text.py), never inside a name.
2. Where the columns do not fit, the gaps between them narrow (3 spaces, then 2).
3. Then the section's optional columns are left out, in its order, and one line
   under the table says which. They are also left out where keeping them would
   wrap a prose cell onto more than MAX_LINES_PER_CELL lines.
4. Then each row is stacked: its first cell, then one "column  value" line per cell.
No line is longer than the width (short of a single word wider than it, split
only then) and no line ends in spaces. Nothing here imports rich: colour is a
style per span, drawn by table.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import NamedTuple

from rnnshape.language import say, tr
from rnnshape.render.sections import FAILED, Section
from rnnshape.render.text import cell_width, has_wide, narrowest, tokens, wrap

# The narrowest width rnnshape lays out for; a smaller COLUMNS is read as this.
MIN_WIDTH = 40
GAPS = (3, 2)
MARGIN = 1  # every table row starts one space in, as the rule under its header does
RULE = "─"
STACK_INDENT = 3


class Span(NamedTuple):  # a tuple, not a dataclass: a 10,000-row table makes 100,000 of them
    text: str
    style: str | None = None  # "title", "header", "failed", "rule"


Line = tuple[Span, ...]


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * max(width - cell_width(text), 0)
    return space + text if right else text + space


@dataclass
class _Plan:
    columns: list[int]  # indexes of the columns shown
    widths: list[int]
    gap: int


def _longest_word(text: str) -> int:
    """The widest piece the text keeps whole wherever it breaks: a word (a run of Chinese between breaks)."""
    return narrowest(text)


# A bracketed group up to this wide is kept on one line (a shape, U(-0.2236, 0.2236)); a wider
# one is a formula, which may break at its inner spaces.
WHOLE_GROUP = 20


# A header in wide characters this narrow stays on one line: "预测" broken into 预/测 reads as two words.
WHOLE_WIDE_HEADER = 8


def _header_least(header: str) -> int:
    if has_wide(header) and cell_width(header) <= WHOLE_WIDE_HEADER:
        return cell_width(header)
    return _longest_word(header)


def _least_prose(text: str) -> int:
    """The narrowest a prose cell can be: its widest word, or bracketed group that stays whole."""
    widths = [0]
    for token in tokens(text):
        token = token.strip()
        widths.append(cell_width(token) if cell_width(token) <= WHOLE_GROUP else _longest_word(token))
    return max(widths)


def _bounds(section: Section, shown: list[int]) -> tuple[list[int], list[int]]:
    """Each shown column's natural width (nothing wrapped) and least width (what may wrap, wrapped)."""
    natural, least = [], []
    for i in shown:
        cells = [row[i] for row in section.rows]
        header = section.columns[i]
        natural.append(max([cell_width(header)] + [cell_width(c) for c in cells]))
        whole = _least_prose if i in section.prose else cell_width
        least.append(max([_header_least(header)] + [whole(c) for c in cells]))
    return natural, least


def _fit(section: Section, shown: list[int], width: int) -> _Plan | None:
    natural, least = _bounds(section, shown)
    for gap in GAPS:
        spare = width - MARGIN - gap * (len(shown) - 1)
        if sum(natural) <= spare:
            return _Plan(shown, natural, gap)
        if sum(least) <= spare:
            widths = list(least)
            extra = spare - sum(least)
            growth = [n - m for n, m in zip(natural, least)]
            total = sum(growth)
            for k, g in enumerate(growth):  # share what is left by how much each column wanted
                add = min(g, extra * g // total) if total else 0
                widths[k] += add
            leftover = spare - sum(widths)
            for k in sorted(range(len(widths)), key=lambda k: -(natural[k] - widths[k])):
                if leftover <= 0:
                    break
                add = min(leftover, natural[k] - widths[k])
                widths[k] += add
                leftover -= add
            return _Plan(shown, widths, gap)
    return None


# A prose cell wrapped onto more lines than this makes a table hard to read: leaving out an
# optional column is then better, where that gives a table whose cells stay this short.
MAX_LINES_PER_CELL = 2


def _choose(section: Section, width: int) -> tuple[_Plan | None, list[int]]:
    """The columns to show and their widths: all of them if they fit, else fewer (optional ones left
    out in order); None where even the fewest do not fit (the rows are then stacked)."""
    shown, left_out = list(range(len(section.columns))), []
    fallback: tuple[_Plan | None, list[int]] = (None, [])
    for i in (None, *section.optional):
        if i is not None:
            shown, left_out = [c for c in shown if c != i], left_out + [i]
        plan = _fit(section, shown, width)
        if plan is None:
            continue
        if not _cramped(section, plan):
            return plan, left_out
        if fallback[0] is None:
            fallback = (plan, left_out)
    return fallback


def _cramped(section: Section, plan: _Plan) -> bool:
    return any(len(wrap(row[i], w)) > MAX_LINES_PER_CELL for row in section.rows
               for i, w in zip(plan.columns, plan.widths) if i in section.prose)


def lay_out(parts: list[Section], width: int, *, rule: str = RULE) -> list[Line]:
    """Every section, one after another, each followed by a blank line (the last one's left off)."""
    width = max(width, MIN_WIDTH)
    out: list[Line] = []
    for k, section in enumerate(parts):
        lines = _section(section, width, rule)
        out += lines
        if k < len(parts) - 1 and lines and lines[-1]:
            out.append(())
    return out


def _section(section: Section, width: int, rule: str) -> list[Line]:
    title = [(Span(t, "title"),) for t in wrap(section.title, width, indent=2)] if section.title else []
    if not section.columns:
        return title + _text_lines(section, width)
    out = title + ([()] if title else [])
    plan, left_out = _choose(section, width)
    if plan is None:
        out += _stacked(section, width)
    else:
        out += _table(section, plan, rule)
    if left_out:
        # The columns' names were said in the language already (render._drawn); this line is said here.
        names = reduce(lambda listed, name: say(tr("{listed}, {name}", listed=listed, name=name)),
                       [section.columns[i] for i in left_out])
        said = say(tr("(left out to fit {width} columns: {names}; -f json has every column)", width=width, names=names))
        out += [(Span(line),) for line in wrap(said, width, 2)]
    if section.lines:
        out += [()] + _text_lines(section, width)
    return out


def _table(section: Section, plan: _Plan, rule: str) -> list[Line]:
    show_header = any(section.columns[i] for i in plan.columns)
    out: list[Line] = []
    if show_header:
        headers = [wrap(section.columns[i], w) for i, w in zip(plan.columns, plan.widths)]
        out += _rows_of(headers, plan, section, style="header")
        total = sum(plan.widths) + plan.gap * (len(plan.widths) - 1)
        out.append((Span(" " * MARGIN), Span(rule * total, "rule")))
    for row in section.rows:
        cells = [wrap(row[i], w, indent=0) if i in section.prose else [row[i]] for i, w in zip(plan.columns, plan.widths)]
        out += _rows_of(cells, plan, section, failed=[FAILED in row[i] for i in plan.columns])
    return out


def _rows_of(cells: list[list[str]], plan: _Plan, section: Section, style: str | None = None,
             failed: list[bool] | None = None) -> list[Line]:
    height = max(len(c) for c in cells)
    lines: list[Line] = []
    for k in range(height):
        spans = [Span(" " * MARGIN)]
        for n, (i, w, cell) in enumerate(zip(plan.columns, plan.widths, cells)):
            text = cell[k] if k < len(cell) else ""
            if n:
                spans.append(Span(" " * plan.gap))
            spans.append(Span(_pad(text, w, right=i in section.numeric), "failed" if failed and failed[n] else style))
        lines.append(_trimmed(spans))
    return lines


def _stacked(section: Section, width: int) -> list[Line]:
    """Each row as a block: its first cell, then `column  value` for the others, values wrapped to fit."""
    labels = [c or say(tr("value")) for c in section.columns[1:]]
    label_width = min(max((cell_width(c) for c in labels), default=0), width // 3)
    value_width = width - MARGIN - STACK_INDENT - label_width - 2
    out: list[Line] = []
    for row in section.rows:
        out += [(Span(" " * MARGIN), Span(line, "failed" if FAILED in row[0] else "header")) for line in wrap(row[0], width - MARGIN)]
        for i, label in enumerate(labels, start=1):
            text = row[i]
            if not text:
                continue
            values = wrap(text, value_width) if i in section.prose or cell_width(text) > value_width else [text]
            for k, value in enumerate(values):
                head = _pad(label if k == 0 else "", label_width, right=False)
                spans = [Span(" " * (MARGIN + STACK_INDENT) + head + "  "), Span(value, "failed" if FAILED in text else None)]
                out.append(_trimmed(spans))
    return out


def _text_lines(section: Section, width: int) -> list[Line]:
    out: list[Line] = []
    for i, line in enumerate(section.lines):
        style = "failed" if i in section.failed_lines else None
        out += [(Span(part, style),) for part in wrap(line, width, indent=2)]
    return out


def _trimmed(spans: list[Span]) -> Line:
    """The line without the spaces it would end in."""
    while spans and not spans[-1].text.strip():
        spans.pop()
    if spans:
        spans[-1] = Span(spans[-1].text.rstrip(), spans[-1].style)
    return tuple(spans)


def plain(lines: list[Line]) -> str:
    return "".join("".join(span.text for span in line) + "\n" for line in lines)
