"""What the formulas predict for an RNNSpec, without torch.

Every shape, name, count and bound here comes from PyTorch's documentation of
nn.RNN / nn.LSTM / nn.GRU; probe.py then asks torch, and report.py compares.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from rnnshape.language import tr
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
        return tr("missing")
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
    return list(_tensors(spec))  # a list of the caller's own; TensorInfo is frozen


# Asked six times per run (probe, the report, the memory estimate, costs): once is enough.
@functools.lru_cache(maxsize=1024)
def _tensors(spec: RNNSpec) -> tuple[TensorInfo, ...]:
    return tuple(_computed_tensors(spec))


def _computed_tensors(spec: RNNSpec) -> list[TensorInfo]:
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

    both = tr(" (both directions side by side)") if D == 2 else ""
    last = tr("each sequence's own last step") if spec.packed else tr("last step")
    if spec.packed:
        out = [
            TensorInfo("input", *seq((H_in, "H_in")), tr("the padded batch: zeros after each sequence's length")),
            TensorInfo("packed_input", (sum(spec.lengths), H_in), ("sum(lengths)", "H_in"),
                       tr("PackedSequence.data: the real steps only, time-major")),
        ]
    else:
        out = [TensorInfo("input", *seq((H_in, "H_in")), tr("the sequence, every time step"))]
    out.append(TensorInfo("h_0", *state(H_out, "H_out"), tr("initial state, every layer and direction")))
    if spec.lstm:
        out.append(TensorInfo("c_0", *state(spec.hidden_size, "H_cell"), tr("initial cell state, every layer and direction")))
    if spec.packed:
        out.append(TensorInfo("packed_output", (sum(spec.lengths), D * H_out), ("sum(lengths)", "D*H_out"),
                              tr("the PackedSequence output's .data: top layer, real steps{both}", both=both)))
        out.append(TensorInfo("padded_output", *seq((D * H_out, "D*H_out")),
                              tr("pad_packed_sequence(output): zeros after each length{both}", both=both)))
    else:
        out.append(TensorInfo("output", *seq((D * H_out, "D*H_out")), tr("top layer, every time step{both}", both=both)))
    out.append(TensorInfo("h_n", *state(H_out, "H_out"), tr("every layer and direction, {last}", last=last)))
    if spec.lstm:
        out.append(TensorInfo("c_n", *state(spec.hidden_size, "H_cell"),
                              tr("cell state, every layer and direction, {last}", last=last)))
    return out


def _cell_tensors(spec: RNNSpec) -> list[TensorInfo]:
    """One step: input (N, H_in), h_0 -> h_1 (and c_0 -> c_1), the names PyTorch's cell docs use."""
    batch = [] if spec.unbatched else [(spec.batch_size, "N")]

    def shape(size: int, dim: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        pairs = batch + [(size, dim)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    H = spec.hidden_size
    out = [
        TensorInfo("input", *shape(spec.input_size, "H_in"), tr("one time step (the cell has no L: you loop over t)")),
        TensorInfo("h_0", *shape(H, "H"), tr("the state before this step")),
    ]
    if spec.lstm:
        out.append(TensorInfo("c_0", *shape(H, "H"), tr("the cell state before this step")))
    out.append(TensorInfo("h_1", *shape(H, "H"), tr("the state after this step (feed it back as the next h_0)")))
    if spec.lstm:
        out.append(TensorInfo("c_1", *shape(H, "H"), tr("the cell state after this step")))
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
            tr("forward h_n is output's last step"),
            f"{_output_index(spec, -1, 0, H_out)} == h_n[{top}]",
            tr("the forward direction of the top layer ends at the last time step"),
            (RelationPart(-1, 0, H_out, top),),
        )
    ]
    if D == 2:
        out.append(
            Relation(
                tr("reverse h_n is output's first step"),
                f"{_output_index(spec, 0, H_out, 2 * H_out)} == h_n[{top + 1}]",
                tr("the reverse direction runs t = L-1 .. 0, so it ends at step 0"),
                (RelationPart(0, H_out, 2 * H_out, top + 1),),
            )
        )
    if spec.seq_len == 1 and spec.num_layers == 1:
        parts = tuple(RelationPart(0, d * H_out, (d + 1) * H_out, d) for d in range(D))
        lhs = "output[0]" if spec.unbatched or not spec.batch_first else "output[:, 0]"
        rhs = "h_n[0]" if D == 1 else "cat(h_n[0], h_n[1])"
        out.append(Relation(tr("output is h_n"), f"{lhs} == {rhs}",
                            tr("one step and one layer: output and h_n hold the same numbers"), parts))
    return out


def _packed_relations(spec: RNNSpec) -> list[Relation]:
    """Per sequence: each ends at its own length, and pad_packed_sequence pads with zeros after it."""
    assert spec.lengths is not None
    D, H_out, top, lengths = spec.num_directions, spec.h_out, (spec.num_layers - 1) * spec.num_directions, spec.lengths
    out = [
        Relation(
            tr("forward h_n is each sequence's own last step"),
            f"{_output_index(spec, 'lengths[i]-1', 0, H_out, batch='i', name='padded_output')} == h_n[{top}, i]",
            tr("the forward direction stops at each sequence's own last real step, not at L-1"),
            tuple(RelationPart(n - 1, 0, H_out, top, batch=i) for i, n in enumerate(lengths)),
        )
    ]
    if D == 2:
        out.append(
            Relation(
                tr("reverse h_n is each sequence's step 0"),
                f"{_output_index(spec, 0, H_out, 2 * H_out, batch='i', name='padded_output')} == h_n[{top + 1}, i]",
                tr("the reverse direction starts at each sequence's own last real step and ends at step 0"),
                tuple(RelationPart(0, H_out, 2 * H_out, top + 1, batch=i) for i in range(len(lengths))),
            )
        )
    if min(lengths) == spec.seq_len:
        return out  # every sequence is full length: no padding to check
    out.append(
        Relation(
            tr("padding is zeros"),
            f"{_output_index(spec, 'lengths[i]:', 0, D * H_out, batch='i', name='padded_output')} == 0",
            tr("pad_packed_sequence fills the steps after each sequence's end with zeros, not with computed states"),
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


# --- memory: what a run really holds at its peak --------------------------------------
#
# The guard (memory.refuse_if_too_big) compares these estimates with the free memory
# before anything is allocated. An estimate is the modelled peak plus a fixed part,
# times MEMORY_MARGIN. The model follows what torch 2.13 allocates on the CPU
# (aten/src/ATen/native/RNN.cpp; mkldnn/RNN.cpp and oneDNN's scratchpad, measured) and
# what rnnshape itself allocates: what a run keeps (parameters, inputs, outputs, final
# states) plus every phase's transient working set, summed. Summed, not the largest:
# glibc keeps the heap pages a phase frees, and the next phase's pieces over its mmap
# threshold (up to 32 MiB) take fresh pages, so phases measured on top of each other
# (a packed run's padding on top of its forward, verify's comparison on top of its
# reference). Checked against the peak RSS of `rnnshape inspect|verify|check` in a
# child process above the peak of one that only imported torch and rnnshape
# (benchmarks/memory.py: 55 configs, every mode and path, float32/float64/bfloat16,
# H 20..4096, L*N up to 64000): see tests/test_memory_guard.py, which keeps >= 1.2x.

MiB = 2**20
# The estimate is the modelled peak times this, so that a run the guard admits peaks at
# most at 1/1.25 of the memory it was admitted into.
MEMORY_MARGIN = 1.25
# What any CPU run adds whatever its size: the pages of torch's kernels a first forward
# touches, OpenMP's second thread, oneDNN's JIT code, rnnshape's report modules. Measured
# at the default sizes: 10.3 MiB (rnn), 11.4 (gru), 14.6 (lstm, oneDNN), 14.9 (unbatched
# lstm) -- and 21.8 to 28.7 in a venv whose torch was just installed: the kernels' pages
# are file-backed, and how many a first call maps depends on the page cache (freshly
# written files come in larger folios, mapped whole); 29.8 measured once there for an
# unbatched lstm. Only 2 MiB of it is anonymous.
RUN_FIXED_BYTES = 32 * MiB
# --device meta allocates no values; it imports the meta kernels: 7.6 MiB measured,
# for the default layer and for a 1 GiB LSTM alike.
META_FIXED_BYTES = 10 * MiB
# verify's own code (reference, comparison), beside the run's: with the run's fixed
# part, 13.5-19.5 MiB measured for one layer.
VERIFY_FIXED_BYTES = 24 * MiB


def run_bytes(spec: RNNSpec) -> int:
    """An upper estimate of the memory one inference run (inspect's probe.run) takes on its device.

    The modelled peak (run_model) plus the fixed part, times MEMORY_MARGIN; on meta
    only the fixed part: nothing there has values.
    """
    if spec.device == "meta":
        return with_margin(META_FIXED_BYTES)
    return with_margin(RUN_FIXED_BYTES + run_model(spec).peak)


def with_margin(modelled: int) -> int:
    return math.ceil(MEMORY_MARGIN * modelled)


@dataclass(frozen=True)
class RunMemory:
    """Bytes of one run: what it keeps once it has returned, and its phases' transients, summed."""

    kept: int
    transient: int

    @property
    def peak(self) -> int:
        return self.kept + self.transient


def run_model(spec: RNNSpec) -> RunMemory:
    """What probe.run holds, without the fixed part or the margin.

    Kept: the parameters, the input (and pack_padded_sequence's data), h_0/c_0, the
    output (packed: its data and pad_packed_sequence's padded output), h_n/c_n.
    Transient: the parameter being drawn before it is copied in (the largest); the
    dummy input drawn in float32 before the cast to another dtype; with
    --no-enforce-sorted the sorted copy of the padded batch that is packed, and the
    padded output before index_select puts it back in the batch's order; and the
    forward's own working set (forward_transient).
    """
    s = DTYPE_BYTES[spec.dtype]
    sizes = _sizes(spec)
    x = sizes["input"] * s
    kept = total_parameters(spec) * s + x + _states(spec, sizes, "h_0", "c_0") + _outputs(spec, sizes) \
        + _states(spec, sizes, "h_n", "c_n", "h_1", "c_1")
    unsorting = spec.packed and not spec.enforce_sorted
    transient = _largest_parameter(spec) * s + (0 if spec.dtype == "float32" else 4 * sizes["input"]) \
        + ((x + sizes["padded_output"] * s) if unsorting else 0) + forward_transient(spec)
    return RunMemory(kept, transient)


def _sizes(spec: RNNSpec) -> dict[str, int]:
    return {t.name: math.prod(t.shape) for t in tensors(spec)}


def _states(spec: RNNSpec, sizes: dict[str, int], *names: str) -> int:
    return sum(sizes.get(name, 0) for name in names) * DTYPE_BYTES[spec.dtype]


def _outputs(spec: RNNSpec, sizes: dict[str, int]) -> int:
    """The output run keeps: packed, its data and the padded output; a cell has none beside h_1."""
    names = ("packed_output", "padded_output") if spec.packed else ("output",)
    return sum(sizes.get(name, 0) for name in names) * DTYPE_BYTES[spec.dtype]


def _largest_parameter(spec: RNNSpec) -> int:
    """Elements of the largest parameter (layers above the second repeat its shapes)."""
    return max((p.numel for p in parameters(with_layers(spec, min(spec.num_layers, 2)))), default=0)


def with_layers(spec: RNNSpec, layers: int) -> RNNSpec:
    """The same spec with `layers` layers (a cell stays itself)."""
    return spec if spec.is_cell or spec.num_layers == layers else replace(spec, num_layers=layers)


def uses_onednn(spec: RNNSpec) -> bool | None:
    """Whether torch's CPU LSTM runs oneDNN (mkldnn_rnn_layer) here; None where that depends on the CPU.

    RNN.cpp's use_mkldnn: an unpacked, non-empty, projection-free LSTM in float32, or
    in bfloat16/float16 where the CPU has the instructions (mkldnn_bf16_device_check,
    mkldnn_fp16_device_check: AVX-512 and AMX parts); nn.RNN and nn.GRU never.
    """
    if spec.is_cell or spec.mode != "lstm" or spec.proj_size or spec.packed or _rows(spec) == 0:
        return False
    if spec.dtype == "float32":
        return True
    return None if spec.dtype in ("bfloat16", "float16") else False


def _rows(spec: RNNSpec) -> int:
    """The (time step, sequence) pairs a layer computes: L*N, or sum(lengths) for packed input."""
    return sum(spec.lengths) if spec.packed else spec.steps * spec.batch


def forward_transient(spec: RNNSpec) -> int:
    """What the module call holds at its peak beyond the output and final states it returns."""
    sizes = _sizes(spec)
    returned = _states(spec, sizes, "h_n", "c_n", "h_1", "c_1") + \
        sizes.get("packed_output" if spec.packed else "output", 0) * DTYPE_BYTES[spec.dtype]
    return max(0, forward_peak(spec) - returned)


def forward_peak(spec: RNNSpec) -> int:
    """What the module call holds at its peak, its output and final states included.

    The path is torch's: oneDNN for most LSTMs, the native layers otherwise; where
    the CPU decides (bfloat16, float16 LSTMs), the larger of the two.
    """
    onednn = uses_onednn(spec)
    if onednn:
        return _onednn_peak(spec)
    if onednn is None:
        return max(_onednn_peak(spec), _native_peak(spec))
    return _native_peak(spec)


def _native_peak(spec: RNNSpec) -> int:
    """torch's native CPU layers (FullLayer, FullBidirectionalLayer, PackedLayer in RNN.cpp).

    Per layer and direction, rows = L*N (sum(lengths) packed): the input projection for
    every step at once (rows*G*H), each step's output kept (rows*H_out), then stacked
    (rows*H_out). Bidirectional: the reverse projection is computed while the forward's
    is still referenced (2*G*H + 2*H_out), then both directions' steps and stacks and
    their cat (G*H + 6*H_out); packed input never needs more than that. Layers above
    the first also hold the layer below's output (rows*D*H_out). Per step, the cell's
    gate temporaries (N*(3*G*H + 4*H)). Slack rows*D*H_out: measured peaks ran up to
    1.16*rows*H_out over the tensors above (freed step temporaries the heap keeps).
    The final states are stacked from the per-layer ones (twice their size).
    """
    s = DTYPE_BYTES[spec.dtype]
    G, H, H_out, D = spec.gate_multiple, spec.hidden_size, spec.h_out, spec.num_directions
    N = spec.batch
    step = N * (3 * G * H + 4 * H)
    if spec.is_cell:
        return s * (step + 2 * N * H)  # one step: the temporaries, h_1 and c_1
    rows = _rows(spec)
    per_row = G * H + 2 * H_out if D == 1 else max(2 * G * H + 2 * H_out, G * H + 6 * H_out)
    below = rows * D * H_out if spec.num_layers > 1 else 0
    slack = rows * D * H_out
    return s * (below + rows * per_row + slack + step + 2 * _state_elements(spec))


def _onednn_peak(spec: RNNSpec) -> int:
    """torch's oneDNN LSTM: mkldnn_rnn calls mkldnn_rnn_layer per layer and direction.

    Each call makes its output (rows*H), a copy of the layer's weights reordered into
    oneDNN's layout (G*H*(I + H), I its input's width; freed after the call: the 1.5x
    of a weight-bound LSTM) and the summed bias, and oneDNN's scratchpad, measured
    (torch 2.13's oneDNN on AVX2, calling the op alone): rows*H forward, rows*(2*max(I, H)
    + H) in reverse, and rows*G*H more either way for a batch of one (unbatched input).
    Alive besides, as mkldnn_rnn's loop keeps them: bidirectional, the layer below's cat
    (2H) and its two outputs (2H) until each is replaced, then this layer's cat (2H);
    unidirectional, the layer below's output. --batch-first: the input made contiguous
    seq-first, kept for the whole call (rows*H_in). Slack rows*D*H, as in _native_peak.
    """
    s = DTYPE_BYTES[spec.dtype]
    G, H, D, N = spec.gate_multiple, spec.hidden_size, spec.num_directions, spec.batch
    rows = _rows(spec)
    gates = G * H if N == 1 else 0

    def weights(I: int) -> int:
        return G * H * (I + H) + G * H

    peak = 0
    for layer in range(min(spec.num_layers, 2)):  # layers above the second repeat its shapes
        I = spec.input_size if layer == 0 else D * H
        if D == 1:
            below = H if layer else 0
            peak = max(peak, rows * (below + H + H + gates) + weights(I))
            continue
        below = 4 * H if layer else 0  # the cat and the two outputs of the layer below
        forward_call = rows * (below + H + H + gates)
        # the reverse call: the lower forward output has been replaced by this layer's
        reverse_call = rows * (below - (H if layer else 0) + H + H + 2 * max(I, H) + H + gates)
        cat = rows * ((2 * H if layer else 0) + 2 * H + 2 * H)
        peak = max(peak, max(forward_call, reverse_call) + weights(I), cat)
    transposed = rows * spec.input_size if spec.batch_first and not spec.unbatched else 0
    slack = rows * D * H
    return s * (peak + transposed + slack + 2 * _state_elements(spec))


def _state_elements(spec: RNNSpec) -> int:
    return sum(math.prod(t.shape) for t in tensors(spec) if t.name in ("h_n", "c_n", "h_1", "c_1"))


def statistics_bytes(spec: RNNSpec) -> int:
    """What describing given weights takes (probe.saved_statistics, one parameter at a time).

    The parameter in float64 (8 bytes an element), its isfinite mask (1), the int64
    indices boolean indexing makes of the mask (8) and the finite values it picks
    (8): 25 bytes; 26.9 measured per element of a 4M-element weight, so 28. Only runs
    on a live module's or a checkpoint's weights compute these.
    """
    return 28 * _largest_parameter(spec)


def check_bytes(spec: RNNSpec, input_shape: tuple[int, ...], *, given_bytes: int,
                lengths: tuple[int, ...] | None = None, enforce_sorted: bool = True) -> int:
    """An upper estimate of what `rnnshape check` takes: the layer fed tensors of these shapes.

    given_bytes: the tensors it draws, in their own dtypes. They are drawn on the CPU
    in float32 and cast (so a float32 copy besides), then the layer described by
    spec runs on them as inspect(module, input, hx) runs a live module: the run of
    the spec their shapes give (run_model; with lengths, packed), the padded batch
    Call.tensors unpacks from packed input (twice while unsorting), and the
    statistics of the module's own weights (statistics_bytes). Shapes torch refuses
    as the layer's input (another rank, another H_in) never reach a forward: the
    tensors and the parameters.
    """
    numel = math.prod(input_shape)
    draw = given_bytes + 4 * numel  # randn in float32, then cast
    if spec.device == "meta":  # drawn on the CPU, then moved: nothing is kept
        return with_margin(META_FIXED_BYTES + draw)
    fed = _fed_spec(spec, input_shape, lengths, enforce_sorted)
    if fed is None:
        return with_margin(RUN_FIXED_BYTES + parameter_bytes(spec) + draw)
    model = run_model(fed)
    padded = numel * DTYPE_BYTES[spec.dtype] * (2 if not enforce_sorted else 1) if fed.packed else 0
    # The model counts the input and states in the layer's dtype; given ones may be wider (int64 ids).
    fed_inputs = sum(math.prod(t.shape) for t in tensors(fed) if t.name in ("input", "h_0", "c_0")) * DTYPE_BYTES[spec.dtype]
    peak = model.peak + padded + 4 * numel + max(0, given_bytes - fed_inputs) + statistics_bytes(spec)
    return with_margin(RUN_FIXED_BYTES + peak)


def _fed_spec(spec: RNNSpec, shape: tuple[int, ...], lengths: tuple[int, ...] | None, enforce_sorted: bool) -> RNNSpec | None:
    """The spec whose dummy input has this shape (L and N read as torch reads them), or None where torch refuses it."""
    from rnnshape.errors import SpecError

    if not shape or shape[-1] != spec.input_size:
        return None
    if spec.is_cell and len(shape) in (1, 2):
        fields: dict = {"unbatched": len(shape) == 1, "batch_size": shape[0] if len(shape) == 2 else spec.batch_size}
    elif not spec.is_cell and len(shape) == 2:
        fields = {"unbatched": True, "seq_len": shape[0]}
    elif not spec.is_cell and len(shape) == 3:
        L, N = (shape[1], shape[0]) if spec.batch_first else (shape[0], shape[1])
        fields = {"unbatched": False, "seq_len": L, "batch_size": N}
    else:
        return None
    try:
        fed = replace(spec, lengths=None, **fields)
    except SpecError:  # an empty sequence, or sizes RNNSpec refuses: torch refuses them too
        return None
    if lengths is not None and not spec.is_cell:
        try:
            fed = replace(fed, lengths=tuple(lengths), enforce_sorted=enforce_sorted)
        except SpecError:  # lengths torch will refuse to pack with: the unpacked run bounds it
            pass
    return fed


def notes(spec: RNNSpec) -> list[str]:
    """What this config does that a reader might not expect (torch's own warnings come from probe)."""
    out = []
    if spec.is_cell:
        out.append(tr("nn.{module} computes one time step; a layer is the loop over t that feeds h_1 back as the next h_0 "
                      "(`rnnshape code --mode {mode}` writes that loop and compares it with nn.{layer})",
                      module=spec.module_name, mode=spec.mode, layer=spec.module_name[:-4]))
    if spec.is_cell and spec.unbatched:
        out.append(tr("--unbatched: the input is 1-D (H_in,) and the states 1-D (H,); --batch-size {batch_size} is not used",
                      batch_size=spec.batch_size))
    elif spec.unbatched:
        out.append(tr("--unbatched: the input is 2-D (L, H_in) and the states 2-D; --batch-size {batch_size} is not used",
                      batch_size=spec.batch_size))
        if spec.batch_first:
            out.append(tr("--batch-first has no effect on unbatched input (torch ignores it)"))
    elif spec.batch_first:
        out.append(tr("--batch-first changes input and output only; h_0/h_n (and c_0/c_n) stay (D*num_layers, N, H_out)"))
    if spec.dropout > 0:
        out.append(tr("dropout acts between layers in training mode only; the run is in eval mode "
                      "(--train adds one in train mode)"))
    if spec.device == "meta":
        out.append(tr("--device meta: shapes only; no values exist, so drawn min/max and the output/h_n relations "
                      "are not checked"))
    if spec.batch_size == 0 and not spec.unbatched:
        out.append(tr("--batch-size 0: torch accepts an empty batch; every tensor with N has no elements"))
    if spec.packed:
        sort = (tr("--enforce-sorted: the lengths are already longest first, so torch keeps no sorted_indices (None)")
                if spec.enforce_sorted else
                tr("--no-enforce-sorted: torch sorts the batch longest first (sorted_indices) and puts h_n back in the "
                   "original order"))
        out.append(tr("--lengths {lengths}: the RNN runs only the real steps, batch_sizes[t] sequences at step t; {sort}",
                      lengths=",".join(map(str, spec.lengths)), sort=sort))
    for name, flag, init in (("h_0", "--h0", spec.h0), ("c_0", "--c0", spec.c0)):
        if init != "randn":
            if init == "zeros" and name == "h_0":
                out.append(tr("{flag} {init}: {name} is all {init} (what torch uses when h_0 is left out), not drawn from "
                              "the seed; the input is drawn as usual", flag=flag, init=init, name=name))
            else:
                out.append(tr("{flag} {init}: {name} is all {init}, not drawn from the seed; the input is drawn as usual",
                              flag=flag, init=init, name=name))
    return out
