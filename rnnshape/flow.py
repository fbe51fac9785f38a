"""`rnnshape flow`: the stacked (and bidirectional) layer unrolled in time, as a picture.

One cell per (layer, time step, direction), laid out as a grid: time steps are
columns t=0..L-1, layers are rows (top layer at the top), and a bidirectional
layer has a forward row and a reverse row. Each row is labelled `layer l →` or
`layer l ←` and its cells `[t3]`, so a cell reads "layer l, direction, step t".
Around the grid: h_0 going in and h_n coming out of each row (row indexes from
theory.h_n_rows), x_t under the bottom layer, output[t] above the top one.

Neither torch nor rich is imported at module level: rich only when drawing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnshape import theory
from rnnshape.spec import RNNSpec

# Layers beyond this many are elided: the bottom two and the top two stay.
MAX_LAYERS_SHOWN = 6
ARROW = {"forward": "→", "reverse": "←"}
STYLE = {
    "forward": "cyan",
    "reverse": "magenta",
    "h_n": "bold yellow",
    "h_0": "dim",
    "wire": "dim",
    "input": "green",
    "output": "bold green",
    "elided": "dim italic",
    "title": "bold",
}

Segment = tuple[str, str | None]  # (text, rich style)


@dataclass(frozen=True)
class _Grid:
    """Which steps and layers are drawn (None: an elided run) and how wide the columns are."""

    steps: list[int | None]
    layers: list[int | None]  # top to bottom
    pitch: int  # characters from the start of one column to the start of the next
    cell_width: int  # the widest cell label; the "⋯" column is drawn this wide
    label_width: int
    cap_width: int

    @property
    def cells_start(self) -> int:
        # label, h_0/h_n cap, a space, the two-character wire into the first cell.
        return self.label_width + self.cap_width + 3

    def column(self, i: int) -> int:
        return self.cells_start + i * self.pitch


def _cell_text(t: int | None) -> str:
    return "⋯" if t is None else f"[t{t}]"


def _cell_width(grid: _Grid, t: int | None) -> int:
    return grid.cell_width if t is None else len(_cell_text(t))


def _row_label(layer: int, direction: str) -> str:
    return f"layer {layer} {ARROW[direction]}"


def _directions(spec: RNNSpec) -> tuple[str, ...]:
    return theory.DIRECTIONS[: spec.num_directions]


def _visible_layers(spec: RNNSpec) -> list[int | None]:
    n = spec.num_layers
    if n <= MAX_LAYERS_SHOWN:
        return list(range(n - 1, -1, -1))
    return [n - 1, n - 2, None, 1, 0]


def _plan(spec: RNNSpec, width: int) -> _Grid:
    """Pick the widest wires that fit all steps; elide the middle steps when none do."""
    layers = _visible_layers(spec)
    shown = [layer for layer in layers if layer is not None]
    labels = [_row_label(layer, d) for layer in shown for d in _directions(spec)] + ["output[t]", "input"]
    label_width = max(len(s) for s in labels) + 1
    rows = [r.row for r in theory.h_n_rows(spec)]
    cap_width = len(f"h_n[{max(rows)}]")
    L = spec.seq_len

    def grid(steps: list[int | None], gap: int) -> _Grid:
        cell_width = max(len(_cell_text(t)) for t in steps)
        return _Grid(steps, layers, cell_width + gap, cell_width, label_width, cap_width)

    def fits(g: _Grid) -> bool:
        # the cells, then a space and the h_n/h_0 cap on the right
        return g.cells_start + len(g.steps) * g.pitch + 1 + g.cap_width <= width

    every: list[int | None] = list(range(L))
    for gap in (3, 2, 1):
        if fits(grid(every, gap)):
            return grid(every, gap)
    # Elide: as many steps as fit around one "⋯" column, more of them on the left.
    for gap in (2, 1):
        # No more steps than columns could hold at two characters each (keeps huge L cheap).
        for keep in range(min(L - 1, width // 2), 1, -1):
            left, right = (keep + 1) // 2, keep // 2
            steps = list(range(left)) + [None] + list(range(L - right, L))
            if fits(grid(steps, gap)) and (keep >= 4 or gap == 1):
                return grid(steps, gap)
    # Narrower than any picture: draw the minimum and let the console crop it.
    return grid([0, None, L - 1], 1)


def _place(line: list[Segment], used: int, column: int, text: str, style: str | None) -> int:
    """Append text at `column` (padding with spaces from `used`); returns the new length."""
    if column > used:
        line.append((" " * (column - used), None))
        used = column
    line.append((text, style))
    return used + len(text)


def _centred_row(grid: _Grid, label: str, items: list[str | None], style: str | None) -> list[Segment]:
    """A row of short texts centred under the cells (for ↑, x_t, t=...)."""
    line: list[Segment] = [(label.ljust(grid.label_width), style if label else None)]
    used = grid.label_width
    for i, t in enumerate(grid.steps):
        text = items[i]
        if text is None:
            continue
        centre = grid.column(i) + _cell_width(grid, t) // 2
        used = _place(line, used, centre - len(text) // 2, text, style)
    return line


def _layer_row(spec: RNNSpec, grid: _Grid, layer: int, direction: str, h_n_row: int) -> list[Segment]:
    """layer l →: h_0[r] ─→[t0]──→[t1] … ─→ h_n[r]; reverse rows run right to left."""
    top = layer == spec.num_layers - 1
    cell_style = STYLE[direction] + (" bold" if top else "")
    h_0 = (f"h_0[{h_n_row}]", STYLE["h_0"])
    h_n = (f"h_n[{h_n_row}]", STYLE["h_n"])
    left, right = (h_0, h_n) if direction == "forward" else (h_n, h_0)

    def wire(n: int) -> Segment:
        return ("─" * (n - 1) + "→" if direction == "forward" else "←" + "─" * (n - 1)), STYLE["wire"]

    line: list[Segment] = [(_row_label(layer, direction).ljust(grid.label_width), cell_style)]
    line.append((left[0].rjust(grid.cap_width), left[1]))
    line += [(" ", None), wire(2)]
    for t in grid.steps:
        if t is None:  # the elided steps: the wire runs on through a "⋯"
            before = (grid.cell_width - 1) // 2
            line += [("─" * before, STYLE["wire"]), ("⋯", STYLE["elided"]), ("─" * (grid.cell_width - 1 - before), STYLE["wire"])]
        else:
            line.append((_cell_text(t), cell_style))
        line.append(wire(grid.pitch - _cell_width(grid, t)))
    line += [(" ", None), right]
    return line


def _grid_lines(spec: RNNSpec, grid: _Grid) -> list[list[Segment]]:
    rows = {(r.layer, r.direction): r.row for r in theory.h_n_rows(spec)}
    arrows = ["↑" if t is not None else None for t in grid.steps]
    header = [f"t={t}" if t is not None else "⋯" for t in grid.steps]
    lines = [_centred_row(grid, "output[t]", header, STYLE["output"]), _centred_row(grid, "", arrows, STYLE["wire"])]
    for layer in grid.layers:
        if layer is None:
            low, high = 2, spec.num_layers - 3
            text = f"⋮ layers {low}..{high}: {high - low + 1} layers elided, each like the ones shown"
            lines.append([(text, STYLE["elided"])])
        else:
            lines += [_layer_row(spec, grid, layer, d, rows[(layer, d)]) for d in _directions(spec)]
        lines.append(_centred_row(grid, "", arrows, STYLE["wire"]))
    inputs = [f"x_{t}" if t is not None else "⋯" for t in grid.steps]
    lines.append(_centred_row(grid, "input", inputs, STYLE["input"]))
    return lines


def _legend(spec: RNNSpec, grid: _Grid) -> list[tuple[str, str]]:
    """(key, explanation) rows under the picture."""
    L, D, top = spec.seq_len, spec.num_directions, spec.num_layers - 1
    shapes = {t.name: t for t in theory.tensors(spec)}
    state = "h_t and c_t" if spec.mode == "lstm" else "h_t"
    out = [("[tN]", f"one step of one layer in one direction: nn.{spec.module_name} computes {state} from its input at t and its own previous state")]
    out.append(("→", f"forward: the state passes t-1 → t; h_0[row] enters at t=0, h_n[row] leaves after t=L-1={L - 1}"))
    if D == 2:
        out.append(("←", f"reverse: the state passes t+1 → t; h_0[row] enters at t=L-1={L - 1}, h_n[row] leaves after t=0"))
    stack = f"each layer reads the layer below at the same t; layer 0 reads x_t (H_in = {spec.input_size})"
    if D == 2 and spec.num_layers > 1:
        stack += f"; a layer above 0 reads both directions of the one below concatenated, [→ | ←] ({D}*H_out = {D * spec.h_out} features)"
    out.append(("↑", stack))
    output = shapes["output"]
    both = f"output[t] = [layer {top} → at t | layer {top} ← at t]" if D == 2 else f"output[t] = layer {top} → at t"
    out.append(("output", f"the top layer at every t: {both}; shape ({', '.join(output.dims)}) = {output.shape}"))
    h_n = shapes["h_n"]
    out.append(("h_n", f"the last step of every layer and direction, row = layer*D + direction (D = {D}); shape ({', '.join(h_n.dims)}) = {h_n.shape}"))
    rows = theory.h_n_rows(spec)
    for layer in reversed(grid.layers):
        if layer is None:
            low, high = 2, spec.num_layers - 3
            likewise = ", ".join(f"h_n[{D}*layer+{d}] {ARROW[theory.DIRECTIONS[d]]}" for d in range(D)) if D == 2 else "h_n[layer] →"
            out.append(("", f"⋮ layers {low}..{high} likewise: {likewise}"))
            continue
        entries = [f"h_n[{r.row}] {ARROW[r.direction]} leaves at t={L - 1 if r.direction == 'forward' else 0}" for r in rows if r.layer == layer]
        out.append(("", f"layer {layer}: " + ", ".join(entries)))
    if spec.mode == "lstm":
        c_n = shapes["c_n"]
        out.append(("c_n", f"leaves the same cell as h_n, same rows (c_0 enters with h_0); c holds H_cell = {spec.hidden_size} numbers; shape {c_n.shape}"))
    if spec.proj_size:
        out.append(("proj", f"every cell projects its h from H = {spec.hidden_size} to P = {spec.proj_size} numbers (weight_hr), "
                            f"so h_0, h_n, output and the next step see H_out = {spec.proj_size}"))
    if None in grid.steps:
        i = grid.steps.index(None)
        first, last = grid.steps[i - 1] + 1, grid.steps[i + 1] - 1
        out.append(("⋯", f"steps t={first}..{last} elided ({last - first + 1} steps), each like its neighbours"))
    if spec.unbatched:
        out.append(("note", "unbatched input (L, H_in) has no batch dimension; the picture is the same"))
    elif spec.batch_first:
        out.append(("note", "batch_first only reorders input and output as (N, L, ...); the picture and h_0/h_n are unchanged"))
    return out


def flow_renderable(spec: RNNSpec, width: int = 100) -> Any:
    """The picture as a Rich renderable (styles included), laid out for `width` columns."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    grid = _plan(spec, width)
    cells = spec.num_layers * spec.num_directions * spec.seq_len
    title = (
        f"nn.{spec.module_name} unrolled in time: {spec.num_layers} layer{'s' * (spec.num_layers > 1)} × "
        f"{spec.num_directions} direction{'s' * (spec.num_directions > 1)} × {spec.seq_len} step{'s' * (spec.seq_len > 1)} = {cells} cells"
    )
    parts: list[Any] = [Text(title, style=STYLE["title"]), Text("")]
    for segments in _grid_lines(spec, grid):
        line = Text(no_wrap=True, overflow="crop")
        for text, style in segments:
            line.append(text, style=style)
        parts.append(line)
    parts.append(Text(""))
    # A grid, so that a long explanation wraps under itself, not under its key.
    legend = Table.grid(padding=(0, 2))
    legend.add_column(no_wrap=True, style="bold")
    legend.add_column(overflow="fold")
    for key, text in _legend(spec, grid):
        legend.add_row(key, text)
    parts.append(legend)
    return Group(*parts)


def flow_text(spec: RNNSpec, width: int = 100) -> str:
    """The picture as plain text (no colour), every line at most `width` characters."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None, no_color=True,
                      highlight=False, emoji=False, markup=False)
    console.print(flow_renderable(spec, width))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def flow_svg(spec: RNNSpec, path: str | Path, width: int = 100) -> Path:
    """Write the picture, in colour, as an SVG file; returns its path."""
    from rich.console import Console

    console = Console(record=True, file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor",
                      highlight=False, emoji=False)
    console.print(flow_renderable(spec, width))
    path = Path(path)
    console.save_svg(str(path), title=f"rnnshape flow: nn.{spec.module_name}")
    return path
