"""verify --against: the learner's function in the place of verify's reference.

verify() calls its reference hook with (spec, params, x, h_0, c_0); here the hook
calls the learner's function instead, with copies of those (by the names of its
parameters, binding.py), reads what it returned (returns.py) and hands it to
verify as a ReferenceResult: its output as the top layer's, its h_n and c_n,
and None for what it did not return or returned in another shape (verify then
leaves that out; the shape is reported here). verify's own comparison does the
rest: every tensor, the first divergence by layer, direction and time step.
Then, where they differ, diagnose.py names the mistakes the numbers fit.

An exception in the learner's function is their code failing: a failed check
(exit 1), reported with where it was raised. What it prints goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

from rnnshape import theory
from rnnshape.errors import EnvironmentProblem
from rnnshape.language import fill, join, tr
from rnnshape.learner import binding, returns
from rnnshape.learner.diagnose import (
    Diagnosis,
    diagnosis,
    from_exception,
    from_numbers,
    too_big,
)
from rnnshape.learner.loading import (
    check_target,
    checked_function,
    function_name,
    load_function,
    target_of,
)
from rnnshape.learner.mistakes import BY_NAME
from rnnshape.learner.wrong import Case
from rnnshape.spec import RNNSpec, spec_or_module
from rnnshape.verification import FIRST_AT

# Every sentence this module says to a person, in one place (for translation).
MESSAGES = {
    "meta": tr("--device meta: values do not exist there, so there is nothing to compare {function} with; use --device cpu"),
    "ran_from_zeros": tr("{function}() takes no {states}, so torch ran from zeros too, where {function}() must start"),
    "packed": tr("packed input: {function}() gets the padded input {shape} (zeros after each length) and torch the same "
                 "batch packed with lengths {lengths}; its output must be padded the same way"),
    "no_lengths": tr("{function}() takes no lengths, so it cannot stop each sequence at its own length"),
    "lower_layers": tr("only the top layer's output is compared (a function returns no other); each layer's last state is "
                       "compared in h_n"),
    "ignored": tr("given another {what}, {function}() returned the same numbers"),
    "headline_ok": tr("{function}() gives what torch gives (largest error {error:.3g})"),
    "headline_raised": tr("{function}() raised {kind}"),
    "headline_differs": tr("{function}() differs from torch"),
    "failed_raised": tr("{function}() raised {kind}: {message}{where}"),
    "failed_differs": tr("{function}() differs from nn.{module} beyond atol={atol:g}, rtol={rtol:g}"),
    "failed_shape": tr("; {tensor} has shape {shape}, nn.{module}'s {expected}"),
    "failed_diagnosis": tr("; diagnosis: {titles}"),
    "at": tr(" (at {where})"),
    "or": tr("{one} or {other}"),
    "list": tr("{first}, {next}"),
}
# What a probe gave the function another of ("given another input").
_PROBED = {"input": tr("input"), "weights": tr("weights")}


@dataclass(frozen=True)
class Raised:
    """The exception the learner's function raised: its type, first line, and the learner's line it came from."""

    kind: str
    message: str
    where: str | None  # file.py:line, the deepest frame in the function's own file

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "message": self.message, "where": self.where}


@dataclass(frozen=True)
class ShapeMismatch:
    tensor: str
    shape: tuple[int, ...]
    expected: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "shape": list(self.shape), "expected": list(self.expected)}


@dataclass
class Against:
    """What verify --against adds to verify's report (VerifyReport.against)."""

    target: str  # FILE.py:FUNCTION as given, or module:qualname for a function given from Python
    function: str
    arguments: list[tuple[str, str, list[int] | None]] = field(default_factory=list)  # (parameter, given, shape)
    returned: list[str] = field(default_factory=list)
    raised: Raised | None = None
    shape_mismatches: list[ShapeMismatch] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.raised is None and not self.shape_mismatches

    def headline(self, report: Any) -> str:
        if self.raised is not None:
            return fill(MESSAGES["headline_raised"], function=self.function, kind=self.raised.kind)
        if report.ok:
            return fill(MESSAGES["headline_ok"], function=self.function, error=report.max_abs_error)
        return fill(MESSAGES["headline_differs"], function=self.function)

    def to_dict(self) -> dict[str, Any]:
        return {
            "against": self.target,
            "arguments": [{"parameter": p, "given": g, "shape": s} for p, g, s in self.arguments],
            "returned": list(self.returned),
            "raised": None if self.raised is None else self.raised.to_dict(),
            "shape_mismatches": [m.to_dict() for m in self.shape_mismatches],
            "diagnoses": [d.to_dict() for d in self.diagnoses],
        }

    def failure_line(self, report: Any) -> str:
        """Why verify --against exits 1, for stderr after `failed: ` (a Message, said where it is written)."""
        if self.raised is not None:
            where = fill(MESSAGES["at"], where=self.raised.where) if self.raised.where else ""
            parts = [fill(MESSAGES["failed_raised"], function=self.function, kind=self.raised.kind,
                          message=self.raised.message, where=where)]
        else:
            parts = [fill(MESSAGES["failed_differs"], function=self.function, module=report.spec.module_name,
                          atol=report.atol, rtol=report.rtol)]
            d = report.first_divergence
            if d is not None:
                parts.append(fill(FIRST_AT, **vars(d)))
            for m in self.shape_mismatches:
                parts.append(fill(MESSAGES["failed_shape"], tensor=m.tensor, shape=theory.shape_text(m.shape),
                                  module=report.spec.module_name, expected=theory.shape_text(m.expected)))
        if self.diagnoses:
            titles = _listed(list(dict.fromkeys(d.title for d in self.diagnoses)))
            parts.append(fill(MESSAGES["failed_diagnosis"], titles=titles))
        return join("", parts)


def _listed(items: list[str]) -> str:
    """The items as a, b, c, each comma said in the language (`join` would keep the English comma)."""
    out = items[0]
    for item in items[1:]:
        out = fill(MESSAGES["list"], first=out, next=item)
    return out


class _Hook:
    """verify's reference, answered by the learner's function; it keeps what it saw for the diagnosis."""

    def __init__(self, function: Callable[..., Any], plan: binding.Plan, target: str):
        self.function, self.plan, self.target = function, plan, target
        self.name = plan.function
        self.case: Case | None = None
        self.returned: returns.Returned | None = None
        self.raised: Raised | None = None
        self.zeros: set[str] = set()
        self.arguments: list[tuple[str, str, list[int] | None]] = []
        self.mismatches: list[ShapeMismatch] = []
        self.notes: list[str] = []

    def __call__(self, spec: RNNSpec, params: dict[str, Any], x: Any, h_0: Any, c_0: Any) -> Any:
        from rnnshape.reference import ReferenceResult

        shapes = {t.name: tuple(t.shape) for t in theory.tensors(spec)}
        # A call that gave no h_0 (a live module's) ran from zeros: the function gets those zeros.
        self.zeros = {name for name, state in (("h_0", h_0), ("c_0", c_0)) if state is None and name in shapes}
        h_0 = x.new_zeros(shapes["h_0"]) if h_0 is None else h_0
        c_0 = x.new_zeros(shapes["c_0"]) if c_0 is None and spec.lstm else c_0
        self.case = Case(spec, params, x, h_0, c_0)
        values = self.values(self.case)
        self.arguments = binding.described(self.plan, values, self.zeros)
        value, self.raised = self.call(values)
        layers = [] if spec.is_cell else [None] * spec.num_layers
        if self.raised is not None:
            return ReferenceResult(None, None, None, layers)
        self.returned = returns.read(value, spec, self.name, self.target)
        self.notes += returns.notes(self.returned, spec, self.name)
        expected = returns.expected_shapes(spec)
        kept: dict[str, Any] = {}
        for name, tensor in self.returned.tensors.items():
            tensor = tensor.detach().to(x.device)
            self.returned.tensors[name] = tensor
            if tuple(tensor.shape) == expected[name]:
                # Compared in float64: verify casts torch's values to the reference's dtype, and a float32 buffer
                # in a float64 layer's loop must not lower the comparison to float32.
                kept[name] = tensor.double() if tensor.is_floating_point() else tensor
            else:
                self.mismatches.append(ShapeMismatch(name, tuple(tensor.shape), expected[name]))
        if spec.is_cell:
            return ReferenceResult(None, kept.get("h_1"), kept.get("c_1"), [])
        output = kept.get("output")
        if output is not None:
            # verify compares layer outputs seq-first, (L, N, D*H_out), as reference.layer_outputs holds them.
            layers[-1] = output.unsqueeze(1) if spec.unbatched else output.transpose(0, 1) if spec.batch_first else output
        return ReferenceResult(output, kept.get("h_n"), kept.get("c_n"), layers)

    def values(self, case: Case, *, x: Any = None, params: dict[str, Any] | None = None) -> binding.Values:
        """The learner's own copies: what it does to them in place cannot reach torch's run or the reference."""
        params = {n: p.clone() for n, p in (case.params if params is None else params).items()}
        spec = case.spec
        return binding.Values(spec, params, (case.x if x is None else x).clone(), case.h_0.clone(),
                              None if case.c_0 is None else case.c_0.clone(), lambda: _module(spec, params))

    def call(self, values: binding.Values) -> tuple[Any, Raised | None]:
        import torch

        args, kwargs = binding.arguments(self.plan, values)
        try:
            with contextlib.redirect_stdout(sys.stderr), torch.no_grad(), small_run(values.spec):
                return self.function(*args, **kwargs), None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 -- the learner's code failing is their failed check, explained
            return None, _raised(exc, self.function)


@contextlib.contextmanager
def small_run(spec: RNNSpec) -> Iterator[None]:
    """One intra-op thread for a small layer on the CPU, as probe runs it: a learner's loop of tiny matmuls
    on a busy 2-core machine took 27 ms a step on torch's default threads, well under 1 ms on one."""
    from rnnshape import cost, probe

    torch = probe.import_torch()
    if spec.device == "cpu" and cost.total_macs(spec) < probe._ONE_THREAD_MACS:
        with probe.RUN_LOCK, probe.one_thread(torch):  # the thread count is process-wide: runs take turns
            yield
    else:
        yield


def _module(spec: RNNSpec, params: dict[str, Any]) -> Any:
    """nn.<Module> holding these weights, for a function that takes `module` (or `rnn`)."""
    from rnnshape import probe

    torch = probe.import_torch()
    first = next(iter(params.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer: the run is in eval mode, where it never acts
        module = getattr(torch.nn, spec.module_name)(**probe.constructor_kwargs(spec), device="meta", dtype=first.dtype)
    probe.give_storage(torch, module, first.device)
    with torch.no_grad():
        module.load_state_dict(params, strict=True)
    return module.eval()


def _raised(exc: BaseException, function: Callable[..., Any]) -> Raised:
    text = str(exc).strip()
    message = text.splitlines()[0] if text else ""
    if isinstance(exc, SystemExit):
        message = f"sys.exit({exc.code!r})"
    code = getattr(function, "__code__", None)
    own = [f for f in traceback.extract_tb(exc.__traceback__) if code is not None and f.filename == code.co_filename]
    where = f"{os.path.basename(own[-1].filename)}:{own[-1].lineno}" if own else None
    return Raised(type(exc).__name__, message, where)


def verify_against(against: Any, spec: Any, args: tuple[Any, ...], *, atol: float | None, rtol: float | None,
                   max_memory: int | None, **fields: Any) -> Any:
    """verify(spec | module, *args, against=fn): fn (or "FILE.py:FUNCTION") checked against torch on the module's weights."""
    from rnnshape.verification import verify

    module, layer_spec = spec_or_module(spec, args, fields, "verify")
    if isinstance(against, str):
        target = against
        check_target(target)  # a malformed target costs nothing: no torch, no import
    else:
        target = target_of(against)
    if layer_spec is None:
        layer_spec = RNNSpec.from_module(module, **fields)
    if layer_spec.device == "meta":
        name = target if isinstance(against, str) else function_name(against)
        raise EnvironmentProblem(fill(MESSAGES["meta"], function=name))
    function = load_function(target) if isinstance(against, str) else checked_function(against, target)
    plan = binding.plan(function, layer_spec, target)
    notes = []
    if module is None:
        # Without an h_0 parameter the function can only start from zeros: torch is run from there too.
        missing = [s for s in ("h_0", "c_0") if not plan.takes(s) and (s == "h_0" or layer_spec.lstm)]
        if missing:
            layer_spec = replace(layer_spec, **{s.replace("_", ""): "zeros" for s in missing})
            states = missing[0] if len(missing) == 1 else fill(MESSAGES["or"], one=missing[0], other=missing[1])
            notes.append(fill(MESSAGES["ran_from_zeros"], function=plan.function, states=states))
    hook = _Hook(function, plan, target)
    subject = layer_spec if module is None else module
    report = verify(subject, *args, atol=atol, rtol=rtol, max_memory=max_memory, reference=hook, relative_to="module",
                    **({} if module is None else fields))
    assert hook.case is not None  # verify called the hook, or raised
    result = Against(target, plan.function, hook.arguments, list(hook.returned.tensors) if hook.returned else [],
                     hook.raised, hook.mismatches)
    report.against = result
    report.notes = _notes(report.spec, plan, hook) + notes + hook.notes + report.notes
    if not report.ok:
        result.diagnoses = _diagnoses(report, hook)
    return report


def _notes(spec: RNNSpec, plan: binding.Plan, hook: _Hook) -> list[str]:
    out = []
    if not spec.is_cell and spec.num_layers > 1:
        out.append(MESSAGES["lower_layers"])
    if spec.packed:
        x = hook.case.x if hook.case is not None else None
        shape = theory.shape_text(tuple(x.shape)) if x is not None else ""
        out.append(fill(MESSAGES["packed"], function=plan.function, shape=shape, lengths=list(spec.lengths or ())))
        if not plan.takes_lengths:
            out.append(fill(MESSAGES["no_lengths"], function=plan.function))
    return out


def _diagnoses(report: Any, hook: _Hook) -> list[Diagnosis]:
    case = hook.case
    assert case is not None
    if hook.raised is not None:
        return from_exception(case, hook.raised.kind, hook.raised.message)
    found = _probes(hook, case)
    skipped = too_big(case.spec)
    if skipped:
        report.notes.append(skipped)
        return found
    with small_run(case.spec):
        return found + from_numbers(case, hook.returned.tensors, report.atol, report.rtol)  # type: ignore[union-attr]


def _probes(hook: _Hook, case: Case) -> list[Diagnosis]:
    """The function called again with another input, then other weights: does anything it returns change?"""
    import torch

    if case.x.numel() == 0 or hook.returned is None:
        return []
    generator = torch.Generator().manual_seed((case.spec.seed + 1) % 2**64)  # another draw than the dummy input's

    def other(t: Any, scale: float = 1.0) -> Any:
        return ((torch.rand(t.shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale).to(t.dtype).to(t.device)

    found = []
    x = other(case.x, 2.0)
    if case.spec.packed:  # the padding stays zero, as in any padded batch
        seq_first = x.transpose(0, 1) if case.spec.batch_first else x
        for i, n in enumerate(case.spec.lengths or ()):
            seq_first[n:, i] = 0
    probes = [("input_ignored", "input", hook.values(case, x=x))]
    if hook.plan.takes_weights:
        bound = theory.init_bound(case.spec)
        probes.append(("weights_ignored", "weights", hook.values(case, params={n: other(p, bound) for n, p in case.params.items()})))
    for name, what, values in probes:
        value, raised = hook.call(values)
        if raised is not None:
            continue
        try:
            again = returns.read(value, case.spec, hook.name, hook.target).tensors
        except Exception:  # noqa: BLE001 -- a second answer of another form is not the same answer
            continue
        first = hook.returned.tensors
        if again.keys() == first.keys() and all(_same(first[n], again[n]) for n in first):
            found.append(diagnosis(BY_NAME[name], fill(MESSAGES["ignored"], what=_PROBED[what], function=hook.name),
                                   tuple(first), complete=False))
    return found


def _same(a: Any, b: Any) -> bool:
    b = b.detach().to(a.device)
    return a.shape == b.shape and a.dtype == b.dtype and bool((a == b).all().item()) if a.numel() else a.shape == b.shape
