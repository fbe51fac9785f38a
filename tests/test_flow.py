"""`rnnshape flow`: the unrolled picture has every cell, the right h_n rows in the
right places, fits its width, elides big configs, and exports SVG.

The picture is read back through its stable labels: a layer row starts with
`layer <l> →` (forward) or `layer <l> ←` (reverse), its cells are `[t<step>]`,
and the row's two ends are `h_0[<row>]` and `h_n[<row>]`.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import cell_specs, packed_specs
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


# Cells: one step, no grid. Expected shapes come from PyTorch's cell docs, written
# here from the config: input (N, H_in) or (H_in,), every state (N, H) or (H,).

CELL_CONFIGS = {
    f"{mode}{'_unbatched' if unbatched else ''}": dict(mode=mode, unbatched=unbatched)
    for mode in ("rnncell", "lstmcell", "grucell")
    for unbatched in (False, True)
} | {
    "lstmcell_n2_no_bias": dict(mode="lstmcell", batch_size=2, bias=False, input_size=7, hidden_size=11),
    "rnncell_relu_empty_batch": dict(mode="rnncell", nonlinearity="relu", batch_size=0),
    "grucell_huge": dict(mode="grucell", input_size=98765432, hidden_size=123456789, batch_size=4096),
}
WIDTHS = [100, 80, 60, 40]


def documented_cell_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    n = () if cfg.get("unbatched") else (cfg.get("batch_size", 3),)
    H, H_in = cfg.get("hidden_size", 20), cfg.get("input_size", 10)
    shapes = {"input": n + (H_in,), "h_0": n + (H,), "h_1": n + (H,)}
    if cfg["mode"] == "lstmcell":
        shapes |= {"c_0": n + (H,), "c_1": n + (H,)}
    return shapes


def words_of_svg(path: Path) -> str:
    root = ET.fromstring(Path(path).read_text(encoding="utf-8"))
    return "".join(root.itertext()).replace("\xa0", " ")


def rendered_in_colour(spec: RNNSpec, width: int) -> str:
    """flow_renderable on a colour terminal, returned with its escape codes."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=True, color_system="truecolor", highlight=False,
            emoji=False).print(flow_renderable(spec, width))
    return buffer.getvalue()


def strip_ansi(text: str) -> str:
    return "\n".join(line.rstrip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()) + "\n"


def fits(text: str, width: int) -> bool:
    return max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("name", list(CELL_CONFIGS))
def test_cell_names_its_tensors_with_their_shapes(name):
    cfg = CELL_CONFIGS[name]
    spec = RNNSpec(**cfg)
    text = flow_text(spec)
    shapes = documented_cell_shapes(cfg)
    for tensor, shape in shapes.items():
        assert f"{tensor} {shape}" in text, (tensor, shape)
    assert ("c_1" in text) == ("c_0" in text) == (cfg["mode"] == "lstmcell")
    # One step: no grid, no time steps, no h_n; and it says the loop is the caller's.
    assert "[t0]" not in text and "h_n" not in text and "output[t]" not in text
    assert "one time step; you write the loop over t" in text.splitlines()[0]
    assert ("h_0, c_0 = h_1, c_1" if cfg["mode"] == "lstmcell" else "h_0 = h_1") in text


@pytest.mark.parametrize("name", ["rnncell", "lstmcell_unbatched", "grucell"])
def test_cell_picture_wires_states_through_the_box(name):
    cfg = CELL_CONFIGS[name]
    spec = RNNSpec(**cfg)
    shapes = documented_cell_shapes(cfg)
    lines = flow_text(spec).splitlines()
    states = ("h", "c") if cfg["mode"] == "lstmcell" else ("h",)
    for k, s in enumerate(states):
        # h_0 goes in on the left of the box and h_1 comes out on the right, on one line.
        row = next(line for line in lines if line.lstrip().startswith(f"{s}_0 "))
        assert re.search(rf"{s}_0 {re.escape(str(shapes[f'{s}_0']))} ──→ │.*│ ──→ {s}_1 {re.escape(str(shapes[f'{s}_1']))} ─[┐┤]$", row), row
        if k == 0:
            assert f"nn.{spec.module_name}" in row
    # The input comes down into the box's top edge.
    i = next(i for i, line in enumerate(lines) if f"input {shapes['input']}" in line)
    assert lines[i + 1].strip() == "↓" and lines[i + 2].strip().startswith("┌")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(CELL_CONFIGS))
def test_cell_fits_the_width_in_every_renderer(name, width, tmp_path):
    cfg = CELL_CONFIGS[name]
    spec = RNNSpec(**cfg)
    text = flow_text(spec, width=width)
    assert fits(text, width)
    shapes = documented_cell_shapes(cfg)
    for tensor in ("h_1", "c_1") if cfg["mode"] == "lstmcell" else ("h_1",):
        # Whole in the picture at every width tried (the narrow layout puts one tensor a line).
        assert any(line.strip() == f"{tensor} {shapes[tensor]}" or f"{tensor} {shapes[tensor]} " in line
                   for line in text.splitlines()), tensor
    coloured = rendered_in_colour(spec, width)
    assert "\x1b[" in coloured and strip_ansi(coloured) == text
    words = words_of_svg(flow_svg(spec, tmp_path / "cell.svg", width=width))
    assert f"h_1 {shapes['h_1']}" in words and ("c_1" in words) == (cfg["mode"] == "lstmcell")


def test_cell_narrow_layout_keeps_every_tensor():
    spec = RNNSpec(mode="lstmcell", batch_size=2)
    wide, narrow = flow_text(spec, width=100), flow_text(spec, width=40)
    assert "┌" in wide and "┌" not in narrow
    for tensor in ("input (2, 10)", "h_0 (2, 20)", "c_0 (2, 20)", "h_1 (2, 20)", "c_1 (2, 20)"):
        assert tensor in narrow


def test_cell_legend_names_the_equations_and_the_layer_it_loops_into():
    text = flat(flow_text(RNNSpec(mode="lstmcell")))
    assert "c_1 = f * c_0 + i * g, h_1 = o * tanh(c_1)" in text
    assert "the cell returns the tuple (h_1, c_1)" in text and "nn.LSTM(10, 20) runs that loop" in text
    assert "h_1 = relu(W_ih x + W_hh h_0)" in flat(flow_text(RNNSpec(mode="rnncell", nonlinearity="relu", bias=False)))
    assert "h_1 = (1 - z) * n + z * h_0" in flat(flow_text(RNNSpec(mode="grucell")))
    assert "1-D (H_in,)" in flat(flow_text(RNNSpec(mode="grucell", unbatched=True)))


# Packed input: the grid, plus one row per sequence and the batch_sizes row.

PACKED = {
    "rnn_5_3_2_bidirectional_2layers": RNNSpec(lengths=(5, 3, 2), bidirectional=True, num_layers=2),
    "lstm_unsorted": RNNSpec(mode="lstm", lengths=(2, 4, 4), enforce_sorted=False),
    "gru_one_sequence": RNNSpec(mode="gru", lengths=(3,)),
    "rnn_equal_lengths": RNNSpec(lengths=(4, 4, 4), batch_first=True),
    "gru_long_many_deep": RNNSpec(mode="gru", lengths=(60, 60, 59, 40, 30, 30, 20, 10, 5, 3, 1),
                                  bidirectional=True, num_layers=9),
    "lstm_proj_unsorted_bidirectional": RNNSpec(mode="lstm", lengths=(1, 7, 3, 7, 2), enforce_sorted=False,
                                                bidirectional=True, proj_size=4, num_layers=3),
}

SEQ_ROW = re.compile(r"^seq (?P<i>\d+), len (?P<n>\d+) +(?P<marks>.*?) i=(?P=i)$")


def shown_steps(text: str) -> list[int | None]:
    """The time steps in the header, None for an elided run."""
    header = next(line for line in text.splitlines() if line.startswith("output[t]"))
    return [None if tok == "⋯" else int(tok[2:]) for tok in header.split()[1:]]


def batch_sizes_row(text: str) -> list[int | None]:
    row = next(line for line in grid_part(text).splitlines() if line.startswith("batch_sizes"))
    return [None if tok == "⋯" else int(tok) for tok in row.split()[1:]]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PACKED))
def test_packed_batch_sizes_row_counts_the_running_sequences(name, width):
    spec = PACKED[name]
    text = flow_text(spec, width=width)
    assert fits(text, width)
    if width < 60 and spec.num_layers > 6:
        return  # narrower than any grid of this config: drawn at its minimum and cropped
    steps = shown_steps(text)
    expected = [None if t is None else sum(1 for n in spec.lengths if n > t) for t in steps]
    assert batch_sizes_row(text) == expected


@pytest.mark.parametrize("name", list(PACKED))
def test_packed_batch_sizes_sit_under_their_columns(name):
    text = flow_text(PACKED[name])
    lines = grid_part(text).splitlines()
    cell_row = next(line for line in lines if PACKED_ROW.match(line))
    spans = [range(m.start(), m.end()) for m in re.finditer(r"\[t\d+\]", cell_row)]
    numbers_row = next(line for line in lines if line.startswith("batch_sizes"))
    numbers = [m for m in re.finditer(r"\d+", numbers_row)]
    assert len(numbers) == len(spans)
    assert all(m.start() in span and m.end() - 1 in span for m, span in zip(numbers, spans))


@pytest.mark.parametrize("name", list(PACKED))
def test_packed_sequence_rows_run_to_their_own_length(name):
    spec = PACKED[name]
    text = flow_text(spec)
    steps = shown_steps(text)
    rows = [m for line in grid_part(text).splitlines() if (m := SEQ_ROW.match(line))]
    N = len(spec.lengths)
    assert [int(m["i"]) for m in rows] == (list(range(N)) if N <= 8 else [0, 1, 2, N - 2, N - 1])
    for m in rows:
        i, n = int(m["i"]), int(m["n"])
        assert n == spec.lengths[i]
        marks = [ch for ch in m["marks"] if ch in "●·⋯"]
        expected = ["⋯" if t is None else "●" if t < n else "·" for t in steps]
        assert marks == expected
        # The real steps are joined by the state's wire; from the last one on it is dotted.
        first, last = m["marks"].index("●"), m["marks"].rindex("●")
        assert set(m["marks"][first:last + 1]) <= set("●─⋯")
        assert set(m["marks"][last + 1:]) <= set("┄·⋯") and m["marks"].endswith("┄")
    if N > 8:
        assert f"⋮ sequences 3..{N - 3} elided ({N - 5})" in text


def packed_caps(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := PACKED_ROW.match(line))]


PACKED_ROW = re.compile(
    r"^layer (?P<layer>\d+) (?P<arrow>[→←]) +(?P<left>h_[0n])\[(?P<left_row>\d+)(?P<left_i>,i)?\] "
    r"(?P<cells>.*) (?P<right>h_[0n])\[(?P<right_row>\d+)(?P<right_i>,i)?\]$"
)


@pytest.mark.parametrize("name", list(PACKED))
def test_packed_rows_end_per_sequence(name):
    spec = PACKED[name]
    text = flow_text(spec)
    D = 2 if spec.bidirectional else 1
    rows = packed_caps(text)
    assert rows
    for m in rows:
        row = int(m["layer"]) * D + DIRECTION[m["arrow"]]
        assert int(m["left_row"]) == int(m["right_row"]) == row
        # The right end is each sequence's own last step: forward h_n leaves there,
        # reverse h_0 enters there. The left end (t=0) is the same for every sequence.
        assert m["right_i"] == ",i" and m["left_i"] is None
        assert m["right"] == ("h_n" if m["arrow"] == "→" else "h_0")
    # Every drawn cell is still there, once.
    drawn = [(int(m["layer"]), DIRECTION[m["arrow"]], int(t)) for m in rows for t in re.findall(r"\[t(\d+)\]", m["cells"])]
    assert len(drawn) == len(set(drawn))


@pytest.mark.parametrize("name", list(PACKED))
def test_packed_legend_says_h_n_is_per_sequence(name):
    spec = PACKED[name]
    text = flat(flow_text(spec))
    L = max(spec.lengths)
    per_sequence = ", ".join(f"seq {i} at t={n - 1}" for i, n in enumerate(spec.lengths))
    if len(spec.lengths) <= 12:
        assert f"forward h_n[row,i], per sequence: {per_sequence}" in text
    else:
        assert "forward h_n[row,i], per sequence: seq 0 at t=" in text
    assert f"h_n[row,i] leaves after sequence i's own last step t=lengths[i]-1, not after t=L-1={L - 1}" in text
    assert "h_n[row] leaves after t=L-1" not in text  # the unpacked caption, unqualified
    assert ("h_0[row,i] enters at sequence i's own last step" in text) == spec.bidirectional
    batch_sizes = [sum(1 for n in spec.lengths if n > t) for t in range(L)]
    if L <= 12:
        assert f"PackedSequence.batch_sizes = {batch_sizes}" in text
    assert f"{sum(spec.lengths)} real steps per layer and direction instead of L*N = {L * len(spec.lengths)}" in text
    order = sorted(range(len(spec.lengths)), key=lambda i: -spec.lengths[i])  # stable: ties keep their order
    assert (f"sorted_indices = {order}" in text) == (not spec.enforce_sorted)


def test_packed_legend_replaces_output_with_padded_and_packed():
    text = flat(flow_text(PACKED["rnn_5_3_2_bidirectional_2layers"]))
    assert "padded_output (L, N, D*H_out) = (5, 3, 40)" in text
    assert "packed_output.data (sum(lengths), D*H_out) = (10, 40)" in text
    assert "layer 1: h_n[2] → leaves at t=lengths[i]-1, h_n[3] ← leaves at t=0" in text
    text = flat(flow_text(PACKED["rnn_equal_lengths"]))
    assert "padded_output (N, L, D*H_out) = (3, 4, 20)" in text  # batch_first


def test_packed_grid_is_the_unpacked_grid_but_for_its_right_ends():
    packed = flow_text(RNNSpec(mode="gru", lengths=(4, 2, 1), bidirectional=True))
    plain = flow_text(RNNSpec(mode="gru", seq_len=4, bidirectional=True))
    ends = [(m["layer"], m["arrow"], re.sub(r"[┄─]", "", m["cells"])) for m in packed_caps(packed)]
    assert ends == [(m["layer"], m["arrow"], re.sub(r"─", "", m["cells"])) for m in layer_rows(plain)]
    assert "┄" not in plain and ",i]" not in plain


@pytest.mark.parametrize("name", ["lstm_unsorted", "rnn_5_3_2_bidirectional_2layers"])
def test_packed_in_colour_and_svg(name, tmp_path):
    spec = PACKED[name]
    coloured = rendered_in_colour(spec, 100)
    assert "\x1b[" in coloured and strip_ansi(coloured) == flow_text(spec)
    words = words_of_svg(flow_svg(spec, tmp_path / "packed.svg"))
    assert "batch_sizes" in words and "h_n[0,i]" in words and "seq 0, len" in words


# Nothing crashes and every line fits, over random cells and packed configs.


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=cell_specs(max_size=10**9, max_batch=10**6), width=st.integers(20, 200))
def test_any_cell_draws_within_the_width(spec, width):
    text = flow_text(spec, width=width)
    assert fits(text, width)
    assert "h_1" in text and ("c_1" in text) == spec.lstm


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=packed_specs(max_size=64, max_length=120, max_sequences=20, max_layers=12), width=st.integers(20, 200))
def test_any_packed_config_draws_within_the_width(spec, width):
    text = flow_text(spec, width=width)
    assert fits(text, width)
    if width >= 60:  # wide enough that nothing in the grid is cropped
        steps = shown_steps(text)
        assert batch_sizes_row(text) == [None if t is None else sum(1 for n in spec.lengths if n > t) for t in steps]
        assert "forward h_n[row,i], per sequence: seq 0 at t=" in flat(text)


def test_cli_draws_cells_and_packed_input():
    from typer.testing import CliRunner

    from rnnshape.cli import app

    runner = CliRunner()
    cell = runner.invoke(app, ["flow", "--mode", "grucell"])
    assert cell.exit_code == 0, cell.output
    assert "nn.GRUCell(10, 20): one time step" in cell.stdout and "h_1 (3, 20)" in cell.stdout
    packed = runner.invoke(app, ["flow", "--lengths", "5,3,2", "--bidirectional", "--layers", "2"])
    assert packed.exit_code == 0, packed.output
    assert batch_sizes_row(packed.stdout) == [3, 3, 2, 1, 1]
    unsorted = runner.invoke(app, ["flow", "--mode", "lstm", "--lengths", "2,4,4", "--no-enforce-sorted"])
    assert unsorted.exit_code == 0, unsorted.output
    assert batch_sizes_row(unsorted.stdout) == [3, 3, 2, 2] and "sorted_indices = [1, 2, 0]" in flat(unsorted.stdout)


def test_legend_is_not_read_as_console_markup(tmp_path):
    # A console with markup on (the CLI's colour one, the SVG one) must keep "[tN]" and "h_n[row]".
    spec = RNNSpec(num_layers=2, bidirectional=True, seq_len=3)
    coloured = strip_ansi(rendered_in_colour(spec, 100))
    assert coloured == flow_text(spec)
    assert "\n[tN]" in coloured and "[→ | ←]" in coloured
    words = words_of_svg(flow_svg(spec, tmp_path / "flow.svg"))
    assert "[tN]" in words and "h_n[row]" in words
