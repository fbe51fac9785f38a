"""One function per output format, report -> str, dispatched in one place.

Every report kind (inspect's Report, verify's VerifyReport, checkpoint's
CheckpointReport, summary's Summary, check's CheckReport) offers to_dict(); the
table and markdown formats draw the titled sections each kind lays out.
"""

from __future__ import annotations

import json
from typing import Any

from rnnshape.errors import SpecError
from rnnshape.language import tr

FORMATS = ("table", "json", "markdown", "csv")
SWEEP_FORMATS = FORMATS + ("jsonl",)  # many rows: one JSON object per line streams


def check_format(name: str, allowed: tuple[str, ...] = FORMATS) -> str:
    fmt = name.strip().lower()
    if fmt not in allowed:
        raise SpecError("format", tr("must be one of {choices} (got {value!r})", choices=", ".join(allowed), value=name))
    return fmt


# Each kind of report -> (module, function) that lays it out as sections: one entry per kind,
# loaded only when that kind is rendered.
_SECTIONS = {
    "Report": ("rnnshape.render.sections", "sections"),
    "VerifyReport": ("rnnshape.render.verify_sections", "sections"),
    "CheckpointReport": ("rnnshape.render.checkpoint_sections", "sections"),
    "Summary": ("rnnshape.render.model_sections", "summary_sections"),
    "CheckReport": ("rnnshape.render.model_sections", "check_sections"),
    "Sweep": ("rnnshape.render.rows", "sweep_sections"),
    "Row": ("rnnshape.render.rows", "row_sections"),
}


# The sections each command's table and markdown can be cut to (--sections), in the order they
# come, and the few --brief keeps: the answer on the first screen. JSON and CSV stay whole.
SECTION_NAMES = {
    "inspect": ("tensors", "packing", "h_n_rows", "relations", "parameters", "totals", "settings", "cost", "training",
                "checks"),
    "verify": ("comparisons", "result"),
    "checkpoint": ("file", "config", "tensors", "packing", "h_n_rows", "relations", "parameters", "totals", "checks",
                   "inconsistent"),
    "summary": ("modules", "recurrent", "tensors", "packing", "h_n_rows", "relations", "totals", "refused", "why", "checks"),
    "check": ("given", "tensors", "packing", "h_n_rows", "relations", "result", "refused", "why"),
}
BRIEF = {
    "inspect": ("tensors", "h_n_rows", "totals", "training"),  # training: only with --train
    "verify": ("result",),
    "checkpoint": ("file", "config", "tensors", "totals"),
    "summary": ("modules", "totals", "refused", "why", "checks"),
    "check": ("tensors", "result", "refused", "why"),
}


def chosen_sections(command: str, fmt: str, *, brief: bool = False, names: str | None = None) -> tuple[str, ...] | None:
    """The sections --brief or --sections NAME,... keep (None: every one); SpecError naming the flag."""
    if not brief and names is None:
        return None
    flag = "sections" if names is not None else "brief"
    if brief and names is not None:
        raise SpecError("sections", tr("and --brief both choose sections: give one of them"))
    if fmt not in ("table", "markdown"):
        raise SpecError(flag, tr("chooses sections of the table and markdown formats; -f {fmt} is always whole (the contract)",
                                 fmt=fmt))
    if brief:
        return BRIEF[command]
    known = SECTION_NAMES[command]
    picked = tuple(dict.fromkeys(n.strip().lower().replace("-", "_") for n in names.split(",") if n.strip()))
    unknown = [n for n in picked if n not in known]
    if not picked or unknown:
        raise SpecError("sections", tr("must be among {choices} (got {value!r})", choices=", ".join(known), value=names))
    return picked


def sections_of(report: Any, only: tuple[str, ...] | None = None) -> list:
    """The report's sections, or those of them named in `only` (a name the report has no section for is skipped)."""
    from importlib import import_module

    module, function = _SECTIONS[type(report).__name__]
    parts = getattr(import_module(module), function)(report)
    return parts if only is None else [part for part in parts if part.name in only]


def render(report: Any, fmt: str, *, width: int = 100, color: bool = False, only: tuple[str, ...] | None = None,
           ascii: bool = False, lang: str | None = None) -> str:
    """The report in one format. `ascii`: for an output that cannot show rnnshape's symbols (symbols.py).

    `lang`: the language of the table and markdown formats ("zh", "en"; else the report's
    own `lang`, else the one chosen: language.py). JSON and CSV are the same bytes in every language.
    """
    from rnnshape.language import speaking

    fmt = check_format(fmt)
    with speaking(lang or getattr(report, "lang", None)):
        return _render(report, fmt, width=width, color=color, only=only, ascii=ascii)


def _render(report: Any, fmt: str, *, width: int, color: bool, only: tuple[str, ...] | None, ascii: bool) -> str:
    if fmt == "json":
        # The report's own words (✓, ×) as they are where the output shows them; escaped where it cannot:
        # the same JSON either way.
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=ascii) + "\n"
    if fmt == "csv":
        from rnnshape.render import csvfmt

        return csvfmt.render(report)
    if fmt == "table":
        from rnnshape.render import table

        return table.render_sections(_drawn(sections_of(report, only), ascii), width=width, color=color, ascii=ascii)
    from rnnshape.render import markdown

    return markdown.render_sections(_drawn(sections_of(report, only), ascii))


def _drawn(parts: list, ascii: bool) -> list:
    """Every string of the sections as a person may see it: control characters escaped (names come
    from files), and rnnshape's symbols as ASCII stand-ins where the output cannot show them."""
    from dataclasses import replace

    from rnnshape.language import say
    from rnnshape.render.text import visible

    # Said in the chosen language first (only rnnshape's own sentences are: language.py), then made visible.
    if ascii:
        from rnnshape.render.symbols import to_ascii

        def shown(text: str) -> str:
            return to_ascii(visible(say(text)))
    else:
        def shown(text: str) -> str:
            return visible(say(text))
    return [replace(s, title=shown(s.title), columns=[shown(c) for c in s.columns],
                    rows=[[shown(c) for c in row] for row in s.rows], lines=[shown(line) for line in s.lines],
                    failed_lines=s.failed_lines | _failures(s.lines))
            for s in parts]


def _failures(lines: list[str]) -> set[int]:
    """The lines after a table that report a failure (a ✗ check, a sweep's refused configuration):
    decided here, on the English, so that each is drawn as one in whatever language it is then said."""
    from rnnshape.render.sections import FAILED

    return {i for i, line in enumerate(lines) if str.startswith(line, (FAILED, "refused"))}


def readable_sections(report: Any, lang: str | None = None) -> list:
    """The report's sections as every text format shows them (the notebook's HTML included)."""
    from rnnshape.language import speaking

    with speaking(lang or getattr(report, "lang", None)):
        return _drawn(sections_of(report), False)
