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
    """output[time_step, :, start:stop] == h_n[h_n_row], in seq-first terms."""

    time_step: int
    start: int
    stop: int
    h_n_row: int


@dataclass(frozen=True)
class Relation:
    """An identity that ties output to h_n, to be checked on the real tensors."""

    name: str
    text: str  # the identity in the user's own layout (batch_first, unbatched)
    why: str
    parts: tuple[RelationPart, ...]


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
    for name, default in defaults.items():
        value = getattr(spec, name)
        if value != default:
            args.append(f"{name}={value!r}")
    return f"nn.{spec.module_name}({', '.join(args)})"


def tensors(spec: RNNSpec) -> list[TensorInfo]:
    """input, h_0 (c_0), output, h_n (c_n) with their shapes and dimension names."""
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
    out = [
        TensorInfo("input", *seq((H_in, "H_in")), "the sequence, every time step"),
        TensorInfo("h_0", *state(H_out, "H_out"), "initial state, every layer and direction"),
    ]
    if spec.mode == "lstm":
        out.append(TensorInfo("c_0", *state(spec.hidden_size, "H_cell"), "initial cell state, every layer and direction"))
    out.append(TensorInfo("output", *seq((D * H_out, "D*H_out")), "top layer, every time step" + both))
    out.append(TensorInfo("h_n", *state(H_out, "H_out"), "every layer and direction, last step"))
    if spec.mode == "lstm":
        out.append(TensorInfo("c_n", *state(spec.hidden_size, "H_cell"), "cell state, every layer and direction, last step"))
    return out


def parameters(spec: RNNSpec) -> list[ParameterInfo]:
    """named_parameters() in torch's order: layer, then direction, then w_ih, w_hh, b_ih, b_hh, w_hr."""
    G, H, D, H_out = spec.gate_multiple, spec.hidden_size, spec.num_directions, spec.h_out
    gates = GATES[spec.mode]
    bound = init_bound(spec)
    out: list[ParameterInfo] = []
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
    symbols = "D*G*H*(H_in + (num_layers-1)*D*H_out + num_layers*(H_out + 2*bias))"
    numbers = f"{D}*{G}*{H}*({H_in} + {layers - 1}*{D}*{H_out} + {layers}*({H_out} + 2*{b}))"
    if spec.mode == "lstm":  # only an LSTM can project; keep the term out of rnn/gru formulas
        symbols += " + num_layers*D*P*H"
        numbers += f" + {layers}*{D}*{P}*{H}"
    return symbols, f"{numbers} = {total_parameters(spec)}"


def parameter_bytes(spec: RNNSpec) -> int:
    return total_parameters(spec) * DTYPE_BYTES[spec.dtype]


def h_n_rows(spec: RNNSpec) -> list[HnRow]:
    """Row `layer * D + direction` of h_n (and c_n) belongs to that layer and direction."""
    D = spec.num_directions
    return [HnRow(layer * D + d, layer, DIRECTIONS[d]) for layer in range(spec.num_layers) for d in range(D)]


def relations(spec: RNNSpec) -> list[Relation]:
    """Identities between output and h_n that hold for every input."""
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


def _output_index(spec: RNNSpec, t: int, start: int, stop: int) -> str:
    """output[...] written in the user's layout, for display."""
    full = spec.num_directions * spec.h_out
    features = f"{start or ''}:{stop if stop != full else ''}"
    if spec.unbatched:
        return f"output[{t}, {features}]"
    if spec.batch_first:
        return f"output[:, {t}, {features}]"
    return f"output[{t}, :, {features}]"


def run_bytes(spec: RNNSpec) -> int:
    """An upper estimate of the memory one inference run takes on its device.

    Parameters, the dummy input and states, output and h_n/c_n, plus the work
    torch keeps per layer: the input projection for every step (G*H per
    direction) and the layer's output, alive while the next layer reads it.
    """
    L, N = spec.seq_len, 1 if spec.unbatched else spec.batch_size
    D, G, H = spec.num_directions, spec.gate_multiple, spec.hidden_size
    elements = sum(math.prod(t.shape) for t in tensors(spec))
    workspace = L * N * D * (G * H + 2 * max(H, spec.input_size))
    return (total_parameters(spec) + elements + workspace) * DTYPE_BYTES[spec.dtype]


def notes(spec: RNNSpec) -> list[str]:
    """What this config does that a reader might not expect (torch's own warnings come from probe)."""
    out = []
    if spec.unbatched:
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
    return out
