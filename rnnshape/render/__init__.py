"""One function per output format, report -> str, dispatched in one place.

Every report kind (inspect's Report, verify's VerifyReport, checkpoint's
CheckpointReport, summary's Summary, check's CheckReport) offers to_dict(); the
table and markdown formats draw the titled sections each kind lays out.
"""

from __future__ import annotations

import json
from typing import Any

from rnnshape.errors import SpecError

FORMATS = ("table", "json", "markdown", "csv")
SWEEP_FORMATS = FORMATS + ("jsonl",)  # many rows: one JSON object per line streams


def check_format(name: str, allowed: tuple[str, ...] = FORMATS) -> str:
    fmt = name.strip().lower()
    if fmt not in allowed:
        raise SpecError("format", f"must be one of {', '.join(allowed)} (got {name!r})")
    return fmt


# Each kind of report -> (module, function) that lays it out as sections: one entry per kind,
# loaded only when that kind is rendered.
_SECTIONS = {
    "Report": ("rnnshape.render.sections", "sections"),
    "VerifyReport": ("rnnshape.render.verify_sections", "sections"),
    "CheckpointReport": ("rnnshape.render.checkpoint_sections", "sections"),
    "Summary": ("rnnshape.render.model_sections", "summary_sections"),
    "CheckReport": ("rnnshape.render.model_sections", "check_sections"),
}


def sections_of(report: Any) -> list:
    from importlib import import_module

    module, function = _SECTIONS[type(report).__name__]
    return getattr(import_module(module), function)(report)


def render(report: Any, fmt: str, *, width: int = 100, color: bool = False) -> str:
    fmt = check_format(fmt)
    if fmt == "json":
        # ensure_ascii=False keeps the report's own words (✓, ×) readable; stdout is UTF-8.
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        from rnnshape.render import csvfmt

        return csvfmt.render(report)
    if fmt == "table":
        from rnnshape.render import table

        return table.render_sections(sections_of(report), width=width, color=color)
    from rnnshape.render import markdown

    return markdown.render_sections(sections_of(report))
