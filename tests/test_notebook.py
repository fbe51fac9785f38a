"""A real notebook, executed headless (nbclient, a fresh ipykernel): what Jupyter shows for each report.

docs/in-a-notebook.ipynb is the one the docs page shows; here each of its
outputs is checked for the bundle Jupyter picks from: HTML tables, Markdown,
and a one-line text/plain repr.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    notebook = nbformat.read(str(REPO / "docs" / "in-a-notebook.ipynb"), as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_no_cell_raised(executed):
    assert not [o for o in outputs(executed) if o.output_type == "error"]


def test_every_report_draws_itself_as_html_markdown_and_one_line(executed):
    results = [o for o in outputs(executed) if o.output_type == "execute_result"]
    assert len(results) == 3  # the inspect report, a live layer's, a summary
    for result in results:
        data = result["data"]
        assert data["text/html"].startswith('<div class="rnnshape">') and data["text/html"].count("<table>") >= 2
        assert data["text/markdown"].startswith("**") and "| --- |" not in data["text/markdown"][:5]
        assert re.fullmatch(r"<(Report|Summary) [^\n]+>", data["text/plain"]), data["text/plain"]


def test_repr_and_print(executed):
    streams = [o["text"] for o in outputs(executed) if o.output_type == "stream"]
    assert streams[0].strip() == "<Report nn.LSTM(10, 20, num_layers=2, bidirectional=True): 42 of 42 checks held>"
    table = streams[1]
    assert table.startswith("summary: nn.Sequential") and "───" in table
    assert max(len(line) for line in table.splitlines()) <= 100
