"""`rnnshape flow`: the stacked (and bidirectional) layer unrolled in time, as a picture.

One cell per (layer, time step, direction), laid out as a grid: time steps are
columns t=0..L-1, layers are rows (top layer at the top), and a bidirectional
layer has a forward row and a reverse row. Each row is labelled `layer l →` or
`layer l ←` and its cells `[t3]`, so a cell reads "layer l, direction, step t".
Around the grid: h_0 going in and h_n coming out of each row (row indexes from
theory.h_n_rows), x_t under the bottom layer, output[t] above the top one.

Packed input (--lengths) keeps the grid, because every column still runs for
some sequences, and adds what packing changes under it: one row per sequence
(● a real step, · padding), a `batch_sizes` row counting the sequences each
column runs, and per-sequence caps `h_n[r,i]` / `h_0[r,i]` joined by a dotted
wire at the right end of every row, where each sequence ends at its own length.

A cell (--mode rnncell/lstmcell/grucell) has no time axis, so it gets its own
picture: one step, h_0 (c_0) in, h_1 (c_1) out, and the loop back that the
caller writes.

Neither torch nor rich is imported at module level: rich only when drawing.

Every word in the picture (row labels, the title, the legend) is said in the language
chosen for the run where it is made (said()); tensor names, shapes, code and the
directions' own names (forward, reverse) never are. Widths are counted in terminal
columns (cell_width: a Chinese character takes two), so the grid stays aligned.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnshape import theory
from rnnshape.language import said
from rnnshape.render.text import cell_width
from rnnshape.spec import RNNSpec, lengths_text

# Layers beyond this many are elided: the bottom two and the top two stay.
MAX_LAYERS_SHOWN = 6
# Packed sequences beyond this many are elided: the first three and the last two stay.
MAX_SEQUENCES_SHOWN = 8
# Lists in the legend (batch_sizes, per-sequence steps) are cut to this many items.
MAX_LIST_SHOWN = 12
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
    "padding": "dim",
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

    def centre(self, i: int) -> int:
        return self.column(i) + _cell_width(self, self.steps[i]) // 2


def _ljust(text: str, width: int) -> str:
    """text padded with spaces to `width` terminal columns (str.ljust counts characters)."""
    return text + " " * max(width - cell_width(text), 0)


def _cell_text(t: int | None) -> str:
    return "⋯" if t is None else f"[t{t}]"


def _cell_width(grid: _Grid, t: int | None) -> int:
    return grid.cell_width if t is None else len(_cell_text(t))


def _row_label(layer: int, direction: str) -> str:
    return said("layer {layer} {arrow}", layer=layer, arrow=ARROW[direction])


def _directions(spec: RNNSpec) -> tuple[str, ...]:
    return theory.DIRECTIONS[: spec.num_directions]


def _visible_layers(spec: RNNSpec) -> list[int | None]:
    n = spec.num_layers
    if n <= MAX_LAYERS_SHOWN:
        return list(range(n - 1, -1, -1))
    return [n - 1, n - 2, None, 1, 0]


def _visible_sequences(spec: RNNSpec) -> list[int | None]:
    n = len(spec.lengths or ())
    if n <= MAX_SEQUENCES_SHOWN:
        return list(range(n))
    return [0, 1, 2, None, n - 2, n - 1]


def _sequence_label(spec: RNNSpec, i: int) -> str:
    return said("seq {i}, len {length}", i=i, length=spec.lengths[i])


def _cap(name: str, row: int, per_sequence: bool) -> str:
    # [r,i]: row r of the state, sequence i, taken at that sequence's own last step.
    return f"{name}[{row},i]" if per_sequence else f"{name}[{row}]"


def _plan(spec: RNNSpec, width: int) -> _Grid:
    """Pick the widest wires that fit all steps; elide the middle steps when none do."""
    layers = _visible_layers(spec)
    shown = [layer for layer in layers if layer is not None]
    labels = [_row_label(layer, d) for layer in shown for d in _directions(spec)] + ["output[t]", said("input")]
    if spec.packed:
        labels += ["batch_sizes"] + [_sequence_label(spec, i) for i in _visible_sequences(spec) if i is not None]
    label_width = max(cell_width(s) for s in labels) + 1
    rows = [r.row for r in theory.h_n_rows(spec)]
    cap_width = len(_cap("h_n", max(rows), spec.packed))
    # A packed grid writes batch_sizes under each column: the column must hold N's digits.
    number_width = len(str(spec.batch_size)) if spec.packed else 0
    L = spec.seq_len

    def grid(steps: list[int | None], gap: int) -> _Grid:
        cell_width = max([len(_cell_text(t)) for t in steps] + [number_width])
        return _Grid(steps, layers, cell_width + gap, cell_width, label_width, cap_width)

    def fits(g: _Grid) -> bool:
        # the cells, then a space and the h_n/h_0 cap on the right
        return g.cells_start + len(g.steps) * g.pitch + 1 + g.cap_width <= width

    # Every step only where every step could fit (a cell is at least two columns): a huge L is
    # never listed, step by step, to find out that it does not.
    every: list[int | None] = list(range(L)) if L <= width // 2 else []
    for gap in (3, 2, 1):
        if every and fits(grid(every, gap)):
            return grid(every, gap)
    # Elide: as many steps as fit around one "⋯" column, more of them on the left.
    for gap in (2, 1):
        # No more steps than columns could hold at two characters each (keeps huge L cheap).
        for keep in range(min(L - 1, width // 2), 1, -1):
            left, right = (keep + 1) // 2, keep // 2
            steps = list(range(left)) + [None] + list(range(L - right, L))
            if fits(grid(steps, gap)) and (keep >= 4 or gap == 1):
                return grid(steps, gap)
    # Narrower than any picture: draw the minimum and let the console crop it
    # (two steps or fewer have nothing in between to elide).
    return grid(list(range(L)) if L <= 2 else [0, None, L - 1], 1)


def _place(line: list[Segment], used: int, column: int, text: str, style: str | None) -> int:
    """Append text at `column` (padding with spaces from `used`); returns the new length."""
    if column > used:
        line.append((" " * (column - used), None))
        used = column
    line.append((text, style))
    return used + cell_width(text)


def _centred_row(grid: _Grid, label: str, items: list[str | None], style: str | None) -> list[Segment]:
    """A row of short texts centred under the cells (for ↑, x_t, t=...)."""
    line: list[Segment] = [(_ljust(label, grid.label_width), style if label else None)]
    used = grid.label_width
    for i, text in enumerate(items):
        if text is None:
            continue
        used = _place(line, used, grid.centre(i) - len(text) // 2, text, style)
    return line


def _layer_row(spec: RNNSpec, grid: _Grid, layer: int, direction: str, h_n_row: int) -> list[Segment]:
    """layer l →: h_0[r] ─→[t0]──→[t1] … ─→ h_n[r]; reverse rows run right to left.

    Packed, the right end (after the last column) is where each sequence ends on
    its own, so its cap reads [r,i] and its wire is dotted: not every sequence
    reaches the last column.
    """
    top = layer == spec.num_layers - 1
    cell_style = STYLE[direction] + (" bold" if top else "")
    forward = direction == "forward"
    h_0 = (_cap("h_0", h_n_row, spec.packed and not forward), STYLE["h_0"])
    h_n = (_cap("h_n", h_n_row, spec.packed and forward), STYLE["h_n"])
    left, right = (h_0, h_n) if forward else (h_n, h_0)

    def wire(n: int, line: str = "─") -> Segment:
        return (line * (n - 1) + "→" if forward else "←" + line * (n - 1)), STYLE["wire"]

    line: list[Segment] = [(_ljust(_row_label(layer, direction), grid.label_width), cell_style)]
    line.append((left[0].rjust(grid.cap_width), left[1]))
    line += [(" ", None), wire(2)]
    for i, t in enumerate(grid.steps):
        if t is None:  # the elided steps: the wire runs on through a "⋯"
            before = (grid.cell_width - 1) // 2
            line += [("─" * before, STYLE["wire"]), ("⋯", STYLE["elided"]), ("─" * (grid.cell_width - 1 - before), STYLE["wire"])]
        else:
            line.append((_cell_text(t), cell_style))
        last = i == len(grid.steps) - 1
        line.append(wire(grid.pitch - _cell_width(grid, t), "┄" if spec.packed and last else "─"))
    line += [(" ", None), right]
    return line


def _runs(length: int, grid: _Grid, i: int) -> bool:
    """Whether a sequence of this length runs column i (an elided column: its first step)."""
    t = grid.steps[i]
    first = t if t is not None else grid.steps[i - 1] + 1
    return first < length


def _sequence_row(spec: RNNSpec, grid: _Grid, i: int) -> list[Segment]:
    """seq i, len n: ● at the steps it runs, joined by its state's wire; · at the padding after.

    From its last ● a dotted wire runs to the right end, under the dotted ends of
    the layer rows, and names the sequence there: sequence i's h_n[r,i] is its
    state at that last ●, carried past the padding without being computed.
    """
    length = spec.lengths[i]
    line: list[Segment] = [(_ljust(_sequence_label(spec, i), grid.label_width), None)]
    used = grid.label_width
    for j, t in enumerate(grid.steps):
        runs = _runs(length, grid, j)
        if j:  # the state passes from the previous column to this one, or skips it
            used = _place(line, used, grid.centre(j - 1) + 1, ("─" if runs else "┄") * (grid.centre(j) - grid.centre(j - 1) - 1), STYLE["wire"])
        mark = ("⋯", STYLE["elided"]) if t is None else ("●", STYLE["input"]) if runs else ("·", STYLE["padding"])
        used = _place(line, used, grid.centre(j), *mark)
    end = grid.column(len(grid.steps))  # where the layer rows' wires end and their caps begin
    used = _place(line, used, used, "┄" * max(end - used, 1), STYLE["wire"])
    used = _place(line, used, used + 1, f"i={i}", STYLE["h_n"])
    return line


def _packing_lines(spec: RNNSpec, grid: _Grid) -> list[list[Segment]]:
    """Under the input: which steps each sequence runs, then how many run at each step."""
    lines = []
    for i in _visible_sequences(spec):
        if i is None:
            low, high = 3, len(spec.lengths) - 3
            text = said("⋮ sequences {low}..{high} elided ({count}); batch_sizes counts them too", low=low, high=high, count=high - low + 1)
            lines.append([(text, STYLE["elided"])])
        else:
            lines.append(_sequence_row(spec, grid, i))
    batch_sizes = theory.packing(spec)["batch_sizes"]
    counts = [str(batch_sizes[t]) if t is not None else "⋯" for t in grid.steps]
    lines.append(_centred_row(grid, "batch_sizes", counts, STYLE["output"]))
    return lines


def _grid_lines(spec: RNNSpec, grid: _Grid) -> list[list[Segment]]:
    rows = {(r.layer, r.direction): r.row for r in theory.h_n_rows(spec)}
    arrows = ["↑" if t is not None else None for t in grid.steps]
    header = [f"t={t}" if t is not None else "⋯" for t in grid.steps]
    lines = [_centred_row(grid, "output[t]", header, STYLE["output"]), _centred_row(grid, "", arrows, STYLE["wire"])]
    for layer in grid.layers:
        if layer is None:
            low, high = 2, spec.num_layers - 3
            text = said("⋮ layers {low}..{high}: {count} layers elided, each like the ones shown", low=low, high=high, count=high - low + 1)
            lines.append([(text, STYLE["elided"])])
        else:
            lines += [_layer_row(spec, grid, layer, d, rows[(layer, d)]) for d in _directions(spec)]
        lines.append(_centred_row(grid, "", arrows, STYLE["wire"]))
    inputs = [f"x_{t}" if t is not None else "⋯" for t in grid.steps]
    lines.append(_centred_row(grid, said("input"), inputs, STYLE["input"]))
    if spec.packed:
        lines += _packing_lines(spec, grid)
    return lines


def _short_list(values: list[Any]) -> str:
    """[a, b, ...] cut in the middle when long, so the legend stays a few lines."""
    if len(values) <= MAX_LIST_SHOWN:
        return "[" + ", ".join(map(str, values)) + "]"
    head, tail = values[: MAX_LIST_SHOWN - 3], values[-2:]
    return "[" + ", ".join(map(str, head)) + ", …, " + ", ".join(map(str, tail)) + "]"


def _direction_legend(spec: RNNSpec) -> list[tuple[str, str]]:
    """→ and ← rows; packed, the end at the last step is each sequence's own."""
    L = spec.seq_len
    if not spec.packed:
        out = [("→", said("forward: the state passes t-1 → t; h_0[row] enters at t=0, h_n[row] leaves after t=L-1={last}", last=L - 1))]
        if spec.num_directions == 2:
            out.append(("←", said("reverse: the state passes t+1 → t; h_0[row] enters at t=L-1={last}, h_n[row] leaves after t=0", last=L - 1)))
        return out
    out = [("→", said("forward: the state passes t-1 → t; h_0[row] enters at t=0; h_n[row,i] leaves after sequence i's "
                      "own last step t=lengths[i]-1, not after t=L-1={last}", last=L - 1))]
    if spec.num_directions == 2:
        out.append(("←", said("reverse: the state passes t+1 → t; h_0[row,i] enters at sequence i's own last step "
                              "t=lengths[i]-1, not at t=L-1={last}; h_n[row] leaves after t=0, for every sequence", last=L - 1)))
        where = said("the forward h_n[row,i] is its state at its last ●, and the reverse h_0[row,i] enters there")
    else:
        where = said("the forward h_n[row,i] is its state at its last ●")
    out.append(("┄", said("no step computed: the right end of a layer row is per sequence; in sequence i's row below "
                          "(i=… at its right end) {where}", where=where)))
    return out


def _output_legend(spec: RNNSpec, shapes: dict[str, theory.TensorInfo]) -> tuple[str, str]:
    D, top = spec.num_directions, spec.num_layers - 1
    both = said("output[t] = [layer {top} → at t | layer {top} ← at t]", top=top) if D == 2 else said("output[t] = layer {top} → at t", top=top)
    if not spec.packed:
        output = shapes["output"]
        return ("output", said("the top layer at every t: {both}; shape ({dims}) = {shape}",
                               both=both, dims=", ".join(output.dims), shape=output.shape))
    padded, packed = shapes["padded_output"], shapes["packed_output"]
    return ("output", said("the top layer at every t: {both}; pad_packed_sequence gives padded_output "
                           "({padded_dims}) = {padded_shape}, zeros at the · steps; packed_output.data "
                           "({packed_dims}) = {packed_shape} holds the ● steps only",
                           both=both, padded_dims=", ".join(padded.dims), padded_shape=padded.shape,
                           packed_dims=", ".join(packed.dims), packed_shape=packed.shape))


def _h_n_legend(spec: RNNSpec, grid: _Grid, shapes: dict[str, theory.TensorInfo]) -> list[tuple[str, str]]:
    """h_n's shape, then where each row leaves, layer by layer (packed: and sequence by sequence)."""
    L, D = spec.seq_len, spec.num_directions
    h_n = shapes["h_n"]
    if spec.packed:
        last = said("each sequence's own last step, in every layer and direction")
    else:
        last = said("the last step of every layer and direction")
    out = [("h_n", said("{last}, row = layer*D + direction (D = {D}); shape ({dims}) = {shape}",
                        last=last, D=D, dims=", ".join(h_n.dims), shape=h_n.shape))]
    rows = theory.h_n_rows(spec)
    forward_step = "lengths[i]-1" if spec.packed else str(L - 1)
    for layer in reversed(grid.layers):
        if layer is None:
            low, high = 2, spec.num_layers - 3
            likewise = ", ".join(f"h_n[{D}*layer+{d}] {ARROW[theory.DIRECTIONS[d]]}" for d in range(D)) if D == 2 else "h_n[layer] →"
            out.append(("", said("⋮ layers {low}..{high} likewise: {likewise}", low=low, high=high, likewise=likewise)))
            continue
        entries = [said("h_n[{row}] {arrow} leaves at t={t}", row=r.row, arrow=ARROW[r.direction],
                        t=forward_step if r.direction == "forward" else 0) for r in rows if r.layer == layer]
        out.append(("", said("layer {layer}: {entries}", layer=layer, entries=", ".join(entries))))
    if spec.packed:
        steps = [said("seq {i} at t={t}", i=i, t=n - 1) for i, n in enumerate(spec.lengths)]
        out.append(("", said("forward h_n[row,i], per sequence: {steps}", steps=_short_list(steps)[1:-1])))
    return out


def _packing_legend(spec: RNNSpec) -> list[tuple[str, str]]:
    """●, ·, batch_sizes and (unsorted lengths) sorted_indices."""
    packing = theory.packing(spec)
    batch_sizes = packing["batch_sizes"]
    L, N, real = spec.seq_len, spec.batch_size, sum(spec.lengths)
    out = [
        ("●", said("sequence i runs this step (t < lengths[i]; lengths = {lengths}); "
                   "· padding after its length: never computed, zeros in padded_output", lengths=_short_list(list(spec.lengths)))),
        ("batch_sizes", said("how many sequences run step t, the lengths greater than t: PackedSequence.batch_sizes = "
                             "{batch_sizes}; {real} real steps per layer and direction instead of L*N = {total}",
                             batch_sizes=_short_list(batch_sizes), real=real, total=L * N)),
    ]
    if packing["sorted_indices"] is not None:
        out.append((said("note"), said("enforce_sorted=False: torch packs the batch longest first (sorted_indices = "
                                       "{indices}) and returns h_n in the original order, the order of the seq rows here",
                                       indices=_short_list(packing["sorted_indices"]))))
    return out


def _legend(spec: RNNSpec, grid: _Grid) -> list[tuple[str, str]]:
    """(key, explanation) rows under the picture."""
    D = spec.num_directions
    shapes = {t.name: t for t in theory.tensors(spec)}
    state = said("h_t and c_t") if spec.lstm else "h_t"
    step = said("one step of one layer in one direction: nn.{module} computes {state} from its input at t and its own previous state",
                module=spec.module_name, state=state)
    if spec.packed:
        step = said("{step}; packed, only for the batch_sizes[t] sequences still running at t", step=step)
    out = [("[tN]", step)]
    out += _direction_legend(spec)
    stack = said("each layer reads the layer below at the same t; layer 0 reads x_t (H_in = {input_size})", input_size=spec.input_size)
    if D == 2 and spec.num_layers > 1:
        stack = said("{stack}; a layer above 0 reads both directions of the one below concatenated, [→ | ←] ({D}*H_out = {features} features)",
                     stack=stack, D=D, features=D * spec.h_out)
    out.append(("↑", stack))
    out.append(_output_legend(spec, shapes))
    out += _h_n_legend(spec, grid, shapes)
    if spec.lstm:
        c_n = shapes["c_n"]
        out.append(("c_n", said("leaves the same cell as h_n, same rows (c_0 enters with h_0); c holds H_cell = {H} numbers; shape {shape}",
                                H=spec.hidden_size, shape=c_n.shape)))
    if spec.proj_size:
        out.append((said("proj"), said("every cell projects its h from H = {H} to P = {P} numbers (weight_hr), "
                                       "so h_0, h_n, output and the next step see H_out = {P}", H=spec.hidden_size, P=spec.proj_size)))
    if spec.packed:
        out += _packing_legend(spec)
    if None in grid.steps:
        i = grid.steps.index(None)
        first, last = grid.steps[i - 1] + 1, grid.steps[i + 1] - 1
        out.append(("⋯", said("steps t={first}..{last} elided ({count} steps), each like its neighbours",
                              first=first, last=last, count=last - first + 1)))
    if spec.unbatched:
        out.append((said("note"), said("unbatched input (L, H_in) has no batch dimension; the picture is the same")))
    elif spec.batch_first:
        out.append((said("note"), said("batch_first only reorders input and output as (N, L, ...); the picture and h_0/h_n are unchanged")))
    return out


def _layer_title(spec: RNNSpec) -> str:
    cells = spec.num_layers * spec.num_directions * spec.seq_len
    n, d, t = spec.num_layers, spec.num_directions, spec.seq_len
    title = said(
        "nn.{module} unrolled in time: {layers} × {directions} × {steps} = {cells} cells",
        module=spec.module_name,
        layers=said("{n} layers", n=n) if n > 1 else said("{n} layer", n=n),
        directions=said("{n} directions", n=d) if d > 1 else said("{n} direction", n=d),
        steps=said("{n} steps", n=t) if t > 1 else said("{n} step", n=t),
        cells=cells,
    )
    if spec.packed:
        n = spec.batch_size
        sequences = said("{n} sequence", n=n) if n == 1 else said("{n} sequences", n=n)
        title = said("{title}, on a packed batch of {sequences} (lengths {lengths})",
                     title=title, sequences=sequences, lengths=lengths_text(spec.lengths))
    return title


# A cell: one step, no grid.


def _shape_label(info: theory.TensorInfo) -> str:
    return f"{info.name} {info.shape}"  # a tuple's own repr: (3, 20), or (20,) unbatched


def _loop_text(spec: RNNSpec) -> str:
    # What the caller's loop body ends with, written as the Python it is.
    return said("next t: {code}", code="h_0, c_0 = h_1, c_1" if spec.lstm else "h_0 = h_1")


def _cell_picture_wide(spec: RNNSpec, shapes: dict[str, theory.TensorInfo]) -> list[list[Segment]]:
    """input from above, h_0 (c_0) into the box from the left, h_1 (c_1) out to the right, the loop back below.

                         input (3, 10)
                               ↓
                      ┌───────────────┐
      h_0 (3, 20) ──→ │  nn.LSTMCell  │ ──→ h_1 (3, 20) ─┐
      c_0 (3, 20) ──→ │               │ ──→ c_1 (3, 20) ─┤
           ↑          └───────────────┘                  │
           └──── next t: h_0, c_0 = h_1, c_1 ────────────┘
    """
    states = ("h", "c") if spec.lstm else ("h",)
    lefts = [_shape_label(shapes[f"{s}_0"]) for s in states]
    rights = [_shape_label(shapes[f"{s}_1"]) for s in states]
    name = f"nn.{spec.module_name}"
    left_width, inner = max(map(cell_width, lefts)), cell_width(name) + 4
    box = left_width + 5  # the box's left edge: label, " ──→ "
    right = box + inner + 2 + 5  # the output labels: box, " ──→ "
    up = left_width // 2  # the loop comes back up under the state labels it feeds
    loop_text = f" {_loop_text(spec)} "
    # The loop's corner: after the widest output label, and far enough right for its text.
    corner = max(right + max(map(cell_width, rights)) + 2, up + cell_width(loop_text) + 5)
    centre = box + (inner + 2) // 2
    wire, h_style = STYLE["wire"], STYLE["h_n"]
    cell_style = STYLE["forward"] + " bold"

    def at(*items: tuple[int, str, str | None]) -> list[Segment]:
        line: list[Segment] = []
        used = 0
        for column, text, style in items:
            used = _place(line, used, column, text, style)
        return line

    input_label = _shape_label(shapes["input"])
    lines = [at((centre - cell_width(input_label) // 2, input_label, STYLE["input"])), at((centre, "↓", wire)),
             at((box, "┌" + "─" * inner + "┐", cell_style))]
    for k, (into, out) in enumerate(zip(lefts, rights)):
        label = name.center(inner) if k == 0 else " " * inner
        end = "┐" if k == 0 else "┤"
        lines.append(at((box - 5 - cell_width(into), into, STYLE["h_0"]), (box - 5, " ──→ ", wire), (box, "│", cell_style),
                        (box + 1, label, cell_style), (box + inner + 1, "│", cell_style), (box + inner + 2, " ──→ ", wire),
                        (right, out, h_style), (right + cell_width(out), " " + "─" * (corner - right - cell_width(out) - 1) + end, wire)))
    lines.append(at((up, "↑", wire), (box, "└" + "─" * inner + "┘", cell_style), (corner, "│", wire)))
    fill = corner - up - 1 - cell_width(loop_text)
    lines.append(at((up, "└" + "─" * 4, wire), (up + 5, loop_text, STYLE["elided"]), (up + 5 + cell_width(loop_text), "─" * (fill - 4) + "┘", wire)))
    return lines


def _cell_picture_narrow(spec: RNNSpec, shapes: dict[str, theory.TensorInfo]) -> list[list[Segment]]:
    """The same step top to bottom, one tensor a line, for a width the wide picture does not fit."""
    states = ("h", "c") if spec.lstm else ("h",)
    lines: list[list[Segment]] = [[(_shape_label(shapes["input"]), STYLE["input"])]]
    lines += [[(_shape_label(shapes[f"{s}_0"]), STYLE["h_0"])] for s in states]
    lines += [[("  ↓", STYLE["wire"])], [(f"[nn.{spec.module_name}]", STYLE["forward"] + " bold")], [("  ↓", STYLE["wire"])]]
    lines += [[(_shape_label(shapes[f"{s}_1"]), STYLE["h_n"])] for s in states]
    lines.append([("  └→ ", STYLE["wire"]), (_loop_text(spec), STYLE["elided"])])
    return lines


def _cell_picture(spec: RNNSpec, width: int) -> list[list[Segment]]:
    shapes = {t.name: t for t in theory.tensors(spec)}
    wide = _cell_picture_wide(spec, shapes)
    if max(sum(cell_width(text) for text, _ in line) for line in wide) <= width:
        return wide
    return _cell_picture_narrow(spec, shapes)


def _cell_equations(spec: RNNSpec) -> str:
    """What happens inside the box, in the notation of PyTorch's cell docs (* is elementwise)."""
    def affine(gate: str) -> str:
        # W_i<gate> x + b_i<gate> + W_h<gate> h_0 + b_h<gate>; bias=False drops the b terms
        if spec.bias:
            return f"W_i{gate} x + b_i{gate} + W_h{gate} h_0 + b_h{gate}"
        return f"W_i{gate} x + W_h{gate} h_0"

    if spec.base_mode == "rnn":
        return f"h_1 = {spec.nonlinearity}({affine('h')})"  # W_ih, b_ih, W_hh, b_hh: the cell's own weights
    if spec.base_mode == "gru":
        n = "W_in x + b_in + r * (W_hn h_0 + b_hn)" if spec.bias else "W_in x + r * (W_hn h_0)"
        return f"r = sigmoid({affine('r')}), z = sigmoid({affine('z')}), n = tanh({n}); h_1 = (1 - z) * n + z * h_0"
    return said("i = sigmoid({i}), f and o likewise, g = tanh({g}); c_1 = f * c_0 + i * g, h_1 = o * tanh(c_1)",
                i=affine("i"), g=affine("g"))


def _cell_legend(spec: RNNSpec) -> list[tuple[str, str]]:
    shapes = {t.name: t for t in theory.tensors(spec)}

    def shape(name: str) -> str:
        info = shapes[name]
        return f"({', '.join(info.dims)}) = {info.shape}"

    layer = theory.constructor_text(RNNSpec(mode=spec.base_mode, input_size=spec.input_size, hidden_size=spec.hidden_size,
                                            bias=spec.bias, nonlinearity=spec.nonlinearity))
    out = [("input", said("one time step x_t, {shape}: a cell has no L, you pass each step yourself", shape=shape("input")))]
    if spec.lstm:
        out.append(("h_0, c_0", said("the state before this step, each {shape}; pass them as hx=(h_0, c_0), or leave hx out for zeros",
                                     shape=shape("h_0"))))
    else:
        out.append(("h_0", said("the state before this step, {shape}; pass it as hx, or leave hx out for zeros", shape=shape("h_0"))))
    out.append((said("cell"), _cell_equations(spec)))
    if spec.lstm:
        out.append(("h_1, c_1", said("the state after this step, each {shape}; the cell returns the tuple (h_1, c_1)", shape=shape("h_1"))))
    else:
        out.append(("h_1", said("the state after this step, {shape}; the cell returns it", shape=shape("h_1"))))
    if spec.lstm:
        loop = said("feed h_1 and c_1 back as the next step's h_0 and c_0 for t = 0..L-1 and you have one layer in one direction: "
                    "{layer} runs that loop for you (`rnnshape code --mode {mode}` writes it out)", layer=layer, mode=spec.mode)
    else:
        loop = said("feed h_1 back as the next step's h_0 for t = 0..L-1 and you have one layer in one direction: "
                    "{layer} runs that loop for you (`rnnshape code --mode {mode}` writes it out)", layer=layer, mode=spec.mode)
    out.append((said("loop"), loop))
    if spec.unbatched:
        out.append((said("note"), said("unbatched: the input is 1-D (H_in,) and the states 1-D (H,), with no batch dimension")))
    return out


def _cell_title(spec: RNNSpec) -> str:
    return said("{constructor}: one time step; you write the loop over t", constructor=theory.constructor_text(spec))


# Drawing.


def _renderable(title: str, lines: list[list[Segment]], legend_rows: list[tuple[str, str]]) -> Any:
    """Title, the picture (cropped, never wrapped: wrapping would break its columns), and the legend."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(title, style=STYLE["title"]), Text("")]
    for segments in lines:
        line = Text(no_wrap=True, overflow="crop")
        for text, style in segments:
            line.append(text, style=style)
        parts.append(line)
    parts.append(Text(""))
    # A grid, so that a long explanation wraps under itself, not under its key.
    legend = Table.grid(padding=(0, 2))
    legend.add_column(no_wrap=True, style="bold")
    legend.add_column(overflow="fold")
    for key, text in legend_rows:
        # Text, not str: a str would be read as console markup, and "[tN]" or "h_n[row]" would vanish.
        legend.add_row(Text(key), Text(text))
    parts.append(legend)
    return Group(*parts)


def flow_renderable(spec: RNNSpec, width: int = 100) -> Any:
    """The picture as a Rich renderable (styles included), laid out for `width` columns."""
    if spec.is_cell:
        return _renderable(_cell_title(spec), _cell_picture(spec, width), _cell_legend(spec))
    grid = _plan(spec, width)
    return _renderable(_layer_title(spec), _grid_lines(spec, grid), _legend(spec, grid))


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
