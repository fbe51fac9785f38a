"""What one forward pass of an RNNSpec costs, from closed forms: MACs, ops, bytes.

No torch here (as in theory.py): the MACs and ops come from PyTorch's documented
equations for nn.RNN / nn.LSTM / nn.GRU, the bytes from what torch 2.13's
decomposed CPU path allocates and saves. tests/test_cost.py checks the MACs
against torch.utils.flop_counter.FlopCounterMode and the training bytes against
torch.autograd.graph.saved_tensors_hooks.

Symbols, as in PyTorch's docs: L seq_len, N batch (1 when unbatched), D
num_directions, G gate_multiple, H hidden_size, H_in input_size, H_out
proj_size or hidden_size, P proj_size, B bytes per element of the dtype.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from rnnshape import theory
from rnnshape.language import tr
from rnnshape.spec import RNNSpec

# Each item's name, as a person reads it (a Message: equal to the English, said in the chosen language).
INPUT_PROJECTIONS, RECURRENCES, PROJECTION = tr("input projections"), tr("recurrences"), tr("projection")
BIAS_ADDS, ELEMENTWISE_OPS, PARAMETER_BYTES = tr("bias adds"), tr("elementwise ops"), tr("parameter bytes")
INFERENCE_BYTES, TRAINING_BYTES = tr("activation bytes (inference)"), tr("activation bytes (training)")
MAC_ITEMS = (INPUT_PROJECTIONS, RECURRENCES, PROJECTION)
# The units: MACs stays a symbol; ops and bytes are words.
OPS, BYTES = tr("ops"), tr("bytes")
# Each item's name as a JSON/CSV key: the unit says what is counted.
KEYS = {
    "input projections": "macs_input_projections",
    "recurrences": "macs_recurrences",
    "projection": "macs_projection",
    "bias adds": "bias_adds",
    "elementwise ops": "elementwise_ops",
    "parameter bytes": "parameter_bytes",
    "activation bytes (inference)": "activation_bytes_inference",
    "activation bytes (training)": "activation_bytes_training",
}

# Elementwise ops per hidden unit and step, counted on PyTorch's documented equations.
ELEMENTWISE_PER_H = {"rnn": 2, "gru": 11, "lstm": 13}
_ELEMENTWISE_SPLIT = {
    "rnn": tr("the sum of the two products 1, the nonlinearity 1: 2"),
    "gru": tr("r and z 2 adds + 2 sigmoids, n = tanh(i_n + r*h_n) 3, h' = (1-z)*n + z*h 4: 11 "
              "(torch's decomposed path computes h' as n + z*(h-n), 3 ops, so it does 10)"),
    "lstm": tr("the four gate sums 4, 3 sigmoids, tanh of g 1, c' = f*c + i*g 3, h' = o*tanh(c') 2: 13 "
               "(the projection adds none)"),
}


@dataclass(frozen=True)
class CostItem:
    name: str
    value: int
    unit: str  # "MACs", "ops", "bytes" (the last two Messages: words a person reads)
    formula: str  # in symbols
    substituted: str  # the numbers put in, then " = value"
    convention: str  # what exactly is counted

    @property
    def key(self) -> str:
        return KEYS[self.name]


def _rows(spec: RNNSpec) -> tuple[str, str, int]:
    """How many (sequence, step) pairs one direction of one layer computes: symbol, numbers, value.

    L*N for a padded batch; packed input runs only the real steps, sum(lengths);
    a cell runs one step, N.
    """
    if spec.is_cell:
        return "N", str(spec.batch), spec.batch
    if spec.packed:
        total = sum(spec.lengths or ())
        return "sum(lengths)", str(total), total
    return "L*N", f"{spec.seq_len}*{spec.batch}", spec.seq_len * spec.batch


def _input_copied(spec: RNNSpec) -> bool:
    """batch_first input, seen seq-first, is a transposed view that no reshape can flatten.

    Each direction's input projection (at::linear) then makes its own contiguous
    copy; with L == 1 or N <= 1 the transposed view is already contiguous.
    """
    # Packed input is already a contiguous (sum(lengths), H_in) tensor; a cell has no time axis.
    return spec.batch_first and not spec.unbatched and not spec.packed and spec.steps > 1 and spec.batch_size > 1


def _item(name, unit, terms, value, convention, scale=("", ""), zero="") -> CostItem:
    """terms: (symbols, numbers) pairs summed; scale: a trailing factor such as ("B", "4"); zero: why no terms."""
    if not terms:
        return CostItem(name, 0, unit, tr("0 ({why})", why=zero), "0 = 0", convention)
    sym, num = " + ".join(t[0] for t in terms), " + ".join(t[1] for t in terms)
    if scale[0]:
        sym, num = f"({sym})*{scale[0]}", f"({num})*{scale[1]}"
    return CostItem(name, value, unit, sym, f"{num} = {value}", convention)


def costs(spec: RNNSpec) -> list[CostItem]:
    """The eight items, in display order; MAC and op counts cover every layer, direction and step."""
    return list(_costs(spec))  # a list of the caller's own; the items themselves are frozen


# A run asks twice per spec (the report, a sweep's row), a sweep for thousands of specs.
@functools.lru_cache(maxsize=1024)
def _costs(spec: RNNSpec) -> tuple[CostItem, ...]:
    return tuple(_computed_costs(spec))


def _computed_costs(spec: RNNSpec) -> list[CostItem]:
    L, N, D, G, H, P = spec.steps, spec.batch, spec.num_directions, spec.gate_multiple, spec.hidden_size, spec.proj_size
    H_in, H_out, layers, lstm = spec.input_size, spec.h_out, spec.num_layers, spec.lstm
    B = theory.DTYPE_BYTES[spec.dtype]
    rows_sym, rows_num, rows = _rows(spec)
    # A cell is one layer in one direction with H_out = H: its formulas leave D and num_layers out.
    each = "" if spec.is_cell else "*D*num_layers"
    steps_sym, steps = rows_sym + each, rows_num + ("" if spec.is_cell else f"*{D}*{layers}")
    per_step = rows * D * layers
    where = tr("for the step") if spec.is_cell else tr("for every layer, direction and step")
    if spec.is_cell:
        projections = ("N*G*H*H_in", f"{N}*{G}*{H}*{H_in}")
    else:
        projections = (f"{rows_sym}*D*G*H*(H_in + (num_layers-1)*D*H_out)", f"{rows_num}*{D}*{G}*{H}*({H_in} + {layers - 1}*{D}*{H_out})")
    items = [
        _item(INPUT_PROJECTIONS, "MACs", [projections], rows * D * G * H * (H_in + (layers - 1) * D * H_out),
              tr("x_t @ W_ih^T {where}, one multiply-add per MAC", where=where) if spec.is_cell else
              tr("x_t @ W_ih^T {where}, one multiply-add per MAC (layers above the first read D*H_out features)",
                 where=where)),
        _item(RECURRENCES, "MACs", [(f"{steps_sym}*G*H*{'H' if spec.is_cell else 'H_out'}", f"{steps}*{G}*{H}*{H_out}")],
              per_step * G * H * H_out, tr("h_{{t-1}} @ W_hh^T {where}, one multiply-add per MAC", where=where)),
        _item(PROJECTION, "MACs", [(f"{steps_sym}*P*H", f"{steps}*{P}*{H}")] if P else [], per_step * P * H,
              tr("only an LSTM with proj_size P computes h_t = W_hr @ (o_t * tanh(c_t)), P*H MACs per layer, "
                 "direction and step"),
              zero=tr("no proj_size")),
        _item(BIAS_ADDS, OPS, [(f"{steps_sym}*2*G*H", f"{steps}*2*{G}*{H}")] if spec.bias else [],
              per_step * 2 * G * H * spec.bias,
              tr("b_ih and b_hh are each added once per gate row {where} (torch folds them into addmm, "
                 "whose bias FlopCounterMode does not count)", where=where),
              zero="bias=False"),
        _item(ELEMENTWISE_OPS, OPS,
              [(f"{steps_sym}*{ELEMENTWISE_PER_H[spec.base_mode]}*H", f"{steps}*{ELEMENTWISE_PER_H[spec.base_mode]}*{H}")],
              per_step * ELEMENTWISE_PER_H[spec.base_mode] * H,
              tr("each elementwise add or multiply and each activation applied to one element is 1 op, on PyTorch's "
                 "documented equations, per hidden unit and step: {split}", split=_ELEMENTWISE_SPLIT[spec.base_mode])),
    ]
    symbols, substituted = theory.count_formula(spec)
    total = theory.total_parameters(spec)
    numbers = substituted.rpartition(" = ")[0]
    items.append(CostItem(PARAMETER_BYTES, total * B, BYTES, f"({symbols})*B", f"({numbers})*{B} = {total * B}",
                          tr("every entry of named_parameters(), B = {B} bytes per {dtype} element", B=B, dtype=spec.dtype)))
    if spec.is_cell:
        items += _cell_bytes(spec, N, G, H, H_in, B)
    else:
        items.append(_inference_bytes(spec, L, N, D, G, H, H_in, H_out, layers, lstm, B))
        items.append(_training_bytes(spec, L, N, D, H, H_in, H_out, P, layers, B))
    return items


def _cell_bytes(spec: RNNSpec, N: int, G: int, H: int, H_in: int, B: int) -> list[CostItem]:
    """A cell's step: its input, state(s) in and out, and the two gate projections (2*N*G*H).

    Training: what torch 2.13's cells save, measured with saved_tensors_hooks:
    rnncell keeps x, h and h'; lstmcell and grucell keep x and 7H per sequence,
    the same per-step figures as their layers.
    """
    states = 4 if spec.lstm else 2  # h_0, h_1 (and c_0, c_1)
    inference = _item(INFERENCE_BYTES, BYTES,
                      [("N*H_in", f"{N}*{H_in}"), (f"{states}*N*H", f"{states}*{N}*{H}"), ("2*N*G*H", f"2*{N}*{G}*{H}")],
                      (N * H_in + states * N * H + 2 * N * G * H) * B,
                      tr("an estimate of what one eval-mode step holds: the input, the states in and out, and the gate "
                         "projections x W_ih^T and h W_hh^T before they are combined"), ("B", str(B)))
    per_h = ("2*H", "2*" + str(H), 2 * H) if spec.base_mode == "rnn" else ("7*H", "7*" + str(H), 7 * H)
    training = _item(TRAINING_BYTES, BYTES, [(f"N*(H_in + {per_h[0]})", f"{N}*({H_in} + {per_h[1]})")],
                     N * (H_in + per_h[2]) * B,
                     tr("what autograd saves for backward in one train-mode step (requires_grad input, parameters "
                        "excluded, each storage once), exactly as torch 2.13's CPU cells save it"), ("B", str(B)))
    return [inference, training]


def _inference_bytes(spec, L, N, D, G, H, H_in, H_out, layers, lstm, B) -> CostItem:
    """Peak of what an eval-mode torch.no_grad forward holds on torch's decomposed path.

    Per layer and direction that path computes the input projections for all
    steps at once (W = L*N*G*H), keeps every step's h_t in a list (O = L*N*H_out)
    and stacks it (another O), while the layer below's output (Y = L*N*D*H_out)
    stays alive as this layer's input; a batch_first input is first copied
    (C = L*N*H_in), alive only while layer 0 projects it. Bidirectional: the
    reverse direction's projections are made while the forward's, its list and
    its stack still exist (2W + 2O), and at the final cat both lists, both
    stacks and the cat coexist (W + 6O).
    """
    has_y, has_c = layers > 1, _input_copied(spec)
    if D == 1:
        work = "W + " + ("max(C, Y + 2*O)" if has_c and has_y else "max(C, 2*O)" if has_c else "Y + 2*O" if has_y else "2*O")
    else:
        first = "max(C, Y) + " if has_c and has_y else "C + " if has_c else "Y + " if has_y else ""
        work = f"max({first}2*W + 2*O, {'Y + ' if has_y else ''}W + 6*O)"
    R, R_num, rows = _rows(spec)  # packed input works on sum(lengths) rows, not L*N
    names = {"W": (f"{R}*G*H", f"{R_num}*{G}*{H}"), "O": (f"{R}*H_out", f"{R_num}*{H_out}"),
             "Y": (f"{R}*D*H_out", f"{R_num}*{D}*{H_out}"), "C": ("L*N*H_in", f"{L}*{N}*{H_in}")}
    inputs = [("L*N*H_in", f"{L}*{N}*{H_in}")] + ([(f"{R}*H_in", f"{R_num}*{H_in}")] if spec.packed else [])
    terms = [*inputs,
             ("2*num_layers*D*N*(H_out + H)", f"2*{layers}*{D}*{N}*({H_out} + {H})") if lstm
             else ("2*num_layers*D*N*H_out", f"2*{layers}*{D}*{N}*{H_out}"),
             tuple(re.sub(r"\b[WOYC]\b", lambda m, i=i: names[m.group()][i], work) for i in (0, 1))]
    W, O, Y, C = rows * G * H, rows * H_out, rows * D * H_out * has_y, L * N * H_in * has_c
    peak = W + max(C, Y + 2 * O) if D == 1 else max(max(C, Y) + 2 * W + 2 * O, Y + W + 6 * O)
    states = 2 * layers * D * N * (H_out + (H if lstm else 0))  # h_0/c_0 in, h_n/c_n out
    held = L * N * H_in + (rows * H_in if spec.packed else 0)  # the (padded) input, and its packed data
    packed = (tr(" For packed input the working set covers sum(lengths) rows, beside the padded batch and its packed "
                 "copy.") if spec.packed else "")
    return _item(INFERENCE_BYTES, BYTES, terms, (held + states + peak) * B,
                 tr("an estimate of the peak an eval-mode torch.no_grad forward holds on torch's decomposed path: input, "
                    "h_0/c_0, h_n/c_n, the layer below's output (or batch_first's contiguous input copy) and one layer's "
                    "working set (input projections for all steps, step outputs and their stack); on 120 random small "
                    "configs it came within 10% under to 22% over the peak torch 2.13's CPU profiler measured, and "
                    "oneDNN/cuDNN kernels add workspace and weight copies of their own.{packed}", packed=packed),
                 ("B", str(B)))


def _training_bytes(spec, L, N, D, H, H_in, H_out, P, layers, B) -> CostItem:
    """What autograd saves in one train-mode forward with requires_grad input, parameters excluded.

    Measured on torch 2.13's decomposed CPU path (oneDNN off) as distinct storages:
    per layer, direction and step rnn keeps h_t (tanh/relu's output, the next
    step's mm input) plus h_0; gru keeps the hidden gates (3H, where r and z are
    made in place), h_{t-1}, n, and the copies that the in-place mul_ keeps of
    W_hn h + b_hn and of (h - n): 7H;
    lstm keeps the gates (4H, activated in place), c_{t-1}, tanh(c_t), h_{t-1}
    and, with P, the unprojected h_t: 7H + P.
    """
    R, R_num, rows = _rows(spec)  # packed input: sum(lengths) rows instead of L*N
    copies = D if _input_copied(spec) else 1
    terms = [(("D*" if copies > 1 else "") + f"{R}*H_in", ("" if copies == 1 else f"{D}*") + f"{R_num}*{H_in}")]
    value = copies * rows * H_in
    if layers > 1:
        # Each upper layer's input; dropout in between (CPU: input * mask) saves the mask
        # as well, and the product, a new storage, is what the next layer saves.
        twice = 0 < spec.dropout < 1
        terms.append((("2*" if twice else "") + f"(num_layers-1)*{R}*D*H_out",
                      ("2*" if twice else "") + f"{layers - 1}*{R_num}*{D}*{H_out}"))
        value += (1 + twice) * (layers - 1) * rows * D * H_out
        if spec.dropout == 1 and N > 0:  # p == 1 multiplies by a saved 0-dim zero
            terms.append(("(num_layers-1)", f"{layers - 1}"))
            value += layers - 1
    rnn = (f"({R} + N)*H", f"({R_num} + {N})*{H}") if spec.packed else ("(L+1)*N*H", f"({L}+1)*{N}*{H}")
    per_step = {"rnn": (*rnn, (rows + N) * H),
                "gru": (f"{R}*7*H", f"{R_num}*7*{H}", rows * 7 * H),
                "lstm": (f"{R}*(7*H + P)", f"{R_num}*(7*{H} + {P})", rows * (7 * H + P))}[spec.mode]
    terms.append((f"num_layers*D*{per_step[0]}", f"{layers}*{D}*{per_step[1]}"))
    value += layers * D * per_step[2]
    return _item(TRAINING_BYTES, BYTES, terms, value * B,
                 tr("what autograd saves for backward in one train-mode forward (requires_grad input, dropout's masks "
                    "included, parameters excluded, each storage once; with batch_first one contiguous copy of the input per "
                    "direction), exactly as torch 2.13's decomposed CPU path saves it (oneDNN off); fused kernels (oneDNN, "
                    "cuDNN) keep a different workspace{packed}", packed=_PACKED_TRAINING if spec.packed else ""),
                 ("B", str(B)))


# Measured as the test does (tests/test_cost.py), over random packed configs.
_PACKED_TRAINING = tr("; for packed input the same figures over sum(lengths) rows are an estimate: torch's packed path "
                      "also saves the states it narrows as sequences end, and this came to 0.80-1.00x of what it saved over "
                      "300 random packed configs")


def macs_of(items: list[CostItem]) -> int:
    """The multiply-accumulates among already computed items."""
    return sum(item.value for item in items if item.name in MAC_ITEMS)


def total_macs(spec: RNNSpec) -> int:
    return macs_of(costs(spec))


def fused_kernel_note(spec: RNNSpec) -> str | None:
    """Where torch's fused kernel hides the matmuls from FlopCounterMode, say so; else None.

    FlopCounterMode counts aten.mm/addmm; mkldnn_rnn_layer, _cudnn_rnn and
    _lstm_mps have no flop formula, so a fused run reports 0. Which configs fuse
    follows torch's RNN.cpp: on CPU only nn.LSTM without proj_size goes to oneDNN
    (float32; bfloat16 / float16 when the CPU supports them, float16 only under
    no_grad), never an empty or packed input (measured: a packed LSTM counts in full); on CUDA every mode goes to cuDNN. meta runs
    the decomposed path, which FlopCounterMode counts in full: None.
    """
    if spec.is_cell:
        return None  # the cells run as addmm/mm plus elementwise ops everywhere, which FlopCounterMode counts
    if spec.batch == 0:
        return None  # empty input: neither oneDNN nor cuDNN takes it, and every MAC count is 0 anyway
    checked = tr("the MAC figures come from the formulas, checked against FlopCounterMode on the decomposed path")
    device = spec.device.split(":")[0]
    if device == "cpu" and spec.mode == "lstm" and not spec.proj_size and not spec.packed and spec.dtype != "float64":
        when = {"float32": "", "bfloat16": tr(" on CPUs with bfloat16 support"),
                "float16": tr(" under torch.no_grad on CPUs with float16 support")}[spec.dtype]
        return tr("On CPU{when} torch runs nn.LSTM through oneDNN (mkldnn_rnn_layer) unless torch.backends.mkldnn "
                  "is disabled, and FlopCounterMode sees no matmul there and reports 0; {checked}.", when=when, checked=checked)
    if device == "cuda":
        return tr("On CUDA torch runs nn.{module} through cuDNN (_cudnn_rnn) when cuDNN is enabled (and, for "
                  "bfloat16, supports it), and FlopCounterMode sees no matmul there and reports 0; {checked}.",
                  module=spec.module_name, checked=checked)
    if device == "mps" and spec.mode == "lstm":
        return tr("On MPS torch runs nn.LSTM as one _lstm_mps kernel, and FlopCounterMode reports 0 for it; {checked}.",
                  checked=checked)
    return None


def cost_dict(spec: RNNSpec) -> dict:
    """JSON-ready: {"macs", "items", "fused_kernel_note"}."""
    items = costs(spec)
    return {"macs": macs_of(items), "items": [{"key": item.key, **asdict(item)} for item in items],
            "fused_kernel_note": fused_kernel_note(spec)}


def parameter_costs(spec: RNNSpec, parameter: theory.ParameterInfo) -> tuple[int, int]:
    """(MACs, adds) one parameter takes part in per forward: the items above, split by parameter.

    weight_ih_lK: its layer's input projections; weight_hh_lK: its recurrences;
    weight_hr_lK: its projection; each bias: one add per gate row and step. The
    MACs of all parameters sum to total_macs, the adds to the bias adds.
    """
    steps = _rows(spec)[2]  # per direction: each parameter belongs to one
    rows_out, width = parameter.shape[0], parameter.shape[-1]
    if parameter.kind.startswith("weight"):
        return steps * rows_out * width, 0
    return 0, steps * rows_out
