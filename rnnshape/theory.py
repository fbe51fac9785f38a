"""What the formulas predict for an RNNSpec, without torch.

Every shape, name, count and bound here comes from PyTorch's documentation of
nn.RNN / nn.LSTM / nn.GRU; probe.py then asks torch, and report.py compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnshape.spec import GATES, RNNSpec

DIRECTIONS = ("forward", "reverse")
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class TensorInfo:
    """A tensor that goes into or comes out of the layer."""

    name: str
    shape: tuple[int, ...]
    dims: tuple[str, ...]
    meaning: str


@dataclass(frozen=True)
class ParameterInfo:
    """One entry of `named_parameters()`."""

    name: str
    shape: tuple[int, ...]
    layer: int
    direction: str
    kind: str  # weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
    gates: tuple[str, ...]  # row blocks, top to bottom; () when the rows are not gates
    init_bound: float

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class HnRow:
    row: int
    layer: int
    direction: str


@dataclass(frozen=True)
class RelationPart:
    """output[time_step, batch, start:stop] == h_n[h_n_row, batch], in seq-first terms.

    batch None: every sequence at once. h_n_row None: the output slice is zeros
    instead, for the steps time_step..time_stop-1 (the padding after a packed
    sequence's end).
    """

    time_step: int
    start: int
    stop: int
    h_n_row: int | None
    batch: int | None = None
    time_stop: int | None = None


@dataclass(frozen=True)
class Relation:
    """An identity that ties output to h_n, to be checked on the real tensors."""

    name: str
    text: str  # the identity in the user's own layout (batch_first, unbatched)
    why: str
    parts: tuple[RelationPart, ...]


def shape_text(shape: tuple[int, ...] | list[int] | None) -> str:
    """A shape as torch prints it, (5, 3, 20), with the 1-tuple's comma: (20,)."""
    if shape is None:
        return "missing"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def init_bound(spec: RNNSpec) -> float:
    """sqrt(k), k = 1/hidden_size: every parameter is drawn from U(-sqrt(k), sqrt(k)).

    Written exactly as torch's reset_parameters does (1.0 / math.sqrt(H)), so the
    float is the same one torch used; H is hidden_size even when proj_size > 0.
    """
    return 1.0 / math.sqrt(spec.hidden_size)


def constructor_text(spec: RNNSpec) -> str:
    """The constructor call that builds this layer, with the arguments that differ from torch's defaults."""
    args = [str(spec.input_size), str(spec.hidden_size)]
    defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
                "proj_size": 0, "nonlinearity": "tanh"}
    if spec.is_cell:  # a cell's constructor has only bias and (RNNCell) nonlinearity
        defaults = {"bias": True, "nonlinearity": "tanh"}
    for name, default in defaults.items():
        value = getattr(spec, name)
        if value != default:
            args.append(f"{name}={value!r}")
    return f"nn.{spec.module_name}({', '.join(args)})"


def tensors(spec: RNNSpec) -> list[TensorInfo]:
    """input, h_0 (c_0), output, h_n (c_n) with their shapes and dimension names.

    A cell: input, h_0 (c_0), h_1 (c_1). Packed input adds packed_input, and
    output becomes packed_output and padded_output.
    """
    if spec.is_cell:
        return _cell_tensors(spec)
    L, N, H_in, H_out = spec.seq_len, spec.batch_size, spec.input_size, spec.h_out
    D, layers = spec.num_directions, spec.num_layers

    def seq(last: tuple[int, str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
        # input and output follow batch_first; unbatched input has no N at all.
        if spec.unbatched:
            pairs = [(L, "L"), last]
        elif spec.batch_first:
            pairs = [(N, "N"), (L, "L"), last]
        else:
            pairs = [(L, "L"), (N, "N"), last]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    def state(size: int, dim: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        # States never follow batch_first: always (D*num_layers, N, size).
        pairs = [(D * layers, "D*num_layers")] + ([] if spec.unbatched else [(N, "N")]) + [(size, dim)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    both = " (both directions side by side)" if D == 2 else ""
    last = "each sequence's own last step" if spec.packed else "last step"
    if spec.packed:
        out = [
            TensorInfo("input", *seq((H_in, "H_in")), "the padded batch: zeros after each sequence's length"),
            TensorInfo("packed_input", (sum(spec.lengths), H_in), ("sum(lengths)", "H_in"),
                       "PackedSequence.data: the real steps only, time-major"),
        ]
    else:
        out = [TensorInfo("input", *seq((H_in, "H_in")), "the sequence, every time step")]
    out.append(TensorInfo("h_0", *state(H_out, "H_out"), "initial state, every layer and direction"))
    if spec.lstm:
        out.append(TensorInfo("c_0", *state(spec.hidden_size, "H_cell"), "initial cell state, every layer and direction"))
    if spec.packed:
        out.append(TensorInfo("packed_output", (sum(spec.lengths), D * H_out), ("sum(lengths)", "D*H_out"),
                              "the PackedSequence output's .data: top layer, real steps" + both))
        out.append(TensorInfo("padded_output", *seq((D * H_out, "D*H_out")),
                              "pad_packed_sequence(output): zeros after each length" + both))
    else:
        out.append(TensorInfo("output", *seq((D * H_out, "D*H_out")), "top layer, every time step" + both))
    out.append(TensorInfo("h_n", *state(H_out, "H_out"), f"every layer and direction, {last}"))
    if spec.lstm:
        out.append(TensorInfo("c_n", *state(spec.hidden_size, "H_cell"), f"cell state, every layer and direction, {last}"))
    return out


def _cell_tensors(spec: RNNSpec) -> list[TensorInfo]:
    """One step: input (N, H_in), h_0 -> h_1 (and c_0 -> c_1), the names PyTorch's cell docs use."""
    batch = [] if spec.unbatched else [(spec.batch_size, "N")]

    def shape(size: int, dim: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        pairs = batch + [(size, dim)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    H = spec.hidden_size
    out = [
        TensorInfo("input", *shape(spec.input_size, "H_in"), "one time step (the cell has no L: you loop over t)"),
        TensorInfo("h_0", *shape(H, "H"), "the state before this step"),
    ]
    if spec.lstm:
        out.append(TensorInfo("c_0", *shape(H, "H"), "the cell state before this step"))
    out.append(TensorInfo("h_1", *shape(H, "H"), "the state after this step (feed it back as the next h_0)"))
    if spec.lstm:
        out.append(TensorInfo("c_1", *shape(H, "H"), "the cell state after this step"))
    return out


def packing(spec: RNNSpec) -> dict[str, list[int] | None]:
    """What pack_padded_sequence makes of the lengths: batch_sizes[t] sequences are still running at step t.

    sorted_indices orders the batch longest first (ties keep their order, as
    torch's sort does on these sizes); torch leaves it None with
    enforce_sorted=True, where the batch must already be in that order.
    """
    assert spec.lengths is not None
    lengths = spec.lengths
    batch_sizes = [sum(n > t for n in lengths) for t in range(max(lengths))]
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return {"lengths": list(lengths), "batch_sizes": batch_sizes, "sorted_indices": None if spec.enforce_sorted else order}


def parameters(spec: RNNSpec) -> list[ParameterInfo]:
    """named_parameters() in torch's order: layer, then direction, then w_ih, w_hh, b_ih, b_hh, w_hr.

    A cell's names have no _l0 suffix: it is one layer in one direction.
    """
    G, H, D, H_out = spec.gate_multiple, spec.hidden_size, spec.num_directions, spec.h_out
    gates = GATES[spec.base_mode]
    bound = init_bound(spec)
    out: list[ParameterInfo] = []
    if spec.is_cell:
        rows = [("weight_ih", (G * H, spec.input_size)), ("weight_hh", (G * H, H))]
        rows += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))] if spec.bias else []
        return [ParameterInfo(kind, shape, 0, DIRECTIONS[0], kind, gates, bound) for kind, shape in rows]
    for layer in range(spec.num_layers):
        # Layers above the first read both directions of the layer below, concatenated.
        layer_input = spec.input_size if layer == 0 else D * H_out
        for d in range(D):
            suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
            rows = [
                ("weight_ih", (G * H, layer_input), gates),
                ("weight_hh", (G * H, H_out), gates),
            ]
            if spec.bias:
                rows += [("bias_ih", (G * H,), gates), ("bias_hh", (G * H,), gates)]
            if spec.proj_size:
                rows.append(("weight_hr", (spec.proj_size, H), ()))
            out += [ParameterInfo(kind + suffix, shape, layer, DIRECTIONS[d], kind, g, bound) for kind, shape, g in rows]
    return out


def total_parameters(spec: RNNSpec) -> int:
    """The closed form: D*G*H*(H_in + (num_layers-1)*D*H_out + num_layers*(H_out + 2*bias)) + num_layers*D*P*H."""
    D, G, H, P = spec.num_directions, spec.gate_multiple, spec.hidden_size, spec.proj_size
    layers, b = spec.num_layers, int(spec.bias)
    return D * G * H * (spec.input_size + (layers - 1) * D * spec.h_out + layers * (spec.h_out + 2 * b)) + layers * D * P * H


def count_formula(spec: RNNSpec) -> tuple[str, str]:
    """The count formula in symbols, and with this config's numbers substituted and evaluated."""
    D, G, H, P = spec.num_directions, spec.gate_multiple, spec.hidden_size, spec.proj_size
    layers, b, H_in, H_out = spec.num_layers, int(spec.bias), spec.input_size, spec.h_out
    if spec.is_cell:  # the layer's formula with D = num_layers = 1 and no projection
        return "G*H*(H_in + H + 2*bias)", f"{G}*{H}*({H_in} + {H} + 2*{b}) = {total_parameters(spec)}"
    symbols = "D*G*H*(H_in + (num_layers-1)*D*H_out + num_layers*(H_out + 2*bias))"
    numbers = f"{D}*{G}*{H}*({H_in} + {layers - 1}*{D}*{H_out} + {layers}*({H_out} + 2*{b}))"
    if spec.mode == "lstm":  # only an LSTM can project; keep the term out of rnn/gru formulas
        symbols += " + num_layers*D*P*H"
        numbers += f" + {layers}*{D}*{P}*{H}"
    return symbols, f"{numbers} = {total_parameters(spec)}"


def parameter_bytes(spec: RNNSpec) -> int:
    return total_parameters(spec) * DTYPE_BYTES[spec.dtype]


def h_n_rows(spec: RNNSpec) -> list[HnRow]:
    """Row `layer * D + direction` of h_n (and c_n) belongs to that layer and direction; a cell's h_1 has no rows."""
    if spec.is_cell:
        return []
    D = spec.num_directions
    return [HnRow(layer * D + d, layer, DIRECTIONS[d]) for layer in range(spec.num_layers) for d in range(D)]


def relations(spec: RNNSpec) -> list[Relation]:
    """Identities between output and h_n that hold for every input (a cell has no output apart from h_1)."""
    if spec.is_cell:
        return []
    if spec.packed:
        return _packed_relations(spec)
    D, H_out, top = spec.num_directions, spec.h_out, (spec.num_layers - 1) * spec.num_directions
    out = [
        Relation(
            "forward h_n is output's last step",
            f"{_output_index(spec, -1, 0, H_out)} == h_n[{top}]",
            "the forward direction of the top layer ends at the last time step",
            (RelationPart(-1, 0, H_out, top),),
        )
    ]
    if D == 2:
        out.append(
            Relation(
                "reverse h_n is output's first step",
                f"{_output_index(spec, 0, H_out, 2 * H_out)} == h_n[{top + 1}]",
                "the reverse direction runs t = L-1 .. 0, so it ends at step 0",
                (RelationPart(0, H_out, 2 * H_out, top + 1),),
            )
        )
    if spec.seq_len == 1 and spec.num_layers == 1:
        parts = tuple(RelationPart(0, d * H_out, (d + 1) * H_out, d) for d in range(D))
        lhs = "output[0]" if spec.unbatched or not spec.batch_first else "output[:, 0]"
        rhs = "h_n[0]" if D == 1 else "cat(h_n[0], h_n[1])"
        out.append(Relation("output is h_n", f"{lhs} == {rhs}", "one step and one layer: output and h_n hold the same numbers", parts))
    return out


def _packed_relations(spec: RNNSpec) -> list[Relation]:
    """Per sequence: each ends at its own length, and pad_packed_sequence pads with zeros after it."""
    assert spec.lengths is not None
    D, H_out, top, lengths = spec.num_directions, spec.h_out, (spec.num_layers - 1) * spec.num_directions, spec.lengths
    out = [
        Relation(
            "forward h_n is each sequence's own last step",
            f"{_output_index(spec, 'lengths[i]-1', 0, H_out, batch='i', name='padded_output')} == h_n[{top}, i]",
            "the forward direction stops at each sequence's own last real step, not at L-1",
            tuple(RelationPart(n - 1, 0, H_out, top, batch=i) for i, n in enumerate(lengths)),
        )
    ]
    if D == 2:
        out.append(
            Relation(
                "reverse h_n is each sequence's step 0",
                f"{_output_index(spec, 0, H_out, 2 * H_out, batch='i', name='padded_output')} == h_n[{top + 1}, i]",
                "the reverse direction starts at each sequence's own last real step and ends at step 0",
                tuple(RelationPart(0, H_out, 2 * H_out, top + 1, batch=i) for i in range(len(lengths))),
            )
        )
    if min(lengths) == spec.seq_len:
        return out  # every sequence is full length: no padding to check
    out.append(
        Relation(
            "padding is zeros",
            f"{_output_index(spec, 'lengths[i]:', 0, D * H_out, batch='i', name='padded_output')} == 0",
            "pad_packed_sequence fills the steps after each sequence's end with zeros, not with computed states",
            tuple(RelationPart(n, 0, D * H_out, None, batch=i, time_stop=spec.seq_len) for i, n in enumerate(lengths) if n < spec.seq_len),
        )
    )
    return out


def _output_index(spec: RNNSpec, t: int | str, start: int, stop: int, *, batch: str = ":", name: str = "output") -> str:
    """output[...] written in the user's layout, for display."""
    full = spec.num_directions * spec.h_out
    features = f"{start or ''}:{stop if stop != full else ''}"
    if spec.unbatched:
        return f"{name}[{t}, {features}]"
    if spec.batch_first:
        return f"{name}[{batch}, {t}, {features}]"
    return f"{name}[{t}, {batch}, {features}]"


def run_bytes(spec: RNNSpec) -> int:
    """An upper estimate of the memory one inference run takes on its device.

    Parameters, the dummy input and states, output and h_n/c_n, plus the work
    torch keeps per layer: the input projection for every step (G*H per
    direction) and the layer's output, alive while the next layer reads it.
    """
    L, N = spec.steps, spec.batch
    D, G, H = spec.num_directions, spec.gate_multiple, spec.hidden_size
    elements = sum(math.prod(t.shape) for t in tensors(spec))
    workspace = L * N * D * (G * H + 2 * max(H, spec.input_size))
    return (total_parameters(spec) + elements + workspace) * DTYPE_BYTES[spec.dtype]


def notes(spec: RNNSpec) -> list[str]:
    """What this config does that a reader might not expect (torch's own warnings come from probe)."""
    out = []
    if spec.is_cell:
        out.append(f"nn.{spec.module_name} computes one time step; a layer is the loop over t that feeds h_1 back "
                   f"as the next h_0 (`rnnshape code --mode {spec.mode}` writes that loop and compares it with nn.{spec.module_name[:-4]})")
    if spec.is_cell and spec.unbatched:
        out.append(f"--unbatched: the input is 1-D (H_in,) and the states 1-D (H,); --batch-size {spec.batch_size} is not used")
    elif spec.unbatched:
        out.append(f"--unbatched: the input is 2-D (L, H_in) and the states 2-D; --batch-size {spec.batch_size} is not used")
        if spec.batch_first:
            out.append("--batch-first has no effect on unbatched input (torch ignores it)")
    elif spec.batch_first:
        out.append("--batch-first changes input and output only; h_0/h_n (and c_0/c_n) stay (D*num_layers, N, H_out)")
    if spec.dropout > 0:
        out.append("dropout acts between layers in training mode only; this run is in eval mode")
    if spec.device == "meta":
        out.append("--device meta: shapes only; no values exist, so drawn min/max and the output/h_n relations are not checked")
    if spec.batch_size == 0 and not spec.unbatched:
        out.append("--batch-size 0: torch accepts an empty batch; every tensor with N has no elements")
    if spec.packed:
        sort = ("--enforce-sorted: the lengths are already longest first, so torch keeps no sorted_indices (None)"
                if spec.enforce_sorted else
                "--no-enforce-sorted: torch sorts the batch longest first (sorted_indices) and puts h_n back in the original order")
        out.append(f"--lengths {','.join(map(str, spec.lengths))}: the RNN runs only the real steps, "
                   f"batch_sizes[t] sequences at step t; {sort}")
    return out
