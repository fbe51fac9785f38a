"""One function per output format, report -> str, dispatched in one place.

Every report kind (inspect's Report, verify's VerifyReport, checkpoint's
CheckpointReport) offers to_dict(); the table and markdown formats draw the titled
sections each kind lays out.
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


def sections_of(report: Any) -> list:
    from rnnshape.checkpoint import CheckpointReport
    from rnnshape.report import Report

    if isinstance(report, Report):
        from rnnshape.render.sections import sections
    elif isinstance(report, CheckpointReport):
        from rnnshape.render.checkpoint_sections import sections
    else:
        from rnnshape.render.verify_sections import sections
    return sections(report)


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
