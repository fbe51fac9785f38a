"""One function per output format, Report -> str, dispatched in one place."""

from __future__ import annotations

from rnnshape.errors import SpecError
from rnnshape.report import Report

FORMATS = ("table", "json", "markdown", "csv")


def check_format(name: str) -> str:
    fmt = name.strip().lower()
    if fmt not in FORMATS:
        raise SpecError("format", f"must be one of {', '.join(FORMATS)} (got {name!r})")
    return fmt


def render(report: Report, fmt: str, *, width: int = 100, color: bool = False) -> str:
    fmt = check_format(fmt)
    if fmt == "table":
        from rnnshape.render import table

        return table.render(report, width=width, color=color)
    if fmt == "json":
        from rnnshape.render import jsonfmt

        return jsonfmt.render(report)
    if fmt == "markdown":
        from rnnshape.render import markdown

        return markdown.render(report)
    from rnnshape.render import csvfmt

    return csvfmt.render(report)
