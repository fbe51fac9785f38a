"""The common mistakes of a hand-written forward pass, as data: one record each.

A record says what the mistake is (name, title), what it means, how to spot it,
the one-line fix, and how rnnshape recognises it: `variants`, each a predictor
from wrong.py whose numbers, where they match the learner's, name the mistake;
or `raised`, which reads an exception the learner's code raised; or a probe
(evidence "probe": rnnshape reruns the function itself, against.py). Adding a
mistake is adding a record: diagnose.py reads the table and nothing else.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable

from rnnshape.language import fill, tr
from rnnshape.learner import wrong
from rnnshape.spec import GATES


@dataclass(frozen=True)
class Variant:
    """One way the mistake can be made: `detail` says which; `run` or `pick` predicts its numbers."""

    detail: str
    run: wrong.Run | None = None
    pick: wrong.Pick | None = None


# What an exception tells, given the case and the exception's type and message: a detail, or None.
Raised = Callable[[wrong.Case, str, str], "str | None"]


@dataclass(frozen=True)
class Mistake:
    name: str
    title: str
    means: str
    spot: str
    fix: str
    evidence: str = "numbers"  # "numbers" (variants), "probe" (the function rerun), "exception" (raised only)
    variants: tuple[Variant, ...] = ()
    raised: Raised | None = None


# --- what exceptions tell ---------------------------------------------------------

_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_SIZES = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)")
_KEY = re.compile(r"^'?((?:weight|bias)_(?:ih|hh|hr)\w*)'?$")

# Every sentence the exception readers say, in one place (for translation).
MESSAGES = {
    "x_at_w": tr("x @ W with W {shape}: a weight is stored (outputs, inputs), so it needs W.T"),
    "w_at_x": tr("W @ x with W {shape} and x's rows as samples: write x @ W.T"),
    "sizes": tr("sizes {a} and {b} met where one size was expected: the batch ({batch}) and the time steps ({steps}) were "
                "swapped in the loop"),
    "missing": tr("params has no {key!r}: this layer's parameters are {names}"),
    "device": tr("tensors on two devices: one was made on the CPU while the layer runs on {device}"),
    "dtype": tr("tensors of two dtypes: one was made as float32 while the layer runs in {dtype}"),
}


def _weight_shapes(case: wrong.Case) -> set[tuple[int, ...]]:
    return {tuple(p.shape) for p in case.params.values() if p.dim() == 2}


def _untransposed(case: wrong.Case, kind: str, message: str) -> str | None:
    match = _MATMUL.search(message)
    if not match:
        return None
    a, b = (int(match[1]), int(match[2])), (int(match[3]), int(match[4]))
    weights = _weight_shapes(case)
    if b in weights and a[1] == b[1]:
        return fill(MESSAGES["x_at_w"], shape=b)
    if a in weights and a[1] == b[1]:
        return fill(MESSAGES["w_at_x"], shape=a)
    return None


def _swapped_layout(case: wrong.Case, kind: str, message: str) -> str | None:
    spec = case.spec
    match = _SIZES.search(message)
    if not match or spec.is_cell or spec.unbatched or spec.seq_len == spec.batch_size:
        return None
    a, b = int(match[1]), int(match[2])
    if {a, b} != {spec.seq_len, spec.batch_size}:
        return None
    return fill(MESSAGES["sizes"], a=a, b=b, batch=spec.batch_size, steps=spec.seq_len)


def _missing_parameter(case: wrong.Case, kind: str, message: str) -> str | None:
    match = _KEY.match(message.strip())
    if kind != "KeyError" or not match or match[1] in case.params:
        return None
    return fill(MESSAGES["missing"], key=match[1], names=", ".join(case.params))


def _other_device_or_dtype(case: wrong.Case, kind: str, message: str) -> str | None:
    if "same device" in message:
        return fill(MESSAGES["device"], device=case.spec.device)
    if "same dtype" in message or "expected scalar type" in message.lower() or "expected m1 and m2" in message:
        return fill(MESSAGES["dtype"], dtype=case.spec.dtype)
    return None


# --- the variants ---------------------------------------------------------------------


def _gate_orders() -> tuple[Variant, ...]:
    """Every other order of the stacked gate blocks, LSTM's and GRU's (a predictor skips the other mode's)."""
    out = []
    for gates in (GATES["lstm"], GATES["gru"]):
        for labels in itertools.permutations(gates):
            if labels != gates:
                detail = tr("gates read as {labels} (torch stacks {gates})", labels=", ".join(labels), gates=", ".join(gates))
                out.append(Variant(detail, run=wrong.gates_read_as(labels)))
    return tuple(out)


_NONLINEARITIES = (
    Variant(tr("relu where nn.RNN applies tanh"), run=wrong.with_cell("rnn", wrong.rnn_step("relu"))),
    Variant(tr("tanh where nn.RNN applies relu"), run=wrong.with_cell("rnn", wrong.rnn_step("tanh"))),
    Variant(tr("sigmoid where nn.RNN applies tanh"), run=wrong.with_cell("rnn", wrong.rnn_step("sigmoid"))),
    Variant(tr("sigmoid on the candidate g (torch: tanh)"), run=wrong.with_cell("lstm", wrong.lstm_step(candidate="sigmoid"))),
    Variant(tr("relu on the candidate g (torch: tanh)"), run=wrong.with_cell("lstm", wrong.lstm_step(candidate="relu"))),
    Variant(tr("no tanh on c_t: h_t = o * c_t (torch: o * tanh(c_t))"), run=wrong.with_cell("lstm", wrong.lstm_step(cell_output="identity"))),
    Variant(tr("tanh on the gates i, f, o (torch: sigmoid)"), run=wrong.with_cell("lstm", wrong.lstm_step(gate="tanh"))),
    Variant(tr("sigmoid on the candidate n (torch: tanh)"), run=wrong.with_cell("gru", wrong.gru_step(candidate="sigmoid"))),
    Variant(tr("relu on the candidate n (torch: tanh)"), run=wrong.with_cell("gru", wrong.gru_step(candidate="relu"))),
    Variant(tr("tanh on the gates r, z (torch: sigmoid)"), run=wrong.with_cell("gru", wrong.gru_step(gate="tanh"))),
)


MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        "bias_missing", tr("a bias left out"),
        means=tr("each step adds two biases, b_ih beside x @ W_ih.T and b_hh beside h @ W_hh.T; one of them (or both) "
                 "never reached the sum"),
        spot=tr("every step is off by a steady amount from the very first, even where the input is near 0"),
        fix=tr("add both at every step: x @ W_ih.T + b_ih + h @ W_hh.T + b_hh"),
        variants=(
            Variant(tr("bias_ih and bias_hh are both left out"), run=wrong.scaled_bias(("bias_ih", "bias_hh"), 0)),
            Variant(tr("bias_ih is left out"), run=wrong.scaled_bias(("bias_ih",), 0)),
            Variant(tr("bias_hh is left out"), run=wrong.scaled_bias(("bias_hh",), 0)),
        ),
    ),
    Mistake(
        "bias_twice", tr("a bias added twice"),
        means=tr("a bias reached the sum twice: once in the input's product and once more in the loop, or b_ih taken "
                 "for b_hh too"),
        spot=tr("like a bias left out, a steady offset from the first step, but the other way"),
        fix=tr("add b_ih once and b_hh once per step"),
        variants=(
            Variant(tr("bias_ih and bias_hh are both added twice"), run=wrong.scaled_bias(("bias_ih", "bias_hh"), 2)),
            Variant(tr("bias_ih is added twice"), run=wrong.scaled_bias(("bias_ih",), 2)),
            Variant(tr("bias_hh is added twice"), run=wrong.scaled_bias(("bias_hh",), 2)),
        ),
    ),
    Mistake(
        "weights_not_transposed", tr("weights not transposed"),
        means=tr("torch stores W_ih as (G*H, H_in) and W_hh as (G*H, H_out), one row per output; a batch of rows x "
                 "needs x @ W.T"),
        spot=tr("where W is square the code runs and the numbers differ from the first step; elsewhere matmul raises "
                "'mat1 and mat2 shapes cannot be multiplied', naming the weight's shape"),
        fix=tr("x @ weight_ih.T + h @ weight_hh.T (or torch.nn.functional.linear(x, weight_ih, bias_ih))"),
        variants=(
            Variant(tr("weight_hh used as it is stored: h @ W_hh"), run=wrong.transposed(("weight_hh",))),
            Variant(tr("weight_ih used as it is stored: x @ W_ih"), run=wrong.transposed(("weight_ih",))),
            Variant(tr("weight_ih and weight_hh used as they are stored"), run=wrong.transposed(("weight_ih", "weight_hh"))),
        ),
        raised=_untransposed,
    ),
    Mistake(
        "gate_order", tr("gates in the wrong order"),
        means=tr("torch stacks the gates' rows of every weight and bias as i, f, g, o (LSTM) and r, z, n (GRU); "
                 "chunked in another order, each gate gets another gate's weights"),
        spot=tr("the values stay in range and follow the input, but are wrong from the first step on"),
        fix=tr("i, f, g, o = gates.chunk(4, dim=-1) for an LSTM; r, z, n = ....chunk(3, dim=-1) for a GRU"),
        variants=_gate_orders(),
    ),
    Mistake(
        "reverse_run_forwards", tr("the reverse direction run forwards"),
        means=tr("the reverse direction reads the sequence from its last step back to its first: its output at t is "
                 "the state after reading x[L-1], ..., x[t], and its h_n the state at t = 0"),
        spot=tr("the forward half of output (the first H_out features) and the forward rows of h_n match; the reverse "
                "half does not"),
        fix=tr("for the reverse direction loop t over reversed(range(L)), and store each h at output[t]"),
        variants=(Variant(tr("the reverse direction loops t = 0, 1, ..., L-1"), run=wrong.reverse_run_forwards),),
    ),
    Mistake(
        "h0_ignored", tr("h_0 ignored (started from zeros)"),
        means=tr("the loop starts from zeros instead of the h_0 (and c_0) it was given"),
        spot=tr("the first steps differ most, and the difference fades along the sequence"),
        fix=tr("start each layer and direction from its row of h_0: h = h_0[layer * D + direction] (and c = c_0[...])"),
        variants=(
            Variant(tr("h_0 and c_0 both replaced by zeros"), run=wrong.from_zeros(("h_0", "c_0"))),
            Variant(tr("h_0 replaced by zeros"), run=wrong.from_zeros(("h_0",))),
            Variant(tr("c_0 replaced by zeros"), run=wrong.from_zeros(("c_0",))),
        ),
    ),
    Mistake(
        "wrong_nonlinearity", tr("the wrong nonlinearity"),
        means=tr("nn.RNN applies tanh (relu with nonlinearity='relu'); an LSTM's and a GRU's gates go through sigmoid, "
                 "their candidate (g, n) and an LSTM's c_t through tanh"),
        spot=tr("relu for tanh: no value below 0; sigmoid for tanh: every value between 0 and 1"),
        fix=tr("torch.tanh (or torch.relu, as the layer's nonlinearity says); sigmoid for i, f, o and r, z; tanh for g, n and c_t"),
        variants=_NONLINEARITIES,
    ),
    Mistake(
        "gru_other_form", tr("a GRU as another text writes it"),
        means=tr("papers write the GRU in two ways torch does not: h = z * n + (1 - z) * h, and the reset gate applied "
                 "to h before W_hn; torch computes h = (1 - z) * n + z * h and n = tanh(x_n + r * (h @ W_hn.T + b_hn))"),
        spot=tr("the numbers are plausible and close to torch's where z is near 1/2, but differ from the first step"),
        fix=tr("h = (1 - z) * n + z * h, with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))"),
        variants=(
            Variant(tr("h = z * n + (1 - z) * h: the update gate used the other way round"),
                    run=wrong.with_cell("gru", wrong.gru_step(update_flipped=True))),
            Variant(tr("n = tanh(x_n + (r * h) @ W_hn.T + b_hn): the reset gate applied before W_hn"),
                    run=wrong.with_cell("gru", wrong.gru_step(reset_before=True))),
        ),
    ),
    Mistake(
        "h_n_wrong", tr("h_n taken from the wrong layer or step"),
        means=tr("h_n holds the last state of every layer and direction, row layer * D + direction, "
                 "(D*num_layers, N, H_out); the reverse direction's last step is t = 0, and with packed input each "
                 "sequence's last step is its own"),
        spot=tr("output matches, h_n does not (or has another shape)"),
        fix=tr("h_n = torch.stack(the final h of each layer and direction, in the order layer * D + direction)"),
        variants=(
            Variant(tr("h_n read off output at the last time index (right for the forward direction only, and not "
                       "for a sequence shorter than L)"), pick=wrong.h_n_from_step(-1)),
            Variant(tr("h_n read off output at time index 0"), pick=wrong.h_n_from_step(0)),
            Variant(tr("h_n holds the top layer's rows only"), pick=wrong.h_n_top_layer),
            Variant(tr("h_n is its last row alone, without the first dimension D*num_layers"), pick=wrong.h_n_last_row(False)),
            Variant(tr("h_n is its last row alone, h_n[-1:] (the top layer's last direction)"), pick=wrong.h_n_last_row(True)),
            Variant(tr("h_n's rows ordered direction, then layer (torch: layer, then direction)"), pick=wrong.h_n_direction_major),
        ),
    ),
    Mistake(
        "batch_first_not_handled", tr("batch_first not handled"),
        means=tr("with batch_first=True, input and output are (N, L, features) and the loop over time runs along dim "
                 "1; h_0 and h_n stay (D*num_layers, N, H_out)"),
        spot=tr("output has the right shape but other numbers, or h_n has L where N belongs; where N != L the loop "
                "raises a size mismatch"),
        fix=tr("x = x.transpose(0, 1) before the loop when batch_first, and output = output.transpose(0, 1) after it"),
        variants=(
            Variant(tr("the input read in the other layout (time and batch swapped)"), run=wrong.other_layout),
            Variant(tr("the input turned seq-first for the loop, the output never turned back"), pick=wrong.output_seq_first),
        ),
        raised=_swapped_layout,
    ),
    Mistake(
        "padding_computed", tr("padding computed as if it were data"),
        means=tr("with packed input each sequence stops at its own length: the steps after it are padding, which torch "
                 "never computes; output is 0 there and h_n is the state at the sequence's own last step"),
        spot=tr("the longest sequence matches; the shorter ones differ after their length, and in h_n"),
        fix=tr("for sequence i run only t < lengths[i] (the reverse direction from lengths[i] - 1) and leave output 0 after"),
        variants=(Variant(tr("every sequence run over all L steps"), run=wrong.padding_run),),
    ),
    Mistake(
        "input_ignored", tr("the function ignores its input argument"),
        means=tr("given two different inputs it returned the same numbers: it reads the input from somewhere else, "
                 "such as a global named input, as the notes' rnn_forward does, whose parameter is spelt intput"),
        spot=tr("rnnshape calls it a second time with another input; nothing it returns changes"),
        fix=tr("read the input only from the parameter: name it input (or x) and use that name inside"),
        evidence="probe",
    ),
    Mistake(
        "weights_ignored", tr("the function ignores the weights it is given"),
        means=tr("given other weights it returned the same numbers: it reads them from somewhere else, such as a "
                 "module or params dict made at the file's top level"),
        spot=tr("rnnshape calls it a second time with other weights; nothing it returns changes"),
        fix=tr("take the weights as parameters (params, or weight_ih_l0, ...) and use only those"),
        evidence="probe",
    ),
    Mistake(
        "missing_parameter", tr("a parameter this layer does not have"),
        means=tr("params holds this layer's own parameters only: no bias_* with bias=False, no _reverse unless "
                 "bidirectional, _l0 to _l{num_layers-1}"),
        spot=tr("a KeyError naming a parameter"),
        fix=tr("loop over the layer's own: range(num_layers), its directions, and skip the biases when bias=False"),
        evidence="exception",
        raised=_missing_parameter,
    ),
    Mistake(
        "device_or_dtype", tr("a tensor made on another device or in another dtype"),
        means=tr("a buffer made with torch.zeros(...) is float32 on the CPU, whatever the layer's device and dtype"),
        spot=tr("an error about two devices or two dtypes; or, in a float64 layer, errors near 1e-8, float32's rounding"),
        fix=tr("make buffers like the input: torch.zeros(..., dtype=input.dtype, device=input.device)"),
        variants=(
            Variant(tr("output stored in a float32 buffer"), pick=wrong.rounded_to_float32(("output",))),
            Variant(tr("everything computed in float32"), pick=wrong.rounded_to_float32(("output", "h_n", "c_n"))),
        ),
        raised=_other_device_or_dtype,
    ),
)

BY_NAME: dict[str, Mistake] = {m.name: m for m in MISTAKES}
NAMES = tuple(BY_NAME)
