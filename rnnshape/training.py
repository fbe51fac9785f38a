"""inspect --train: one forward and one backward of the layer in train mode, and what they leave.

The module and its inputs are probe's (probe._build, probe._dummy_inputs: the same seeded
weights and numbers inspect's eval run uses); here input, h_0 and c_0 are made to require
grad, and a stated loss is backpropagated. What comes back, as a Training the Report holds:

- every parameter's and input's grad shape (which must be the tensor's own shape);
- which tensors dropout changed: the same weights and inputs run in eval mode and in train
  mode, compared bit for bit;
- the bytes autograd saved for backward, measured with saved_tensors_hooks, beside cost.py's
  estimate of them.

The dropout masks come from torch's global generator: it is forked and seeded from
spec.seed under probe.RUN_LOCK, so the answer is the same on every run and the caller's
random state is what it was. No torch import at module level: the CLI imports this
module to refuse --train --no-run before torch.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from rnnshape import cost, theory
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import fill, tr
from rnnshape.memory import format_bytes
from rnnshape.spec import RNNSpec

# Everything a person reads, in one place (to be translated together).
# Sentences are tr() (said in the chosen language); the loss and the kernels' names are code, as they are.
TEXT = {
    "no_run": tr("needs a run: --no-run answers from the formulas alone, and gradients come only from torch (give one of "
                 "them)"),
    "live_module": tr("takes a layer described by an RNNSpec (or flags): a live module's grads and random state are its "
                      "owner's"),
    "cannot_train": tr("torch {version} cannot train nn.{module} in {dtype} on {device}: {error}"),
    "out_of_memory": tr("--device {device}: out of memory in the training run; it needs about {size} ({needed} bytes): "
                        "{error}"),
    "what": tr("this training run (forward, backward and an eval-mode comparison)"),
    "loss_layer": "output.sum() + h_n.sum()",
    "loss_packed": "packed_output.data.sum() + h_n.sum()",
    "loss_cell": "h_1.sum()",
    "loss_c_layer": " + c_n.sum()",
    "loss_c_cell": " + c_1.sum()",
    "dropout_acts": tr(
        "torch applies dropout (p = {p:g}) to each layer's output before the next layer reads it, and never to the "
        "last layer's output: layer 0's h_n is untouched, since layer 0 computes it before any dropout; the "
        "layers above read a dropped input, so their h_n rows and the output change"
    ),
    "dropout_acts_lstm": tr(
        "torch applies dropout (p = {p:g}) to each layer's output before the next layer reads it, and never to the "
        "last layer's output: layer 0's h_n and c_n are untouched, since layer 0 computes them before any dropout; the "
        "layers above read a dropped input, so their h_n and c_n rows and the output change"
    ),
    "dropout_zero": tr("dropout is 0: train mode and eval mode compute the same thing, so nothing changes"),
    "dropout_one_layer": tr(
        "dropout (p = {p:g}) acts only between layers, and one layer has none above it: nothing changes "
        "(torch warns about this)"
    ),
    "dropout_cell": tr("a cell has no dropout: train mode and eval mode compute the same step, so nothing changes"),
    "dropout_meta": tr("meta tensors have no values: what dropout changed cannot be compared here (shapes only)"),
    "dropout_empty": tr("the batch is empty (N = 0): there are no values for dropout to change"),
    "requires_grad": tr("{names} were made requires_grad=True for this run; a real batch usually is not, and then has no "
                        "grad"),
    "and": tr("{one} and {other}"),
    "path_onednn": "oneDNN (mkldnn_rnn_layer)",
    "path_cudnn": "cuDNN (_cudnn_rnn)",
    "path_mps": "MPS (_lstm_mps)",
    "path_decomposed": tr("decomposed (aten ops per step)"),
    "fused_saves_more": tr(
        "torch ran {path}, which saves a workspace of its own; the estimate counts what the decomposed path saves "
        "(torch.backends.mkldnn off on CPU), so the two differ"
    ),
    "packed_estimate": tr("for packed input the estimate is approximate (torch's packed path also saves the states it "
                          "narrows as sequences end)"),
    "meta_saved": tr("on meta the saved storages are sized but never allocated: what the decomposed path would save"),
}


# Which kernel ran the layer, as SavedBytes.path (and the JSON) names it.
PATHS = ("decomposed", "onednn", "cudnn", "mps")


def check_run(train: bool, run: bool) -> None:
    """--train needs torch to run: refused with --no-run (exit 2), before torch is imported."""
    if train and not run:
        raise SpecError("train", TEXT["no_run"])


def refuse_module() -> None:
    raise SpecError("train", TEXT["live_module"])


@dataclass(frozen=True)
class Gradient:
    """One tensor's grad after backward: a parameter, or an input made to require grad for the run."""

    name: str
    kind: str  # "input" (fed to the module: input, h_0, c_0) or "parameter"
    shape: tuple[int, ...]
    requires_grad: bool
    grad_shape: tuple[int, ...] | None  # None: backward left no grad

    @property
    def held(self) -> bool:
        return self.grad_shape == self.shape


@dataclass(frozen=True)
class DropoutEffect:
    """One tensor (or row of h_n / c_n) compared between an eval-mode and a train-mode run."""

    tensor: str  # output (packed_output for packed input), h_n, c_n; a cell's h_1, c_1
    row: int | None  # the row of h_n / c_n; None for a whole tensor
    layer: int  # the layer that produced it (the top layer for output)
    direction: str | None  # None: both directions (output)
    predicted: bool  # whether dropout should change it
    changed: bool | None  # None: no values to compare (meta)
    differing: int | None  # elements that differ
    numel: int

    @property
    def label(self) -> str:
        return self.tensor if self.row is None else f"{self.tensor}[{self.row}]"

    @property
    def held(self) -> bool | None:
        return None if self.changed is None else self.changed == self.predicted


@dataclass(frozen=True)
class SavedBytes:
    """What autograd saved for backward in the train-mode forward, beside cost.py's estimate."""

    measured: int  # distinct storages' bytes, parameters excluded
    storages: int
    estimated: int  # cost.py's "activation bytes (training)"
    path: str  # which kernel torch ran: one of PATHS (a word for scripts; path_name for people)

    @property
    def fused(self) -> bool:
        """A fused kernel (oneDNN, cuDNN, MPS), whose workspace the estimate does not model."""
        return self.path != "decomposed"

    @property
    def path_name(self) -> str:
        return TEXT["path_" + self.path]

    @property
    def ratio(self) -> float | None:
        return None if self.estimated == 0 else self.measured / self.estimated


@dataclass
class Training:
    loss: str
    gradients: list[Gradient]
    dropout: list[DropoutEffect]
    dropout_note: str
    saved: SavedBytes
    grad_note: str  # which inputs were made to require grad
    saved_notes: list[str] = field(default_factory=list)  # why measured and estimated bytes may differ

    @property
    def notes(self) -> list[str]:
        return [self.grad_note, *self.saved_notes]

    @property
    def inputs(self) -> list[Gradient]:
        return [g for g in self.gradients if g.kind == "input"]

    @property
    def parameters(self) -> list[Gradient]:
        return [g for g in self.gradients if g.kind == "parameter"]

    def to_dict(self) -> dict[str, Any]:
        saved = self.saved
        return {
            "loss": self.loss,
            "requires_grad_inputs": [g.name for g in self.inputs],
            "gradients": [
                {"name": g.name, "kind": g.kind, "shape": list(g.shape), "requires_grad": g.requires_grad,
                 "grad_shape": None if g.grad_shape is None else list(g.grad_shape), "held": g.held}
                for g in self.gradients
            ],
            "dropout": {
                "explanation": self.dropout_note,
                "tensors": [
                    {"tensor": d.tensor, "row": d.row, "layer": d.layer, "direction": d.direction,
                     "predicted_change": d.predicted, "changed": d.changed, "differing": d.differing, "numel": d.numel}
                    for d in self.dropout
                ],
            },
            "saved_bytes": {
                "measured": saved.measured, "storages": saved.storages, "estimated": saved.estimated,
                "ratio": saved.ratio, "path": saved.path, "fused": saved.fused,
            },
            "notes": self.notes,
        }


def loss_text(spec: RNNSpec) -> str:
    if spec.is_cell:
        return TEXT["loss_cell"] + (TEXT["loss_c_cell"] if spec.lstm else "")
    return TEXT["loss_packed" if spec.packed else "loss_layer"] + (TEXT["loss_c_layer"] if spec.lstm else "")


def dropout_acts(spec: RNNSpec) -> bool:
    """Whether train mode differs from eval mode at all: dropout between layers, which needs two."""
    return not spec.is_cell and spec.dropout > 0 and spec.num_layers > 1


def dropout_note(spec: RNNSpec, device_type: str) -> str:
    if spec.is_cell:
        return TEXT["dropout_cell"]
    if spec.dropout == 0:
        return TEXT["dropout_zero"]
    if spec.num_layers == 1:
        return fill(TEXT["dropout_one_layer"], p=spec.dropout)
    if device_type == "meta":
        return TEXT["dropout_meta"]
    if spec.batch == 0:
        return TEXT["dropout_empty"]
    return fill(TEXT["dropout_acts_lstm" if spec.lstm else "dropout_acts"], p=spec.dropout)


# --- memory -----------------------------------------------------------------------------------

# oneDNN's (and cuDNN's) training workspace, measured on torch 2.13's CPU LSTM: 2.1-2.7 times
# what the decomposed path saves at sizes that matter (up to 5.9 for tiny layers, where the run's
# fixed part dominates anyway).
_FUSED_WORKSPACE = 2.5
# Beside the train run's saved tensors: backward's gradients of them, and the comparison run's
# graph, freed before the train run but not always given back by the allocator (with two threads,
# glibc's arenas): the peak measured 1.8-3.9 times the saved bytes over the parameters, inputs
# and outputs, on 100-step, 512-unit layers (rnn/gru/lstm, packed, projected), in repeated runs.
_BESIDE_SAVED = 1.5


def run_bytes(spec: RNNSpec) -> int:
    """An upper estimate of what the training run takes on its device, with theory's margin.

    The eval run's model (parameters, inputs, outputs, the forward's working set), plus: the
    comparison run's outputs, kept; what autograd saves (cost.py's estimate, times the fused
    workspace where torch may take a fused kernel) and _BESIDE_SAVED times the estimate again;
    the parameters' grads; the inputs' grads.
    """
    if spec.device == "meta":
        return theory.with_margin(theory.META_FIXED_BYTES)
    B = theory.DTYPE_BYTES[spec.dtype]
    sizes = {t.name: math.prod(t.shape) for t in theory.tensors(spec)}
    fed = sum(sizes.get(name, 0) for name in ("input", "h_0", "c_0")) * B
    returned = sum(n for name, n in sizes.items() if name not in ("input", "h_0", "c_0", "packed_input")) * B
    estimate = _estimate(spec)
    saved = estimate * (_FUSED_WORKSPACE if cost.fused_kernel_note(spec) else 1) + _BESIDE_SAVED * estimate
    extra = returned + math.ceil(saved) + theory.total_parameters(spec) * B + fed
    return theory.with_margin(theory.RUN_FIXED_BYTES + theory.run_model(spec).peak + extra)


def _estimate(spec: RNNSpec) -> int:
    return next(item.value for item in cost.costs(spec) if item.key == "activation_bytes_training")


# --- the run ----------------------------------------------------------------------------------


def train(spec: RNNSpec, *, max_memory: int | None = None) -> Training:
    """One train-mode forward and backward of the layer spec describes; see the module's docstring.

    Refuses (EnvironmentProblem) a run estimated to need more than the device has free or than
    `max_memory` bytes, and one torch cannot carry out in this dtype on this device.
    """
    from rnnshape import probe

    torch, device = probe.checked_device(spec, run_bytes(spec), max_memory=max_memory, what=TEXT["what"])
    # torch's warnings (dropout with one layer, oneDNN and projections) are the eval run's notes already.
    with probe.RUN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                return _fresh_run(torch, spec, device, native_meta=True)
            except NotImplementedError:
                if device.type != "meta":
                    raise
                # An op with no C++ meta function: torch's Python meta kernels answer, slowly (as probe._forward).
                return _fresh_run(torch, spec, device, native_meta=False)
        except RuntimeError as exc:
            raise _problem(torch, spec, exc) from None


def _fresh_run(torch: Any, spec: RNNSpec, device: Any, *, native_meta: bool) -> Training:
    """The module and its inputs built afresh (grads start empty), then trained once."""
    from rnnshape import probe

    dtype = getattr(torch, spec.dtype)
    with torch.no_grad():
        module = probe._build(torch, spec, device, dtype, None)
    named = probe._dummy_inputs(torch, spec, device, dtype)
    for name in ("input", "h_0", "c_0"):
        if name in named:
            named[name].requires_grad_(True)
    ran = probe.prepared(torch, spec, device, module, named)  # packs the requires_grad input: grads flow through it
    with _kernels(torch, spec, device, native_meta):
        return _train(torch, spec, device, module, ran)


def _train(torch: Any, spec: RNNSpec, device: Any, module: Any, ran: Any) -> Training:
    from rnnshape import probe

    # Eval mode with grad enabled, as the train run: under no_grad oneDNN takes its inference
    # kernel, which rounds differently, and layer 0's h_n would then differ without dropout.
    module.eval()
    evaluated = replace(ran, tensors=dict(ran.tensors))
    probe.record(evaluated, module(ran.module_input, ran.state_0))
    reference = {name: t.detach() for name, t in evaluated.tensors.items()}
    del evaluated

    module.train()
    with _seeded_generator(torch, spec, device), _saved_storages(torch, module) as saved:
        result = module(ran.module_input, ran.state_0)
    probe.record(ran, result)
    loss = _loss(spec, ran)
    path = _path(loss)
    loss.backward()

    leaves = [(name, "input", ran.tensors[name]) for name in ("input", "h_0", "c_0") if name in ran.tensors]
    leaves += [(name, "parameter", p) for name, p in module.named_parameters()]
    gradients = [Gradient(name, kind, tuple(t.shape), t.requires_grad, None if t.grad is None else tuple(t.grad.shape))
                 for name, kind, t in leaves]
    measured = SavedBytes(sum(saved.values()), len(saved), _estimate(spec), path)
    names = [name for name, kind, _ in leaves if kind == "input"]
    inputs = names[0] if len(names) == 1 else fill(TEXT["and"], one=", ".join(names[:-1]), other=names[-1])
    return Training(loss_text(spec), gradients, _dropout_effects(torch, spec, device, reference, ran.tensors),
                    dropout_note(spec, device.type), measured, fill(TEXT["requires_grad"], names=inputs),
                    _saved_notes(spec, device, measured))


def _loss(spec: RNNSpec, ran: Any) -> Any:
    """The stated loss: every element the module returned, summed (packed: its data, padding excluded)."""
    named = ran.tensors
    parts = [named["h_1"], named.get("c_1")] if spec.is_cell else \
        [named["packed_output" if spec.packed else "output"], named["h_n"], named.get("c_n")]
    return sum(t.sum() for t in parts if t is not None)


def _path(loss: Any) -> str:
    """Which kernel torch ran, read from the graph it built: its backward nodes name it."""
    names, todo, seen = set(), [loss.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        todo += [nxt for nxt, _ in node.next_functions]
    for marker, path in (("Mkldnn", "onednn"), ("Cudnn", "cudnn"), ("Mps", "mps")):
        if any(marker in name for name in names):
            return path
    return "decomposed"


@contextlib.contextmanager
def _saved_storages(torch: Any, module: Any) -> Iterator[dict[int, int]]:
    """storage -> bytes of every tensor autograd saves meanwhile, each storage once, parameters excluded.

    Keyed by the storage itself (its StorageImpl), not its data_ptr: on meta every
    data_ptr is 0. The hook returns the tensor, which the graph keeps alive, so no
    storage is freed (and its key reused) before backward.
    """
    parameters = {p.untyped_storage()._cdata for p in module.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        if storage._cdata not in parameters:
            seen[storage._cdata] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield seen


@contextlib.contextmanager
def _seeded_generator(torch: Any, spec: RNNSpec, device: Any) -> Iterator[None]:
    """torch's global generator for the device, forked and seeded from spec.seed: dropout's masks.

    fork_rng puts the caller's state back afterwards; only the generators forked are seeded
    (torch.manual_seed would reseed every CUDA device, of which one is restored).
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index], device_type="cuda"):
            torch.random.default_generator.manual_seed(spec.seed)
            torch.cuda.default_generators[index].manual_seed(spec.seed)
            yield
    elif device.type == "mps":
        with torch.random.fork_rng(devices=[0], device_type="mps"):
            torch.random.default_generator.manual_seed(spec.seed)
            torch.mps.manual_seed(spec.seed)
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(spec.seed)
            yield


@contextlib.contextmanager
def _kernels(torch: Any, spec: RNNSpec, device: Any, native_meta: bool) -> Iterator[None]:
    """As probe._forward runs a layer: one thread for a small CPU run (a second only adds OpenMP's
    synchronisation there), C++ meta kernels on meta. The answer holds shapes, bytes and counts,
    no sums, so it is the same whatever the thread count."""
    from rnnshape import meta_kernels, probe

    if device.type == "meta" and native_meta:
        with meta_kernels.native_meta_kernels(torch):
            yield
    elif device.type == "cpu" and cost.total_macs(spec) < probe._ONE_THREAD_MACS:
        with probe.one_thread(torch):
            yield
    else:
        yield


def _dropout_effects(torch: Any, spec: RNNSpec, device: Any, before: dict[str, Any], after: dict[str, Any]) -> list[DropoutEffect]:
    """Each returned tensor (and each row of h_n, c_n) of the eval run against the train run's, bit for bit."""
    values = device.type != "meta"

    def compare(name: str, row: int | None, layer: int, direction: str | None) -> DropoutEffect:
        a, b = before[name], after[name].detach()
        if row is not None:
            a, b = a[row], b[row]
        differing = int(torch.ne(a, b).sum()) if values else None
        predicted = dropout_acts(spec) and layer > 0 and a.numel() > 0
        return DropoutEffect(name, row, layer, direction, predicted, None if differing is None else differing > 0,
                             differing, a.numel())

    if spec.is_cell:
        return [compare(name, None, 0, theory.DIRECTIONS[0]) for name in ("h_1", "c_1") if name in after]
    out = [compare("packed_output" if spec.packed else "output", None, spec.num_layers - 1, None)]
    for state in ("h_n", "c_n"):
        if state in after:
            out += [compare(state, r.row, r.layer, r.direction) for r in theory.h_n_rows(spec)]
    return out


def _saved_notes(spec: RNNSpec, device: Any, saved: SavedBytes) -> list[str]:
    notes = []
    if saved.fused and saved.measured != saved.estimated:
        notes.append(fill(TEXT["fused_saves_more"], path=saved.path_name))
    if spec.packed:
        notes.append(TEXT["packed_estimate"])
    if device.type == "meta":
        notes.append(TEXT["meta_saved"])
    return notes


def _problem(torch: Any, spec: RNNSpec, exc: RuntimeError) -> EnvironmentProblem:
    from rnnshape import probe

    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if probe._out_of_memory(torch, exc):
        needed = run_bytes(spec)
        return EnvironmentProblem(fill(TEXT["out_of_memory"], device=spec.device, size=format_bytes(needed),
                                       needed=needed, error=first_line))
    return EnvironmentProblem(fill(TEXT["cannot_train"], version=torch.__version__, module=spec.module_name,
                                   dtype=spec.dtype, device=spec.device, error=first_line))
