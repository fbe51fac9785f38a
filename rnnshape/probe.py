"""Ask torch: build the layer, run the dummy input, record what it produced.

The only module that imports torch, and only inside functions, so that
`--help`, `--version` and every refused flag never pay for the import.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from rnnshape import cost, meta_kernels, theory
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import tr
from rnnshape.memory import THIS_RUN, available_bytes, format_bytes, refuse_if_too_big
from rnnshape.spec import RNNSpec


@dataclass(frozen=True)
class ObservedParameter:
    name: str
    shape: tuple[int, ...]
    min: float | None  # None where no values exist (meta device)
    max: float | None
    within_bound: bool | None  # compared in the parameter's own dtype
    # Weights read from a checkpoint: their mean and std (torch's default, unbiased), and
    # how many values are NaN or inf (left out of every statistic). None for drawn weights.
    mean: float | None = None
    std: float | None = None
    non_finite: int | None = None


@dataclass
class Observation:
    module_repr: str
    torch_version: str | None
    device: str
    tensors: dict[str, tuple[int, ...]]
    parameters: list[ObservedParameter]
    relations: dict[str, bool | None]  # relation name -> held? (None: no values to compare)
    notes: list[str] = field(default_factory=list)
    ran: bool = True  # False: nothing was run (--no-run); every field above is the formulas' word
    # Packed input: lengths, batch_sizes, sorted_indices as the PackedSequence holds them.
    packing: dict[str, Any] | None = None
    # Tensors (or packing entries) torch could not produce here, and why (meta has no values to
    # pad), or that a live call did not give (h_0 left out: NOT_GIVEN).
    unavailable: dict[str, str] = field(default_factory=dict)
    # Where the weights came from: None when drawn from the seeded init, else the checkpoint
    # file. Trained weights may leave the init bound, so that is then a fact, not a check.
    weights_from: str | None = None


def unobserved(spec: RNNSpec) -> Observation:
    """What --no-run reports: theory's shapes, no values, no torch.

    Shaped like a real Observation so that every format lays it out the same
    way; `ran=False` makes Report skip every check and say so.
    """
    return Observation(
        module_repr=theory.constructor_text(spec),
        torch_version=None,
        device=spec.device,
        tensors={t.name: t.shape for t in theory.tensors(spec)},
        parameters=[ObservedParameter(p.name, p.shape, None, None, None) for p in theory.parameters(spec)],
        relations={r.name: None for r in theory.relations(spec)},
        ran=False,
        packing=theory.packing(spec) if spec.packed else None,
    )


# Set by the console script (console.main): a process that answers once and exits may put
# what torch's import made out of the collector's reach for good (gc.freeze). A program
# using the Python API keeps its own collector as it was.
FREEZE_AFTER_IMPORT = False


def import_torch() -> Any:
    fresh = "torch" not in sys.modules
    try:
        with warnings.catch_warnings(), _collector_paused(fresh):
            # A CPU wheel without NumPy warns on import; rnnshape never needs NumPy.
            warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
            import torch
    except ImportError as exc:
        raise EnvironmentProblem(tr("torch is not installed ({error}); install it with: pip install 'torch>=2.2'",
                                    error=str(exc))) from None
    if fresh and FREEZE_AFTER_IMPORT:
        gc.freeze()
    return torch


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """The cyclic collector off while torch imports.

    torch's import allocates some million objects, and the collector walks them in
    every pass it triggers (about 365, 260-330 ms of a 1.5 s import, measured); what
    the import makes is module state, not garbage, so none of those passes frees
    anything worth it. Reference counting still frees everything as usual.
    """
    enabled = pause and gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Run:
    """A built module, the dummy inputs it was fed, and what it returned: the raw torch objects."""

    torch: Any
    spec: RNNSpec
    device: Any
    module: Any
    # input, h_0 (c_0), output, h_n (c_n) -- or a cell's h_1 (c_1), or packed input's
    # packed_input, packed_output, padded_output: the names theory.tensors uses.
    tensors: dict[str, Any]
    warnings: list[warnings.WarningMessage]
    packed_input: Any = None  # the PackedSequence fed to the module (packed input only)
    packed_output: Any = None  # the PackedSequence it returned

    @property
    def input(self) -> Any:
        return self.tensors["input"]

    @property
    def h_0(self) -> Any:
        """None where a live call gave no h_0 (torch then starts from zeros)."""
        return self.tensors.get("h_0")

    @property
    def c_0(self) -> Any:
        return self.tensors.get("c_0")

    @property
    def output(self) -> Any:
        """The top layer's output, padded where the input was packed (None for a cell)."""
        return self.tensors.get("padded_output", self.tensors.get("output"))

    @property
    def h_n(self) -> Any:
        return self.tensors.get("h_n", self.tensors.get("h_1"))

    @property
    def c_n(self) -> Any:
        return self.tensors.get("c_n", self.tensors.get("c_1"))

    @property
    def state_0(self) -> Any:
        """h_0, or (h_0, c_0): what the module takes beside its input (None: zeros)."""
        if self.h_0 is None:
            return None
        return (self.h_0, self.c_0) if self.spec.lstm else self.h_0

    @property
    def module_input(self) -> Any:
        return self.input if self.packed_input is None else self.packed_input


def run(spec: RNNSpec, *, max_memory: int | None = None, weights: dict[str, Any] | None = None,
        module: Any = None, inputs: dict[str, Any] | None = None) -> Run:
    """Run the layer `spec` describes once, in eval mode and without grad, and record what it returned.

    By default the module is built on spec.device in spec.dtype, seeded, and fed
    the seeded dummy input. `weights` (a state_dict, e.g. from a checkpoint)
    replaces the drawn init; it is loaded with strict=True, so every key and
    shape must be the module's own. `module` is a live module to run instead
    (its own weights; nothing is drawn), left as it was found: its training flag
    is put back, and the caller's random state too. `inputs` are real tensors
    to feed it instead of the dummy ones, named as theory.tensors names them
    (input, h_0, c_0; packed_input for a PackedSequence): an exception torch
    raises on them is the caller's input, and propagates unchanged.
    Refuses (EnvironmentProblem) a run that would need more than the device has
    free or than `max_memory` bytes, before allocating anything.
    """
    torch, device = checked_device(spec, theory.run_bytes(spec), max_memory=max_memory)
    dtype = getattr(torch, spec.dtype)

    with RUN_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                if module is None:
                    module = _build(torch, spec, device, dtype, weights)
                with in_eval_mode(module):
                    # eval(): dropout acts only in training, and a deterministic run keeps
                    # the output/h_n relations exact.
                    named = dict(inputs) if inputs is not None else _dummy_inputs(torch, spec, device, dtype)
                    ran = prepared(torch, spec, device, module, named)
                    result = _forward(torch, spec, module, ran.module_input, ran.state_0, device)
        except RuntimeError as exc:
            if inputs is not None and not _out_of_memory(torch, exc):
                raise  # the caller's tensors: theirs to explain (rnnshape.model.diagnose)
            raise environment_problem(torch, spec, exc) from None
    record(ran, result)
    ran.warnings = list(caught)
    return ran


def checked_device(spec: RNNSpec, needed: int, *, max_memory: int | None, what: str = THIS_RUN) -> tuple[Any, Any]:
    """torch and spec's device, once a run of `needed` bytes is known to fit there (else EnvironmentProblem).

    Shared by run() and the training run (training.py), each with its own estimate.
    """
    check_size(spec)
    if not spec.device.startswith(("cuda", "meta")):
        # cpu and mps (unified memory): decided from the OS, before torch's import.
        refuse_if_too_big(needed, device=spec.device, available=available_bytes(), max_memory=max_memory, what=what)
    torch = import_torch()
    device = _check_device(torch, spec.device)
    if device.type == "cuda":
        refuse_if_too_big(needed, device=spec.device, available=_cuda_free_bytes(torch, device), max_memory=max_memory, what=what)
    return torch, device


# What rnnshape changes in the process while it runs a layer, all of it put back afterwards: the
# warnings filters (catch_warnings), torch's thread count for small runs, the meta device's kernels.
# None of it is per-thread, so runs take turns: the Python API is safe to call from threads, and each
# call's answer is the one it gives alone. (The weights come from a generator of the run's own,
# never from torch's global one, so nothing another thread draws can change them.)
RUN_LOCK = threading.RLock()


def build(spec: RNNSpec) -> Any:
    """The module spec describes, on its device, drawn from spec.seed as run() draws it."""
    check_size(spec)
    torch = import_torch()
    device = _check_device(torch, spec.device)
    with RUN_LOCK, torch.no_grad():
        return _build(torch, spec, device, getattr(torch, spec.dtype), None)


def _build(torch: Any, spec: RNNSpec, device: Any, dtype: Any, weights: dict[str, Any] | None) -> Any:
    """Built without torch's own init (uninitialized), then drawn here.

    The draw is torch's reset_parameters exactly: U(-1/sqrt(H), 1/sqrt(H)) for every
    parameter in named_parameters() order, from a CPU generator seeded with
    spec.seed, which gives the numbers torch.manual_seed(spec.seed) would give on the
    CPU; on another device the same numbers, copied there.
    """
    module = uninitialized(getattr(torch.nn, spec.module_name), **constructor_kwargs(spec), device=device, dtype=dtype)
    if device.type != "meta":
        generator = torch.Generator().manual_seed(spec.seed)
        bound = theory.init_bound(spec)
        for p in module.parameters():
            if p.device.type == "cpu":
                p.uniform_(-bound, bound, generator=generator)
            else:
                p.copy_(torch.empty(p.shape, dtype=p.dtype).uniform_(-bound, bound, generator=generator))
    if weights is not None:
        load_weights(module, weights)
    return module


_NOT_RESET: dict[type, type] = {}


def uninitialized(module_class: type, **kwargs: Any) -> Any:
    """module_class(**kwargs) with its parameters allocated but never drawn.

    Every recurrent module's __init__ ends with reset_parameters(), which draws from
    torch's global generator (another thread's numbers, the caller's random state)
    and, on meta, runs Python decompositions of uniform_ (2 ms a module). It is built
    as a subclass whose reset_parameters does nothing, then made the class itself
    again: the same object torch's constructor makes, undrawn.
    """
    skipping = _NOT_RESET.get(module_class)
    if skipping is None:
        skipping = type(module_class.__name__, (module_class,), {"reset_parameters": lambda self: None})
        _NOT_RESET[module_class] = skipping
    module = skipping(**kwargs)
    module.__class__ = module_class
    return module


def give_storage(torch: Any, module: Any, device: Any) -> None:
    """Module.to_empty by hand: each parameter a fresh empty tensor on `device`.

    Not to_empty itself: its empty_like of a meta tensor goes through torch._refs,
    which imports sympy (0.5 s and 35 MiB, measured, for every process). The
    recurrent modules hold their parameters themselves (no submodules), and RNNBase
    keeps a list of them (_flat_weights) that setattr updates and _init_flat_weights
    rebuilds, as its own _apply does (and flattens them for cuDNN).
    """
    for name, p in list(module.named_parameters(recurse=False)):
        setattr(module, name, torch.nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device=device),
                                                 requires_grad=p.requires_grad))
    if hasattr(module, "_init_flat_weights"):
        module._init_flat_weights()


def prepared(torch: Any, spec: RNNSpec, device: Any, module: Any, named: dict[str, Any]) -> Run:
    """A Run about to be fed `named` (input, h_0, c_0; packed_input a PackedSequence, else packed here from lengths)."""
    packed = named.pop("packed_input", None)
    if packed is None and spec.packed:
        packed = _pack(torch, spec, named["input"])
    if packed is not None:
        named["packed_input"] = packed.data
    return Run(torch, spec, device, module, named, [], packed_input=packed)


@contextlib.contextmanager
def in_eval_mode(module: Any) -> Iterator[None]:
    """The module in eval mode for the run, then in the mode it was in (a live module is the caller's)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def record(ran: Run, result: Any) -> None:
    """Name what the module returned, as theory.tensors names it, into ran.tensors.

    A cell returns only its next state, named h_1 (c_1); a layer returns
    (output, h_n (c_n)), its output a PackedSequence for packed input, which is
    padded here as the user would pad it.
    """
    spec, named, torch = ran.spec, ran.tensors, ran.torch
    if spec.is_cell:
        names, state_n = ("h_1", "c_1"), result
    else:
        names, (output, state_n) = ("h_n", "c_n"), result
        if ran.packed_input is not None:
            ran.packed_output = output
            named["packed_output"] = output.data
            if output.data.device.type != "meta":  # padding copies values, and meta tensors have none
                named["padded_output"] = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=spec.batch_first)[0]
        else:
            named["output"] = output
    named.update(zip(names, state_n if spec.lstm else (state_n,)))


def load_weights(module: Any, weights: dict[str, Any]) -> None:
    """Saved tensors into the built module, strictly: every key and shape must be its own.

    A mismatch is the file's (exit 2), not the machine's: it must not read as
    "torch cannot run this" (the RuntimeError handler around the run).
    """
    try:
        module.load_state_dict(weights, strict=True)  # copies, casting to the module's dtype and device
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise SpecError("file", tr("the saved tensors do not load into {module}: {detail}",
                                   module=module.__class__.__name__, detail=detail)) from None


def _pack(torch: Any, spec: RNNSpec, x: Any) -> Any:
    # lengths live on the CPU whatever the device: pack_padded_sequence requires it.
    lengths = torch.tensor(spec.lengths, dtype=torch.int64)
    return torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=spec.batch_first, enforce_sorted=spec.enforce_sorted)


def observe(spec: RNNSpec, *, max_memory: int | None = None, weights: dict[str, Any] | None = None,
            weights_from: str | None = None) -> Observation:
    """Run the spec once and record shapes, parameter statistics and the output/h_n relations.

    With `weights` (from the checkpoint `weights_from`), the statistics are the
    saved values' own, in the file's dtype, whatever dtype and device the run used.
    """
    return observation_of(run(spec, max_memory=max_memory, weights=weights), weights=weights, weights_from=weights_from)


# The states a call may leave out: torch then starts from zeros.
_OPTIONAL_INPUTS = ("h_0", "c_0")
NOT_GIVEN = tr("not given: torch started from zeros")


def observation_of(ran: Run, *, weights: dict[str, Any] | None = None, weights_from: str | None = None) -> Observation:
    """What one run produced: shapes, parameter statistics, the output/h_n relations on its real tensors.

    `weights` are the values to describe (a checkpoint's, or a live module's own,
    `weights_from` saying which); without them the parameters are the seeded draw,
    checked against the init bound.
    """
    spec = ran.spec
    has_values = ran.device.type != "meta"
    if has_values:
        relations = _check_relations(ran.torch, spec, ran.output, ran.h_n)
    else:
        relations = {rel.name: None for rel in theory.relations(spec)}
    optional = _OPTIONAL_INPUTS if spec.lstm else _OPTIONAL_INPUTS[:1]
    unavailable = {name: NOT_GIVEN for name in optional if name not in ran.tensors}
    if spec.packed and not has_values:
        unavailable["padded_output"] = tr("pad_packed_sequence copies values, and meta tensors have none")
    return Observation(
        module_repr=repr(ran.module),
        torch_version=ran.torch.__version__,
        device=str(next(ran.module.parameters()).device),
        tensors={name: tuple(t.shape) for name, t in ran.tensors.items()},
        parameters=[
            saved_statistics(ran.torch, name, weights[name], spec) if weights is not None
            else _observe_parameter(ran.torch, name, p, spec, has_values)
            for name, p in ran.module.named_parameters()
        ],
        relations=relations,
        notes=notes(spec, ran.device, ran.warnings),
        packing=_observe_packing(ran, unavailable) if spec.packed else None,
        unavailable=unavailable,
        weights_from=weights_from,
    )


def _observe_packing(ran: Run, unavailable: dict[str, str]) -> dict[str, Any]:
    packed = ran.packed_input
    sorted_indices = packed.sorted_indices
    if sorted_indices is not None and sorted_indices.device.type == "meta":
        # torch moves sorted_indices to the input's device; on meta it has no values to read.
        unavailable["sorted_indices"] = tr("torch keeps sorted_indices on the input's device, and meta tensors have no values")
        sorted_indices = None
    return {
        "lengths": list(ran.spec.lengths or ()),
        "batch_sizes": packed.batch_sizes.tolist(),  # always on the CPU
        "sorted_indices": None if sorted_indices is None else sorted_indices.tolist(),
    }


# Below this many multiply-accumulates a forward is over in a millisecond on one
# thread, and a second thread only adds OpenMP's synchronisation: on a busy
# 2-core machine a 5-layer LSTM's dummy run took 470 ms on two threads, 0.3 ms on one.
_ONE_THREAD_MACS = 10**8


def _forward(torch: Any, spec: RNNSpec, module: Any, x: Any, state_0: Any, device: Any) -> Any:
    if device.type == "cpu":
        if cost.total_macs(spec) >= _ONE_THREAD_MACS:
            return module(x, state_0)
        with one_thread(torch):
            return module(x, state_0)
    if device.type != "meta":
        return module(x, state_0)
    try:
        with meta_kernels.native_meta_kernels(torch):
            return module(x, state_0)
    except NotImplementedError:
        # An op with no C++ meta function: let torch's Python meta kernels answer, slowly.
        return module(x, state_0)


def constructor_kwargs(spec: RNNSpec) -> dict[str, Any]:
    # Keyword arguments only: a positional 8th argument to nn.GRU (9th to nn.RNN)
    # would silently become proj_size.
    if spec.is_cell:
        kwargs: dict[str, Any] = dict(input_size=spec.input_size, hidden_size=spec.hidden_size, bias=spec.bias)
        if spec.mode == "rnncell":
            kwargs["nonlinearity"] = spec.nonlinearity
        return kwargs
    kwargs = dict(
        input_size=spec.input_size,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
        bias=spec.bias,
        batch_first=spec.batch_first,
        dropout=spec.dropout,
        bidirectional=spec.bidirectional,
    )
    if spec.mode == "rnn":
        kwargs["nonlinearity"] = spec.nonlinearity
    if spec.mode == "lstm":
        kwargs["proj_size"] = spec.proj_size
    return kwargs


def _dummy_inputs(torch: Any, spec: RNNSpec, device: Any, dtype: Any) -> dict[str, Any]:
    """input and an explicit h_0 (and c_0), shaped as theory predicts, seeded.

    Packed input: the padded batch, zero after each sequence's length (as a
    real padded batch is; pack_padded_sequence never reads those steps).
    """
    predicted = {t.name: t.shape for t in theory.tensors(spec)}

    def draw(shape: tuple[int, ...]) -> Any:
        if device.type == "meta":
            return torch.empty(shape, device=device, dtype=dtype)
        # Drawn on the CPU from spec.seed, so every device sees the same numbers.
        return torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)

    generator = torch.Generator().manual_seed(spec.seed)
    named = {"input": draw(predicted["input"]), "h_0": draw(predicted["h_0"])}
    if spec.lstm:
        named["c_0"] = draw(predicted["c_0"])
    # --h0/--c0 zeros or ones: drawn all the same and then filled, so that the input (and
    # c_0 beside a filled h_0) are the numbers the default run feeds.
    for name, init in (("h_0", spec.h0), ("c_0", spec.c0)):
        if name in named and init != "randn":
            named[name].fill_(0.0 if init == "zeros" else 1.0)
    if spec.packed and device.type != "meta":
        x = named["input"].transpose(0, 1) if spec.batch_first else named["input"]  # a view: (L, N, H_in)
        for i, n in enumerate(spec.lengths or ()):
            x[n:, i] = 0
    return named


def _observe_parameter(torch: Any, name: str, p: Any, spec: RNNSpec, has_values: bool) -> ObservedParameter:
    if not has_values or p.numel() == 0:
        return ObservedParameter(name, tuple(p.shape), None, None, None)
    lo, hi = (v.item() for v in torch.aminmax(p.detach()))  # one pass over the values, not two
    bound = _bound_in(torch, spec, p.dtype)
    return ObservedParameter(name, tuple(p.shape), lo, hi, -bound <= lo and hi <= bound)


@functools.lru_cache(maxsize=64)
def _rounded_bound(bound: float, dtype: Any) -> float:
    import torch

    return torch.tensor(bound, dtype=dtype).item()


def _bound_in(torch: Any, spec: RNNSpec, dtype: Any) -> float:
    """The init bound rounded to the parameter's own dtype: a value drawn in float32 can equal
    float32(-bound), a hair beyond the float64 bound. (Cached: a sweep asks once per parameter.)"""
    return _rounded_bound(theory.init_bound(spec), dtype)


def saved_statistics(torch: Any, name: str, saved: Any, spec: RNNSpec) -> ObservedParameter:
    """min, max, mean, std of a saved tensor, in float64 over its finite values; within the init bound in its own dtype.

    Reduced on one thread: a parallel sum's order, and so its last digits, would follow
    OMP_NUM_THREADS; the same file gives the same bytes on any machine.
    """
    if saved.device.type == "meta":  # a live module on meta: shapes, no values
        return ObservedParameter(name, tuple(saved.shape), None, None, None)
    with RUN_LOCK, one_thread(torch):
        return _statistics(torch, name, saved, spec)


@contextlib.contextmanager
def one_thread(torch: Any) -> Iterator[None]:
    """torch's intra-op threads set to one for a moment, then to what they were (the caller's setting)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _statistics(torch: Any, name: str, saved: Any, spec: RNNSpec) -> ObservedParameter:
    values = saved.detach().to(device="cpu", dtype=torch.float64).flatten()
    finite = values[torch.isfinite(values)]
    shape, non_finite = tuple(saved.shape), int(values.numel() - finite.numel())
    if finite.numel() == 0:
        return ObservedParameter(name, shape, None, None, None, None, None, non_finite)
    lo, hi = finite.min().item(), finite.max().item()
    std = finite.std().item() if finite.numel() > 1 else None
    bound = theory.init_bound(spec)
    if saved.dtype.is_floating_point:  # rounded as drawing in that dtype rounds it (see _observe_parameter)
        bound = torch.tensor(bound, dtype=saved.dtype).item()
    within = non_finite == 0 and -bound <= lo and hi <= bound
    return ObservedParameter(name, shape, lo, hi, within, finite.mean().item(), std, non_finite)


def _check_relations(torch: Any, spec: RNNSpec, output: Any, h_n: Any) -> dict[str, bool]:
    """Evaluate theory's output/h_n identities on the real tensors, bit for bit."""
    if spec.is_cell:
        return {}
    # Bring output to (L, N, features) and h_n to (rows, N, H_out) whatever the layout.
    if spec.unbatched:
        output, h_n = output.unsqueeze(1), h_n.unsqueeze(1)
    elif spec.batch_first:
        output = output.transpose(0, 1)

    def holds(p: theory.RelationPart) -> bool:
        batch = slice(None) if p.batch is None else p.batch
        steps = p.time_step if p.time_stop is None else slice(p.time_step, p.time_stop)
        seen = output[steps, batch, p.start : p.stop]
        if p.h_n_row is None:  # padding: every element exactly 0 (a NaN counts as nonzero)
            return int(torch.count_nonzero(seen)) == 0
        return torch.equal(seen, h_n[p.h_n_row, batch])

    return {r.name: all(holds(p) for p in r.parts) for r in theory.relations(spec)}


def _check_device(torch: Any, name: str) -> Any:
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = tr("this torch build has no CUDA support") if torch.version.cuda is None else tr("no CUDA device is visible")
            raise EnvironmentProblem(tr("--device {device}: CUDA is not available ({why}; torch {version})",
                                        device=name, why=why, version=torch.__version__))
        count = torch.cuda.device_count()
        if (device.index or 0) >= count:
            raise EnvironmentProblem(tr("--device {device}: there is no such device ({count} CUDA device(s): cuda:0..cuda:{last})",
                                        device=name, count=count, last=count - 1))
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise EnvironmentProblem(tr("--device {device}: MPS is not available on this machine", device=name))
    return device


# torch builds each layer and direction in Python, in time that grows faster
# than their number (here on meta: 1000 layers build in 0.15 s, 10000 in 7 s).
# Real stacks have a handful.
MAX_LAYER_DIRECTIONS = 1000
_MAX_NUMEL = 2**63 - 1  # torch's sizes are int64


def check_size(spec: RNNSpec) -> None:
    """Refuse what torch cannot index, or would take minutes to build, before it tries."""
    if spec.num_layers * spec.num_directions > MAX_LAYER_DIRECTIONS:
        raise EnvironmentProblem(tr(
            "--layers {layers}: torch builds each layer and direction in Python, in time that grows faster than "
            "their number; rnnshape runs at most {most} (got {got})",
            layers=spec.num_layers, most=MAX_LAYER_DIRECTIONS, got=spec.num_layers * spec.num_directions))
    # Layers above the second repeat the second's shapes: two layers show the largest tensors.
    two_layers = replace(spec, num_layers=min(spec.num_layers, 2))
    largest = max([math.prod(t.shape) for t in theory.tensors(spec)] + [p.numel for p in theory.parameters(two_layers)])
    if largest > _MAX_NUMEL:
        field = max(("input_size", "hidden_size", "seq_len", "batch_size"), key=lambda f: getattr(spec, f) or 0)
        raise SpecError(field, tr("is too large: a tensor would have {count} elements, more than torch's int64 sizes hold",
                                  count=largest))


def _cuda_free_bytes(torch: Any, device: Any) -> int:
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def _out_of_memory(torch: Any, exc: BaseException) -> bool:
    return isinstance(exc, getattr(torch, "OutOfMemoryError", ())) or "can't allocate memory" in str(exc)


def environment_problem(torch: Any, spec: RNNSpec, exc: RuntimeError) -> EnvironmentProblem:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if _out_of_memory(torch, exc):
        needed = theory.run_bytes(spec)
        return EnvironmentProblem(tr("--device {device}: out of memory; this run needs about {size} ({needed} bytes): {error}",
                                     device=spec.device, size=format_bytes(needed), needed=needed, error=first_line))
    return EnvironmentProblem(tr("torch {version} cannot run {module} in {dtype} on {device}: {error}",
                                 version=torch.__version__, module=spec.module_name, dtype=spec.dtype, device=spec.device,
                                 error=first_line))


_ONEDNN_PROJ = "LSTM with projections is not supported with oneDNN"


def notes(spec: RNNSpec, device: Any, caught: list[warnings.WarningMessage]) -> list[str]:
    """torch's warnings as notes; the oneDNN one stated every time, not just once.

    torch raises that warning once per process (TORCH_WARN_ONCE), so a second
    inspect() in the same process would lose it: state it from the config instead.
    """
    notes = [clean_warning(str(w.message)) for w in caught if _ONEDNN_PROJ not in str(w.message)]
    if spec.mode == "lstm" and spec.proj_size and device.type == "cpu":
        # torch's own warning, quoted as torch words it; rnnshape's conclusion after it.
        notes.append(tr("{warning}: torch runs its default (non-oneDNN) CPU implementation", warning=_ONEDNN_PROJ))
    return notes


_TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\.?")


def clean_warning(message: str) -> str:
    """torch's warning text without the C++ source location it carries."""
    return _TRIGGERED.sub("", message).strip()
