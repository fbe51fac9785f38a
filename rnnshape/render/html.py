"""The notebook format: the report's sections as HTML tables (Jupyter's _repr_html_).

Every piece of text is escaped: a name can come from a hostile checkpoint.
"""

from __future__ import annotations

from html import escape

from rnnshape.render.sections import FAILED, Section

_FAILED_STYLE = ' style="color:#c0392b"'


def render_sections(parts: list[Section]) -> str:
    return '<div class="rnnshape">\n' + "\n".join(_section(s) for s in parts) + "\n</div>"


def _section(section: Section) -> str:
    title = f"<code>{escape(section.title)}</code>" if section.title_is_code else escape(section.title)
    out = [f"<p><strong>{title}</strong></p>"] if section.title else []
    if section.columns:
        out.append("<table>")
        if any(section.columns):
            out.append("<thead><tr>" + "".join(f"<th{_align(section, i)}>{escape(c)}</th>" for i, c in enumerate(section.columns))
                       + "</tr></thead>")
        out.append("<tbody>")
        for row in section.rows:
            out.append("<tr>" + "".join(f"<td{_align(section, i, cell)}>{_cell(section, i, cell)}</td>" for i, cell in enumerate(row))
                       + "</tr>")
        out.append("</tbody></table>")
    if section.lines:
        out.append("<ul>" + "".join(f"<li{_FAILED_STYLE if line.startswith(FAILED) else ''}>{escape(line)}</li>"
                                    for line in section.lines) + "</ul>")
    return "\n".join(out)


def _align(section: Section, i: int, cell: str = "") -> str:
    styles = ["text-align:right" if i in section.numeric else "text-align:left"]
    if FAILED in cell:
        styles.append("color:#c0392b")
    return f' style="{";".join(styles)}"'


def _cell(section: Section, i: int, cell: str) -> str:
    return f"<code>{escape(cell)}</code>" if cell and i in section.code else escape(cell)
