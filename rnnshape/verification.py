"""verify: does torch compute what the equations say it computes?

Runs the seeded module (probe.run), runs rnnshape.reference on the module's own
weights, input and h_0/c_0, and compares output, h_n and c_n (a cell's h_1 and
c_1) with allclose's rule |module - reference| <= atol + rtol * |reference|.
Where they differ, it names the first place: the lowest layer, then direction,
then time step in the order that direction computes it -- for packed input, in
the order it computes each sequence, whose reverse direction starts at the
sequence's own last step. torch is imported only when verify() runs.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from rnnshape import probe, theory
from rnnshape import reference as reference_module
from rnnshape.errors import EnvironmentProblem, SpecError, Verdict
from rnnshape.language import fill, join, speaks, tr
from rnnshape.memory import available_bytes, refuse_if_too_big
from rnnshape.render.shown import Shown
from rnnshape.report import SCHEMA_VERSION
from rnnshape.spec import RNNSpec, spec_or_module
from rnnshape.theory import DIRECTIONS

# (atol, rtol) per dtype of the module; the reference itself is float64.
# Measured against the reference with torch 2.13 on CPU, as the smallest t with
# |module - reference| <= t + t*|reference| at every element of every layer's
# output, h_n and c_n: a hypothesis sweep of 2000 random configs per dtype (every
# mode, 1-3 layers, bidirectional, proj_size, no bias, relu, input/hidden 1-64,
# seq_len 1-30, batch 0-4), plus 3-layer bidirectional layers of hidden 128-512,
# seq_len 20-100. Worst t: float16 0.0037 (largest |error| 0.0098), bfloat16 0.0156
# (0.068; relu rnn), float32 1.0e-6 (1.1e-6). The half-precision defaults leave
# about 3x margin and still sit far below what a wrong equation costs (tests).
# Cells (1000 random per dtype, H_in and H up to 64) and packed input (300 random,
# 1-6 sequences of length 1-30, 1-3 layers) stay inside the same: worst t float16
# 0.0014, bfloat16 0.013 (relu rnn), float32 5.6e-7, float64 1.8e-15.
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float32": (1e-5, 1e-5),
    "float64": (1e-12, 1e-12),
    "float16": (1e-2, 1e-2),
    "bfloat16": (5e-2, 5e-2),
}

# The order of a report's rows: a layer's output, h_n, c_n; a cell's h_1, c_1.
TENSORS = ("output", "h_n", "c_n", "h_1", "c_1")
_LAYER_OF_PARAMETER = re.compile(r"_l(\d+)(?:_reverse)?$")


@dataclass(frozen=True)
class Comparison:
    """One (tensor, layer, direction): the largest errors and whether the tolerance held.

    For "output", layer k is that layer's output (the module's own output for the
    top layer, a module holding only layers 0..k below it; padded for packed
    input); for "h_n"/"c_n", the row layer*D + direction; for a cell's "h_1"/"c_1",
    layer 0, forward.
    """

    tensor: str
    layer: int
    direction: str
    max_abs_error: float
    max_rel_error: float  # relative to |reference|, where the reference is not 0
    ok: bool


@dataclass(frozen=True)
class Divergence:
    """Where the module first leaves the tolerance, in the order torch computes."""

    layer: int
    direction: str
    time_step: int  # index along L, whatever the layout (0 for a cell); a final state's: its last step computed
    tensor: str


# verify's `failed:` line (the CLI writes `failed: ` before it); FIRST_AT is --against's too.
FAILED_DIFFERS = tr("nn.{module} differs from its equations beyond atol={atol:g}, rtol={rtol:g}")
FIRST_AT = tr("; first at layer {layer}, {direction}, time step {time_step} ({tensor})")


@dataclass(repr=False)
class VerifyReport(Verdict, Shown):
    spec: RNNSpec
    atol: float
    rtol: float
    dtype: str
    comparisons: list[Comparison]
    first_divergence: Divergence | None
    notes: list[str] = field(default_factory=list)
    default_tolerance: bool = True  # neither atol nor rtol was given
    # verify --against: the learner's function in the reference's place (rnnshape.learner.against.Against):
    # what it was given and returned, what it raised, and the mistakes its numbers fit.
    against: Any = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons) and (self.against is None or self.against.ok)

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.comparisons), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.comparisons), default=0.0)

    def failure_line(self) -> str:
        """Why verify exits 1, for stderr after `failed: ` (a Message, said where it is written)."""
        if self.against is not None:
            return self.against.failure_line(self)
        parts = [fill(FAILED_DIFFERS, module=self.spec.module_name, atol=self.atol, rtol=self.rtol)]
        if self.first_divergence is not None:
            parts.append(fill(FIRST_AT, **vars(self.first_divergence)))
        return join("", parts)

    def headline(self) -> str:
        if self.against is not None:
            return join(": ", [theory.constructor_text(self.spec), self.against.headline(self)])
        if self.ok:
            verdict = tr("the equations give what torch gives (largest error {error:.3g})", error=self.max_abs_error)
        else:
            verdict = tr("torch and the equations differ (largest error {error:.3g})", error=self.max_abs_error)
        return join(": ", [theory.constructor_text(self.spec), verdict])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.spec.to_dict(),
            "tolerance": {"atol": self.atol, "rtol": self.rtol, "dtype": self.dtype, "default": self.default_tolerance},
            "comparisons": [asdict(c) for c in self.comparisons],
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "first_divergence": asdict(self.first_divergence) if self.first_divergence else None,
            "notes": list(self.notes),
            "ok": self.ok,
            **({} if self.against is None else self.against.to_dict()),
        }


Reference = Callable[..., "reference_module.ReferenceResult"]


@speaks
def verify(
    spec: Any = None,
    *args: Any,
    atol: float | None = None,
    rtol: float | None = None,
    reference: Reference | None = None,
    max_memory: int | None = None,
    against: Any = None,
    relative_to: str = "reference",
    **fields: Any,
) -> VerifyReport:
    """Compare the module with its equations; raise SpecError for a bad tolerance,
    EnvironmentProblem where there are no values to compare.

    `spec` is an RNNSpec (or its fields as keywords), or a live nn.RNN/nn.LSTM/
    nn.GRU or cell: then its own weights, and `args` its real inputs exactly as
    its forward takes them (without them, the dummy input `fields` describe),
    as inspect(module, *args) takes them. `reference` (default
    rnnshape.reference.forward) takes (spec, params, x, h_0, c_0); a result may
    leave a tensor out (None, or None in layer_outputs): it is then not compared.
    `against` is your own forward function (or "FILE.py:FUNCTION"), checked in
    the reference's place (rnnshape.learner.against). `relative_to`: whose
    magnitude rtol and max_rel_error are measured against, "reference" or
    "module" (torch's, where the reference is what is being checked).
    """
    if against is not None:
        if reference is not None:
            raise TypeError("give either reference= or against=: your function takes the reference's place")
        from rnnshape.learner.against import verify_against

        return verify_against(against, spec, args, atol=atol, rtol=rtol, max_memory=max_memory, **fields)
    if relative_to not in ("reference", "module"):
        raise TypeError(f"relative_to must be 'reference' or 'module' (got {relative_to!r})")
    module, spec = spec_or_module(spec, args, fields, "verify")
    # A bad tolerance is refused before anything runs; the defaults depend on the dtype that runs.
    atol, rtol = _tolerance("atol", atol, None), _tolerance("rtol", rtol, None)
    if module is None:
        _check_runnable(spec, max_memory)
        ran = probe.run(spec, max_memory=max_memory)
    else:
        from rnnshape.model.live import live_run

        ran = live_run(module, args, max_memory=max_memory, **fields)  # the user's own forward: it ran already
        spec = ran.spec
        _check_runnable(spec, max_memory)
    default_atol, default_rtol = DEFAULT_TOLERANCES[spec.dtype]
    atol_used = default_atol if atol is None else atol
    rtol_used = default_rtol if rtol is None else rtol
    torch = ran.torch
    # MPS has no float64; the reference runs on the CPU there, elsewhere beside the module.
    on = torch.device("cpu") if ran.device.type == "mps" else ran.device
    move = (lambda t: None if t is None else t.detach().to(on))  # noqa: E731
    params = {name: move(p) for name, p in ran.module.named_parameters()}
    try:
        with torch.no_grad():
            # For packed input, ran.input is the padded batch: the reference reads each sequence up to its length.
            expected = (reference or reference_module.forward)(spec, params, move(ran.input), move(ran.h_0), move(ran.c_0))
            # Lower layers only where the reference gives them (a learner's function gives the top one alone).
            lower_wanted = any(layer is not None for layer in expected.layer_outputs[:-1])
            with probe.RUN_LOCK:  # torch's lower-layer runs silence warnings: process-wide, so runs take turns
                lower = _lower_layer_outputs(ran) if lower_wanted else [None] * (spec.num_layers - 1)
                observed_layers = [] if spec.is_cell else [*lower, ran.output]
    except RuntimeError as exc:
        # Out of memory is the machine's limit (exit 3), not a traceback; anything else is a bug to see.
        if isinstance(exc, getattr(torch, "OutOfMemoryError", ())) or "can't allocate memory" in str(exc):
            raise probe.environment_problem(torch, spec, exc) from None
        raise

    def compare(a: Any, b: Any) -> tuple[Any, Any, Any]:
        a = move(a).to(b.dtype)
        error = (a - b).abs()
        truth = (a if relative_to == "module" else b).abs()
        # not (error <= tolerance): a NaN counts as broken, as in allclose.
        broken = ~(error <= atol_used + rtol_used * truth)
        relative = torch.where(truth != 0, error / truth, torch.zeros_like(error))
        return error, relative, broken

    D, H_out = spec.num_directions, spec.h_out
    lengths = _lengths(spec)
    comparisons: list[Comparison] = []
    candidates: list[tuple[int, int, int, int, Divergence]] = []  # (layer, direction, order in time, time step, where)
    for k, observed in enumerate(observed_layers):
        if expected.layer_outputs[k] is None:
            continue  # the reference left this layer's output out
        error, relative, broken = compare(_seq_first(spec, observed), expected.layer_outputs[k])
        for d, direction in enumerate(DIRECTIONS[:D]):
            half = slice(d * H_out, (d + 1) * H_out)
            comparisons.append(_row("output", k, direction, error[..., half], relative[..., half], broken[..., half]))
            # (t, i): time step t of sequence i broke somewhere in its features
            hits = broken[..., half].any(-1).nonzero().tolist()
            if hits:
                order, t = min((_step_order(t, lengths[i], direction), t) for t, i in hits)
                candidates.append((k, d, order, t, Divergence(k, direction, t, "output")))

    for name, observed, wanted in _states(spec, ran, expected):
        if wanted is None:
            continue  # left out by the reference (a learner's function that returns output alone)
        error, relative, broken = compare(_state_rows(spec, observed), _state_rows(spec, wanted))
        for k in range(spec.num_layers):
            for d, direction in enumerate(DIRECTIONS[:D]):
                row = k * D + d
                comparisons.append(_row(name, k, direction, error[row], relative[row], broken[row]))
                sequences = [i for i, b in enumerate(broken[row].any(-1).tolist()) if b]
                if sequences:
                    # A final state is the last step its direction computes for that sequence:
                    # after all its output steps; the shortest broken sequence ends first.
                    n = min(lengths[i] for i in sequences)
                    last = 0 if direction == "reverse" else n - 1
                    candidates.append((k, d, n, last, Divergence(k, direction, last, name)))

    comparisons.sort(key=lambda c: TENSORS.index(c.tensor))  # stable: output rows, then h_n, then c_n
    # Ties (same layer, direction and order) go to the earlier step, then to output over h_n over c_n.
    first = min(candidates, key=lambda c: c[:4])[4] if candidates else None
    notes = _notes(spec, ran, lower_compared=lower_wanted, own_reference=reference is None)
    return VerifyReport(spec, atol_used, rtol_used, spec.dtype, comparisons, first, notes, atol is None and rtol is None)


def _check_runnable(spec: RNNSpec, max_memory: int | None) -> None:
    probe.check_size(spec)  # what torch cannot hold is a bad value (exit 2) before it is a lack of memory (3)
    if spec.device == "meta":
        raise EnvironmentProblem(tr("--device meta: values do not exist there, so there is nothing to verify; use --device cpu"))
    _check_memory(spec, max_memory)


def _lengths(spec: RNNSpec) -> list[int]:
    """How many steps each sequence of the batch runs: its own length when packed, else all of them."""
    if spec.packed:
        return list(spec.lengths or ())
    return [spec.steps] * spec.batch


def _step_order(t: int, length: int, direction: str) -> int:
    """When a direction computes step t of a sequence of this length: 0 first.

    The reverse direction starts at the sequence's own last step, length-1. Steps
    at or after the length are padding, which torch never computes: it writes
    zeros there, after that sequence's final state (whose order is length).
    """
    if t >= length:
        return t + 1
    return length - 1 - t if direction == "reverse" else t


def _states(spec: RNNSpec, ran: probe.Run, expected: Any) -> list[tuple[str, Any, Any]]:
    """(name, torch's, the reference's) for each final state: h_n (c_n), or a cell's h_1 (c_1)."""
    h, c = ("h_1", "c_1") if spec.is_cell else ("h_n", "c_n")
    return [(h, ran.h_n, expected.h_n)] + ([(c, ran.c_n, expected.c_n)] if spec.lstm else [])


def verify_bytes(spec: RNNSpec) -> int:
    """An upper estimate of the memory the whole of verify takes: the run, the float64
    reference, torch's lower-layer modules and the comparison (verify_model), plus the
    fixed parts, times theory.MEMORY_MARGIN.
    """
    fixed = theory.RUN_FIXED_BYTES + theory.VERIFY_FIXED_BYTES
    return theory.with_margin(fixed + verify_model(spec))


# Bytes per element of one layer's output that compare() holds: torch's output cast to
# float64 (8), error (8), relative (8), broken (1); while computing them b.abs(), the
# quotient and zeros_like (24) and a mask (1); and the previous layer's error, relative
# and broken until the new ones replace them (17). 64 measured (a 2-layer bidirectional GRU).
_COMPARE_BYTES = 67


def verify_model(spec: RNNSpec) -> int:
    """The bytes verify holds at its peak, without the fixed parts or the margin.

    What stays: the run's (theory.run_model), the reference's layer outputs and final
    states in float64, torch's lower-layer outputs. Transients, summed as
    theory.run_model sums them: the run's; the reference's (reference.py: the input
    and states cast to float64, two layer-directions' parameters in float64 -- the
    next is cast before the last is let go -- and per layer and direction the input
    projection x @ W_ih.T, then + b_ih beside it (2*G*H a row), each step's h and
    their stack; packed input keeps every sequence's own layer outputs until they are
    padded); the lower-layer modules' (their parameters and forward); compare()'s.
    """
    run = theory.run_model(spec)
    s, f = theory.DTYPE_BYTES[spec.dtype], 8
    G, H, H_out, D = spec.gate_multiple, spec.hidden_size, spec.h_out, spec.num_directions
    N, layers = spec.batch, spec.num_layers
    sizes = {t.name: math.prod(t.shape) for t in theory.tensors(spec)}
    x64 = 0 if spec.dtype == "float64" else sizes["input"] * f
    states64 = (sizes["h_0"] + sizes.get("c_0", 0)) * f
    final64 = sum(sizes.get(name, 0) for name in ("h_n", "c_n", "h_1", "c_1")) * f
    # One layer-direction's parameters, the widest (the first layer's input, or D*H_out above it).
    widest = max(spec.input_size, D * H_out if layers > 1 else 0)
    weights64 = 2 * f * (G * H * (widest + H_out + 2) + spec.proj_size * H)
    step = N * (3 * G * H + 6 * H) * f
    if spec.is_cell:
        reference = x64 + states64 + weights64 + step
        return run.peak + final64 + reference + _COMPARE_BYTES * sizes["h_1"]

    rows = spec.steps * spec.batch  # the reference's outputs are padded: (L, N, D*H_out)
    layer_output = rows * D * H_out
    # One layer of the reference beyond its output (the cat, kept): the projection with its
    # bias added (2*G*H), the steps' h of the direction before, its stack; bidirectional,
    # the reverse projection made while the forward one is alive (3*G*H).
    per_row = max(2 * G * H + H_out, G * H + 2 * H_out) if D == 1 else max(3 * G * H + 2 * H_out, G * H + 4 * H_out)
    if spec.packed:
        lengths = spec.lengths or ()
        alone = sum(lengths) * layers * D * H_out * f  # every sequence's own layer outputs, until padded
        reference = x64 + states64 + weights64 + step + alone + max(lengths, default=0) * per_row * f
    else:
        reference = x64 + states64 + weights64 + step + rows * per_row * f
    kept = run.kept + layers * layer_output * f + final64 + (layers - 1) * layer_output * s

    lower = 0
    if layers > 1:
        lower_spec = theory.with_layers(spec, layers - 1)
        # pad_packed_sequence's padded output, and index_select's copy in the batch's order
        padding = (2 * layer_output + sum(spec.lengths or ()) * D * H_out) * s if spec.packed else 0
        lower = theory.total_parameters(lower_spec) * s + theory.forward_transient(lower_spec) + padding
    compare = _COMPARE_BYTES * layer_output
    return kept + run.transient + reference + lower + compare


def _check_memory(spec: RNNSpec, max_memory: int | None) -> None:
    """Refuse, before anything is allocated, a verify the machine cannot hold: an OOM kill has no message.

    The machine's memory counts only where the reference runs in it (cpu; mps,
    whose float64 is missing, runs it on the cpu); on CUDA probe.run checks the
    module's share. --max-memory bounds the whole of it everywhere.
    """
    in_host = spec.device.startswith(("cpu", "mps"))
    refuse_if_too_big(
        verify_bytes(spec),
        device=spec.device,
        available=available_bytes() if in_host else None,
        max_memory=max_memory,
        what=tr("verify (the reference runs in float64)"),
        hint=tr("use a smaller --seq-len or --batch-size"),
    )


def _tolerance(name: str, value: Any, default: float | None) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(name, tr("must be a number >= 0 (got {value!r})", value=value))
    if not (math.isfinite(value) and value >= 0):
        raise SpecError(name, tr("must be a number >= 0 (got {value})", value=value))
    return float(value)


def _row(tensor: str, layer: int, direction: str, error: Any, relative: Any, broken: Any) -> Comparison:
    empty = error.numel() == 0  # an empty batch: nothing differs

    def largest(values: Any) -> float:
        # A NaN or inf (a learner's function can return them) is not JSON: it counts as broken, and the
        # largest error is taken over the finite ones.
        return float(values.where(values.isfinite(), values.new_zeros(())).max().item())

    return Comparison(
        tensor,
        layer,
        direction,
        0.0 if empty else largest(error),
        0.0 if empty else largest(relative),
        not bool(broken.any().item()),
    )


def _seq_first(spec: RNNSpec, output: Any) -> Any:
    """output as (L, N, D*H_out), the layout of reference.layer_outputs."""
    if spec.unbatched:
        return output.unsqueeze(1)
    return output.transpose(0, 1) if spec.batch_first else output


def _state_rows(spec: RNNSpec, state: Any) -> Any:
    """A final state as (D*num_layers, N, size): a cell's h_1 (N, H) is the one row of layer 0, forward."""
    if spec.is_cell:
        state = state.unsqueeze(0)
    return state.unsqueeze(1) if spec.unbatched else state


def _lower_layer_outputs(ran: probe.Run) -> list[Any]:
    """torch's own output of each layer below the top: layer k's is the output of a
    module built with num_layers=k+1 that holds copies of the first k+1 layers' weights.

    nn.RNN returns only its top layer's output, and a lower layer is where a wrong
    equation first shows; above it the layers only pass the difference on. Packed
    input is fed packed, as the whole module was, and each output padded as
    probe pads the top layer's.
    """
    torch, spec = ran.torch, ran.spec
    state = ran.module.state_dict()
    rows_per_layer = spec.num_directions
    outputs = []
    for k in range(spec.num_layers - 1):
        kwargs = {**probe.constructor_kwargs(spec), "num_layers": k + 1}
        with warnings.catch_warnings():
            # dropout > 0 with one layer warns; the run is in eval mode, where it never acts.
            warnings.simplefilter("ignore")
            # Built on meta then emptied: no initial draw, so no random state is consumed.
            module = getattr(torch.nn, spec.module_name)(**kwargs, device="meta", dtype=getattr(torch, spec.dtype))
            probe.give_storage(torch, module, ran.device)
        # Only the recurrent parameters, layers 0..k (a subclass may hold more of its own).
        kept = {name: t for name, t in state.items() if (m := _LAYER_OF_PARAMETER.search(name)) and int(m.group(1)) <= k}
        module.load_state_dict(kept, strict=True)
        module.eval()
        rows = slice(0, (k + 1) * rows_per_layer)
        state_0 = None if ran.h_0 is None else (ran.h_0[rows], ran.c_0[rows]) if spec.lstm else ran.h_0[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings were already caught by probe.run
            output = module(ran.module_input, state_0)[0]
        if spec.packed:
            output = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=spec.batch_first, total_length=spec.seq_len)[0]
        outputs.append(output)
    return outputs


def _notes(spec: RNNSpec, ran: probe.Run, *, lower_compared: bool = True, own_reference: bool = True) -> list[str]:
    """`lower_compared`: torch's lower layers were run to be compared; `own_reference`: rnnshape's reference ran
    (not a hook's, such as a learner's function, whose notes are its own)."""
    notes = probe.notes(spec, ran.device, ran.warnings)
    if spec.num_layers > 1 and lower_compared:
        notes.append(tr("layers below the top are compared through torch modules holding only layers 0..k of these weights"))
    if spec.packed and own_reference:
        notes.append(tr("packed input: the reference runs each sequence alone, up to its own length (the reverse direction "
                        "from its own last step); the steps after it must be 0 in torch's padded output too"))
    if spec.batch_size == 0 and not spec.unbatched:
        notes.append(tr("--batch-size 0: the batch is empty, so there is nothing to compare; every error is 0"))
    return notes
