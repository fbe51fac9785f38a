"""How every report shows itself: print() gives the table, Jupyter the HTML (or markdown), repr one line.

Each report kind says what its one line holds (headline()); everything else is
the one set of sections every format draws.
"""

from __future__ import annotations

# print(report): the width a pipe gets; a terminal's own width is the CLI's business.
PRINT_WIDTH = 100


class Shown:
    # The language print() and the notebook show this report in ("zh", "en"); None: the one
    # chosen (RNNSHAPE_LANG, else the locale: language.py). JSON and to_dict() never change.
    lang: str | None = None

    def headline(self) -> str:  # pragma: no cover - each report kind says its own
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.headline()}>"

    def __str__(self) -> str:
        from rnnshape.render import render

        return render(self, "table", width=PRINT_WIDTH, lang=self.lang)

    def _repr_markdown_(self) -> str:
        from rnnshape.render import render

        return render(self, "markdown", lang=self.lang)

    def _repr_html_(self) -> str:
        from rnnshape.render import html, readable_sections

        return html.render_sections(readable_sections(self, self.lang))
