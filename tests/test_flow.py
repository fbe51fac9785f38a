"""`rnnshape flow`: the unrolled picture has every cell, the right h_n rows in the
right places, fits its width, elides big configs, and exports SVG.

The picture is read back through its stable labels: a layer row starts with
`layer <l> →` (forward) or `layer <l> ←` (reverse), its cells are `[t<step>]`,
and the row's two ends are `h_0[<row>]` and `h_n[<row>]`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rnnshape import RNNSpec, theory
from rnnshape.flow import flow_renderable, flow_svg, flow_text

REPO = Path(__file__).resolve().parents[1]

SMALL = {
    "rnn_default": RNNSpec(),
    "rnn_3layers_bidirectional": RNNSpec(num_layers=3, bidirectional=True, seq_len=4),
    "lstm_proj_bidirectional_batch_first": RNNSpec(
        mode="lstm", num_layers=2, bidirectional=True, proj_size=5, batch_first=True, seq_len=6
    ),
    "gru_unbatched_one_step": RNNSpec(mode="gru", unbatched=True, seq_len=1),
    # The largest config that must be drawn whole at width 100.
    "gru_6layers_bidirectional_12steps": RNNSpec(mode="gru", num_layers=6, bidirectional=True, seq_len=12),
    "lstm_6layers_12steps": RNNSpec(mode="lstm", num_layers=6, seq_len=12),
}
LARGE = RNNSpec(mode="lstm", num_layers=10, bidirectional=True, seq_len=50)

ROW = re.compile(
    r"^layer (?P<layer>\d+) (?P<arrow>[→←]) +(?P<left>h_[0n])\[(?P<left_row>\d+)\] "
    r"(?P<cells>.*) (?P<right>h_[0n])\[(?P<right_row>\d+)\]$"
)
DIRECTION = {"→": 0, "←": 1}


def layer_rows(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := ROW.match(line))]


def cells(text: str) -> list[tuple[int, int, int]]:
    """(layer, direction, step) for every cell drawn."""
    out = []
    for m in layer_rows(text):
        for step in re.findall(r"\[t(\d+)\]", m["cells"]):
            out.append((int(m["layer"]), DIRECTION[m["arrow"]], int(step)))
    return out


@pytest.mark.parametrize("name", list(SMALL))
def test_every_cell_is_drawn_once(name):
    spec = SMALL[name]
    drawn = cells(flow_text(spec))
    D = 2 if spec.bidirectional else 1
    expected = {(layer, d, t) for layer in range(spec.num_layers) for d in range(D) for t in range(spec.seq_len)}
    assert len(drawn) == spec.num_layers * D * spec.seq_len
    assert set(drawn) == expected


@pytest.mark.parametrize("name", list(SMALL))
def test_h_n_rows_and_where_they_leave(name):
    spec = SMALL[name]
    text = flow_text(spec)
    D, L = (2 if spec.bidirectional else 1), spec.seq_len
    from_theory = {(r.layer, theory.DIRECTIONS.index(r.direction)): r.row for r in theory.h_n_rows(spec)}
    seen = set()
    for m in layer_rows(text):
        layer, direction = int(m["layer"]), DIRECTION[m["arrow"]]
        ends = {m["left"]: int(m["left_row"]), m["right"]: int(m["right_row"])}
        assert set(ends) == {"h_0", "h_n"}
        # Both h_0 and h_n use row layer*D + direction, written here independently.
        assert ends["h_n"] == ends["h_0"] == layer * D + direction == from_theory[(layer, direction)]
        if direction == 0:
            # forward: in from h_0 on the left, out to h_n right after the last step
            assert m["left"] == "h_0"
            assert re.search(rf"\[t{L - 1}\]─*→$", m["cells"]), m[0]
        else:
            # reverse: in from h_0 on the right, out to h_n right after t=0, on the left
            assert m["left"] == "h_n"
            assert re.match(r"←─*\[t0\]", m["cells"]), m[0]
        seen.add((layer, direction))
    assert seen == set(from_theory)


def test_legend_lists_each_h_n_row_at_its_step():
    text = flat(flow_text(SMALL["rnn_3layers_bidirectional"]))
    for layer in range(3):
        assert f"layer {layer}: h_n[{2 * layer}] → leaves at t=3, h_n[{2 * layer + 1}] ← leaves at t=0" in text


def flat(text: str) -> str:
    """The text with every run of whitespace as one space: the legend wraps to the width."""
    return " ".join(text.split())


def test_legend_names_output_and_mode_extras():
    text = flat(flow_text(SMALL["lstm_proj_bidirectional_batch_first"]))
    assert "output[t] = [layer 1 → at t | layer 1 ← at t]" in text
    assert "shape (N, L, D*H_out) = (3, 6, 10)" in text  # output in the batch_first layout
    assert "concatenated, [→ | ←]" in text
    assert "c_n leaves the same cell as h_n, same rows" in text
    assert "from H = 20 to P = 5" in text
    plain = flow_text(SMALL["rnn_default"])
    assert "c_n" not in plain and "P =" not in plain and "concatenated" not in plain


def grid_part(text: str) -> str:
    """Title and picture: everything before the legend."""
    return text.split("\n[tN]")[0]


def test_layout_flags_do_not_change_the_picture():
    base = RNNSpec(mode="gru", num_layers=2, bidirectional=True)
    seq_first = flow_text(base)
    for changed, note in [
        (RNNSpec(mode="gru", num_layers=2, bidirectional=True, batch_first=True), "batch_first only reorders"),
        (RNNSpec(mode="gru", num_layers=2, bidirectional=True, unbatched=True), "unbatched input"),
    ]:
        text = flow_text(changed)
        assert grid_part(text) == grid_part(seq_first)
        assert note in flat(text) and note not in flat(seq_first)


@pytest.mark.parametrize("width", [100, 80])
@pytest.mark.parametrize("spec", [*SMALL.values(), LARGE], ids=[*SMALL, "large"])
def test_lines_fit_the_width(spec, width):
    text = flow_text(spec, width=width)
    assert "\x1b" not in text  # plain text, no colour codes
    assert max(len(line) for line in text.splitlines()) <= width


def test_up_to_12_steps_and_6_layers_is_drawn_whole_at_width_100():
    text = flow_text(SMALL["gru_6layers_bidirectional_12steps"], width=100)
    assert "⋯" not in text and "elided" not in text


def test_arrows_sit_under_their_cells():
    text = flow_text(SMALL["rnn_3layers_bidirectional"])
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if ROW.match(line) and lines[i + 1].strip().startswith("↑"):
            spans = [range(m.start(), m.end()) for m in re.finditer(r"\[t\d+\]", line)]
            arrows = [j for j, ch in enumerate(lines[i + 1]) if ch == "↑"]
            assert len(arrows) == len(spans)
            assert all(j in span for j, span in zip(arrows, spans))


@pytest.mark.parametrize("width", [100, 80])
def test_large_configs_elide_and_stay_correct(width):
    text = flow_text(LARGE, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    drawn = cells(text)
    assert len(drawn) < LARGE.num_layers * 2 * LARGE.seq_len
    # The edges stay: first and last steps, bottom two and top two layers.
    assert {t for _, _, t in drawn} >= {0, 1, 48, 49}
    assert {layer for layer, _, _ in drawn} == {0, 1, 8, 9}
    steps = sorted({t for _, _, t in drawn})
    gaps = [(a + 1, b - 1) for a, b in zip(steps, steps[1:]) if b - a > 1]
    assert len(gaps) == 1  # one elided run, in the middle
    first, last = gaps[0]
    assert f"steps t={first}..{last} elided ({last - first + 1} steps)" in flat(text)
    assert "⋮ layers 2..7: 6 layers elided" in text
    assert "⋯" in grid_part(text)
    # The rows still drawn keep their true h_n rows.
    for m in layer_rows(text):
        assert int(m["right_row"]) == int(m["left_row"]) == int(m["layer"]) * 2 + DIRECTION[m["arrow"]]


def test_renderable_has_colour_on_a_terminal():
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=100, force_terminal=True, color_system="standard").print(
        flow_renderable(SMALL["rnn_3layers_bidirectional"])
    )
    assert "\x1b[" in buffer.getvalue()


def test_svg_is_written(tmp_path):
    path = flow_svg(SMALL["lstm_proj_bidirectional_batch_first"], tmp_path / "flow.svg")
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("<svg")
    root = ET.fromstring(text)
    assert root.tag.endswith("svg")
    words = "".join(root.itertext()).replace("\xa0", " ")
    assert "layer 1 ←" in words and "h_n[3]" in words


def test_import_loads_neither_torch_nor_rich():
    # The positive control (rich loaded once drawing) proves the probe can see it.
    probe = (
        "import sys, rnnshape.flow as f\n"
        "print(sorted(m for m in ('torch', 'rich') if m in sys.modules))\n"
        "f.flow_text(f.RNNSpec())\n"
        "print(sorted(m for m in ('torch', 'rich') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[]", "['rich']"]
