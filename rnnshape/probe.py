"""Ask torch: build the layer, run the dummy input, record what it produced.

The only module that imports torch, and only inside functions, so that
`--help`, `--version` and every refused flag never pay for the import.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from rnnshape import cost, theory
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.memory import available_bytes, format_bytes, refuse_if_too_big
from rnnshape.spec import RNNSpec


@dataclass(frozen=True)
class ObservedParameter:
    name: str
    shape: tuple[int, ...]
    min: float | None  # None where no values exist (meta device)
    max: float | None
    within_bound: bool | None  # compared in the parameter's own dtype


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
    )


def import_torch() -> Any:
    try:
        with warnings.catch_warnings():
            # A CPU wheel without NumPy warns on import; rnnshape never needs NumPy.
            warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
            import torch
    except ImportError as exc:
        raise EnvironmentProblem(f"torch is not installed ({exc}); install it with: pip install 'torch>=2.2'") from None
    return torch


@dataclass
class Run:
    """A built module, the dummy inputs it was fed, and what it returned: the raw torch objects."""

    torch: Any
    spec: RNNSpec
    device: Any
    module: Any
    input: Any
    h_0: Any
    c_0: Any  # None unless lstm
    output: Any
    h_n: Any
    c_n: Any  # None unless lstm
    warnings: list[warnings.WarningMessage]

    @property
    def tensors(self) -> dict[str, Any]:
        """input, h_0 (c_0), output, h_n (c_n): the names PyTorch's docs use."""
        named = {"input": self.input, "h_0": self.h_0, "c_0": self.c_0, "output": self.output, "h_n": self.h_n, "c_n": self.c_n}
        return {name: t for name, t in named.items() if t is not None}


def run(spec: RNNSpec, *, max_memory: int | None = None) -> Run:
    """Build the module on spec.device in spec.dtype, seeded, in eval mode, and run the dummy input once.

    Refuses (EnvironmentProblem) a run that would need more than the device has
    free or than `max_memory` bytes, before allocating anything.
    """
    _check_size(spec)
    needed = theory.run_bytes(spec)
    if not spec.device.startswith(("cuda", "meta")):
        # cpu and mps (unified memory): decided from the OS, before torch's import.
        refuse_if_too_big(needed, device=spec.device, available=available_bytes(), max_memory=max_memory)
    torch = import_torch()
    device = _check_device(torch, spec.device)
    if device.type == "cuda":
        refuse_if_too_big(needed, device=spec.device, available=_cuda_free_bytes(torch, device), max_memory=max_memory)
    dtype = getattr(torch, spec.dtype)
    module_cls = getattr(torch.nn, spec.module_name)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # fork_rng: seeding must not disturb the caller's own random state.
            rng_devices = [device.index or 0] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=rng_devices), torch.no_grad():
                if device.type in ("cpu", "meta"):
                    # The CPU generator is the one that draws here; torch.manual_seed would
                    # also format stack traces for CUDA/XPU/MTIA's lazy seeding, about 1 ms
                    # a call: a second of a 1000-row sweep.
                    torch.random.default_generator.manual_seed(spec.seed)
                else:
                    torch.manual_seed(spec.seed)
                module = module_cls(**constructor_kwargs(spec), device=device, dtype=dtype)
                # eval(): dropout acts only in training, and a deterministic run keeps
                # the output/h_n relations exact.
                module.eval()
                x, state_0 = _dummy_inputs(torch, spec, device, dtype)
                output, state_n = _forward(torch, spec, module, x, state_0, device)
        except RuntimeError as exc:
            raise environment_problem(torch, spec, exc) from None

    lstm = spec.mode == "lstm"
    h_0, c_0 = state_0 if lstm else (state_0, None)
    h_n, c_n = state_n if lstm else (state_n, None)
    return Run(torch, spec, device, module, x, h_0, c_0, output, h_n, c_n, list(caught))


def observe(spec: RNNSpec, *, max_memory: int | None = None) -> Observation:
    """Run the spec once and record shapes, parameter statistics and the output/h_n relations."""
    ran = run(spec, max_memory=max_memory)
    has_values = ran.device.type != "meta"
    if has_values:
        relations = _check_relations(ran.torch, spec, ran.output, ran.h_n)
    else:
        relations = {rel.name: None for rel in theory.relations(spec)}
    return Observation(
        module_repr=repr(ran.module),
        torch_version=ran.torch.__version__,
        device=str(next(ran.module.parameters()).device),
        tensors={name: tuple(t.shape) for name, t in ran.tensors.items()},
        parameters=[_observe_parameter(ran.torch, name, p, spec, has_values) for name, p in ran.module.named_parameters()],
        relations=relations,
        notes=notes(spec, ran.device, ran.warnings),
    )


# Below this many multiply-accumulates a forward is over in a millisecond on one
# thread, and a second thread only adds OpenMP's synchronisation: on a busy
# 2-core machine a 5-layer LSTM's dummy run took 470 ms on two threads, 0.3 ms on one.
_ONE_THREAD_MACS = 10**8


def _forward(torch: Any, spec: RNNSpec, module: Any, x: Any, state_0: Any, device: Any) -> tuple[Any, Any]:
    if device.type == "cpu":
        if cost.total_macs(spec) >= _ONE_THREAD_MACS:
            return module(x, state_0)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return module(x, state_0)
        finally:
            torch.set_num_threads(threads)  # the caller's setting, as it was
    if device.type != "meta":
        return module(x, state_0)
    try:
        with native_meta_kernels(torch):
            return module(x, state_0)
    except NotImplementedError:
        # An op with no C++ meta function: let torch's Python meta kernels answer, slowly.
        return module(x, state_0)


@contextlib.contextmanager
def native_meta_kernels(torch: Any) -> Iterator[bool]:
    """Let torch's C++ meta functions compute meta shapes; put the Python ones back after.

    torch registers Python meta kernels over its C++ ones for tracing
    (torch._meta_registrations). On plain meta tensors they cost about 20
    Python-level ops per time step and import torch._dynamo on first use:
    seconds for a deep stack. The C++ meta functions are the shape checks every
    CPU and CUDA call runs before computing, so the shapes are still torch's own
    -- only cheaper (microseconds per op). The Python registrations are saved
    and restored, so the caller's process is left as it was. Yields False (and
    changes nothing) where this torch does not keep them where expected.
    """
    try:
        import torch._meta_registrations as registrations

        library = registrations._meta_lib_dont_use_me_use_register_meta
        meta = torch._C.DispatchKey.Meta
        saved = []
        for name in sorted(library._op_impls):  # "aten/addmm.out/Meta"
            namespace, op_name, _key = name.split("/")
            packet, _, overload = op_name.partition(".")
            op = getattr(getattr(getattr(torch.ops, namespace), packet), overload or "default")
            saved.append((op, op.py_kernels[meta]))
    except (ImportError, AttributeError, KeyError, ValueError):
        yield False
        return
    library._destroy()
    # Ops with no C++ meta function at all (relu, for one) keep their Python kernel.
    kept = torch.library.Library("aten", "IMPL", "Meta")
    for op, kernel in saved:
        if not _has_native_meta(torch, op.name()):
            kept.impl(op, kernel)
    try:
        yield True
    finally:
        kept._destroy()
        restored = torch.library.Library("aten", "IMPL", "Meta")
        for op, kernel in saved:
            restored.impl(op, kernel)
        registrations._meta_lib_dont_use_me_use_register_meta = restored


_NATIVE_META_KEYS = ("Meta", "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional", "CompositeImplicitAutograd")


def _has_native_meta(torch: Any, name: str) -> bool:
    """A C++ kernel that serves meta tensors: a Meta one, or a composite that decomposes."""
    return any(torch._C._dispatch_has_kernel_for_dispatch_key(name, key) for key in _NATIVE_META_KEYS)


def constructor_kwargs(spec: RNNSpec) -> dict[str, Any]:
    # Keyword arguments only: a positional 8th argument to nn.GRU (9th to nn.RNN)
    # would silently become proj_size.
    kwargs: dict[str, Any] = dict(
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


def _dummy_inputs(torch: Any, spec: RNNSpec, device: Any, dtype: Any) -> tuple[Any, Any]:
    """The input and an explicit h_0 (and c_0), shaped as theory predicts, seeded."""
    predicted = {t.name: t.shape for t in theory.tensors(spec)}

    def draw(shape: tuple[int, ...]) -> Any:
        if device.type == "meta":
            return torch.empty(shape, device=device, dtype=dtype)
        # Drawn on the CPU from spec.seed, so every device sees the same numbers.
        return torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)

    generator = torch.Generator().manual_seed(spec.seed)
    x = draw(predicted["input"])
    h_0 = draw(predicted["h_0"])
    if spec.mode == "lstm":
        return x, (h_0, draw(predicted["c_0"]))
    return x, h_0


def _observe_parameter(torch: Any, name: str, p: Any, spec: RNNSpec, has_values: bool) -> ObservedParameter:
    if not has_values or p.numel() == 0:
        return ObservedParameter(name, tuple(p.shape), None, None, None)
    lo, hi = p.min().item(), p.max().item()
    # A value drawn in float32 can equal float32(-bound), a hair beyond the float64
    # bound: compare against the bound rounded to the parameter's own dtype.
    bound = torch.tensor(theory.init_bound(spec), dtype=p.dtype).item()
    return ObservedParameter(name, tuple(p.shape), lo, hi, -bound <= lo and hi <= bound)


def _check_relations(torch: Any, spec: RNNSpec, output: Any, h_n: Any) -> dict[str, bool]:
    """Evaluate theory's output/h_n identities on the real tensors, bit for bit."""
    # Bring output to (L, N, features) and h_n to (rows, N, H_out) whatever the layout.
    if spec.unbatched:
        output, h_n = output.unsqueeze(1), h_n.unsqueeze(1)
    elif spec.batch_first:
        output = output.transpose(0, 1)
    return {
        r.name: all(torch.equal(output[p.time_step, :, p.start : p.stop], h_n[p.h_n_row]) for p in r.parts)
        for r in theory.relations(spec)
    }


def _check_device(torch: Any, name: str) -> Any:
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
            raise EnvironmentProblem(f"--device {name}: CUDA is not available ({why}; torch {torch.__version__})")
        count = torch.cuda.device_count()
        if (device.index or 0) >= count:
            raise EnvironmentProblem(f"--device {name}: there is no such device ({count} CUDA device(s): cuda:0..cuda:{count - 1})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise EnvironmentProblem(f"--device {name}: MPS is not available on this machine")
    return device


# torch builds each layer and direction in Python, in time that grows faster
# than their number (here on meta: 1000 layers build in 0.15 s, 10000 in 7 s).
# Real stacks have a handful.
MAX_LAYER_DIRECTIONS = 1000
_MAX_NUMEL = 2**63 - 1  # torch's sizes are int64


def _check_size(spec: RNNSpec) -> None:
    """Refuse what torch cannot index, or would take minutes to build, before it tries."""
    if spec.num_layers * spec.num_directions > MAX_LAYER_DIRECTIONS:
        raise EnvironmentProblem(
            f"--layers {spec.num_layers}: torch builds each layer and direction in Python, in time that "
            f"grows faster than their number; rnnshape runs at most {MAX_LAYER_DIRECTIONS} "
            f"(got {spec.num_layers * spec.num_directions})"
        )
    # Layers above the second repeat the second's shapes: two layers show the largest tensors.
    two_layers = replace(spec, num_layers=min(spec.num_layers, 2))
    largest = max([math.prod(t.shape) for t in theory.tensors(spec)] + [p.numel for p in theory.parameters(two_layers)])
    if largest > _MAX_NUMEL:
        field = max(("input_size", "hidden_size", "seq_len", "batch_size"), key=lambda f: getattr(spec, f))
        raise SpecError(field, f"is too large: a tensor would have {largest} elements, more than torch's int64 sizes hold")


def _cuda_free_bytes(torch: Any, device: Any) -> int:
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def environment_problem(torch: Any, spec: RNNSpec, exc: RuntimeError) -> EnvironmentProblem:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())) or "can't allocate memory" in first_line:
        needed = theory.run_bytes(spec)
        return EnvironmentProblem(f"--device {spec.device}: out of memory; this run needs about {format_bytes(needed)} ({needed} bytes): {first_line}")
    return EnvironmentProblem(f"torch {torch.__version__} cannot run {spec.module_name} in {spec.dtype} on {spec.device}: {first_line}")


_ONEDNN_PROJ = "LSTM with projections is not supported with oneDNN"


def notes(spec: RNNSpec, device: Any, caught: list[warnings.WarningMessage]) -> list[str]:
    """torch's warnings as notes; the oneDNN one stated every time, not just once.

    torch raises that warning once per process (TORCH_WARN_ONCE), so a second
    inspect() in the same process would lose it: state it from the config instead.
    """
    notes = [_clean_warning(str(w.message)) for w in caught if _ONEDNN_PROJ not in str(w.message)]
    if spec.mode == "lstm" and spec.proj_size and device.type == "cpu":
        notes.append(f"{_ONEDNN_PROJ}: torch runs its default (non-oneDNN) CPU implementation")
    return notes


_TRIGGERED = re.compile(r"\s*\(Triggered internally at [^)]*\)\.?")


def _clean_warning(message: str) -> str:
    """torch's warning text without the C++ source location it carries."""
    return _TRIGGERED.sub("", message).strip()
