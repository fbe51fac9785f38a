"""The documentation format: the report's sections as GitHub-flavoured Markdown tables."""

from __future__ import annotations

from rnnshape.render.sections import Section
from rnnshape.report import Report


def render(report: Report) -> str:
    from rnnshape.render import readable_sections

    return render_sections(readable_sections(report))


def render_sections(parts: list[Section]) -> str:
    return "\n".join(_section(s) for s in parts)


def _section(section: Section) -> str:
    title = f"`{section.title}`" if section.title_is_code else _escape(section.title)
    out = [f"**{title}**", ""]
    if section.columns:
        out.append("| " + " | ".join(_escape(c) or " " for c in section.columns) + " |")
        out.append("|" + "|".join("---:" if i in section.numeric else "---" for i in range(len(section.columns))) + "|")
        for row in section.rows:
            cells = [f"`{_escape(c)}`" if c and i in section.code else _escape(c) for i, c in enumerate(row)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += [f"- {line}" for line in section.lines]
    if section.lines:
        out.append("")
    return "\n".join(out)


def _escape(text: str) -> str:
    # GFM splits table cells on |, even inside code spans.
    return text.replace("|", "\\|")
