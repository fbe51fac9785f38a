"""summary(model, *args, **kwargs) -> Summary: a whole model run once, seen through its hooks.

Every module in tree order with what it returned per call (the data flow
Embedding -> LSTM -> Linear at a glance); for each recurrent module and each
group of its calls, inspect's own Report on the tensors it really got; the
totals (parameters, and the MACs of the recurrent calls on their real shapes).
The model is left as it was found: every hook removed, also when its forward
raises, and the caller's random state put back.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from rnnshape import cost
from rnnshape.errors import Verdict
from rnnshape.language import tr
from rnnshape.model.diagnose import Explanation
from rnnshape.model.hooks import Group, Outputs, Recorder, watch
from rnnshape.model.module import is_recurrent, short_type_name
from rnnshape.render.shown import Shown
from rnnshape.report import SCHEMA_VERSION

NOT_CALLED = tr("not called")


@dataclass
class ModuleRow:
    """One module of the model, in tree order: its path, type, parameters and what each call returned."""

    path: str  # "" for the model itself
    type: str
    parameters: int  # of the module and everything under it, each parameter once
    outputs: Outputs

    @property
    def depth(self) -> int:
        return 0 if not self.path else self.path.count(".") + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.type,
            "depth": self.depth,
            "parameters": self.parameters,
            "calls": self.outputs.calls,
            "outputs": [{"structure": self.outputs.data[text], "text": text, "calls": count} for text, count in self.outputs.shown.items()],
        }


@dataclass(repr=False)
class Summary(Verdict, Shown):
    model: str  # the model's type
    rows: list[ModuleRow]
    groups: list[Group]
    total_parameters: int
    trainable_parameters: int
    recurrent_parameters: int
    training: bool  # the model's mode when it ran
    notes: list[str] = field(default_factory=list)
    error: Explanation | None = None  # the forward raised (the command line reports it; the API re-raises)

    @property
    def recurrent_macs(self) -> int:
        return sum(cost.total_macs(g.report.spec) * g.calls for g in self.groups if g.report is not None)

    @property
    def failed(self) -> list[Group]:
        return [g for g in self.groups if g.report is not None and not g.report.ok]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def headline(self) -> str:
        calls = sum(g.calls for g in self.groups)
        verdict = tr("raised in {place}", place=self.error.place) if self.error else (
            tr("every check held") if self.ok else tr("checks failed"))
        n, g = len(self.rows), len(self.groups)
        return tr("{model}: {modules}, {calls} in {groups}, {verdict}", model=self.model,
                  modules=tr("{n} module", n=n) if n == 1 else tr("{n} modules", n=n),
                  calls=tr("{n} recurrent call", n=calls) if calls == 1 else tr("{n} recurrent calls", n=calls),
                  groups=tr("{n} group", n=g) if g == 1 else tr("{n} groups", n=g), verdict=verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "training": self.training,
            "modules": [row.to_dict() for row in self.rows],
            "recurrent": [_group_dict(g) for g in self.groups],
            "total_parameters": self.total_parameters,
            "trainable_parameters": self.trainable_parameters,
            "recurrent_parameters": self.recurrent_parameters,
            "recurrent_macs": self.recurrent_macs,
            "error": None if self.error is None else self.error.to_dict(),
            "notes": list(self.notes),
            "ok": self.ok,
        }


def _group_dict(group: Group) -> dict[str, Any]:
    return {
        "path": group.where,
        "module": group.module,
        "calls": group.calls,
        "given": group.given.to_dict(),
        "macs_per_call": None if group.report is None else cost.total_macs(group.report.spec),
        "report": None if group.report is None else group.report.to_dict(),
        "problem": group.problem,
    }


def summary(model: Any, *args: Any, **kwargs: Any) -> Summary:
    """Run `model(*args, **kwargs)` once, without grad, and report every module and recurrent call.

    When the forward raises, that exception goes on (never swallowed) with
    the explanation attached as a note, and every hook is removed.
    """
    return run_model(model, args, kwargs, keep_error=False)


def run_model(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, keep_error: bool) -> Summary:
    """summary()'s work; `keep_error=True` (the command line) returns what ran, with the explanation, instead of raising."""
    from rnnshape import probe

    torch = probe.import_torch()
    w = watch(model)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # fork_rng: a model in training mode draws dropout masks; the caller's random state stays as it was.
            with w, torch.random.fork_rng(devices=devices), torch.no_grad():
                model(*args, **kwargs)
        except Exception as exc:
            if not keep_error:
                raise
            from rnnshape.model.call import explain_module_call, explanation_of

            error = explanation_of(exc) or explain_module_call(model, args, kwargs, exc, "")
    result = w.summary()
    result.error = error or result.error
    # torch's warnings, as notes (the oneDNN one about proj_size, say), each once.
    result.notes += list(dict.fromkeys(tr("torch warned: {warning}", warning=probe.clean_warning(str(c.message))) for c in caught))
    return result


def summary_of(model: Any, recorder: Recorder) -> Summary:
    every = {id(p): p for p in model.parameters()}
    recurrent = {id(p): p for m in model.modules() if is_recurrent(m) for p in m.parameters()}
    rows = [ModuleRow(path, short_type_name(module), sum(p.numel() for p in module.parameters()), recorder.outputs.get(path, Outputs()))
            for path, module in model.named_modules()]
    notes = list(recorder.notes)
    if model.training and any(_drops(m) for m in model.modules()):
        notes.append(tr("the model ran in training mode, so its dropout acted (the shapes are the same in eval mode)"))
    if recorder.groups:
        notes.append(tr("MACs count the recurrent calls only, each on the shapes it really got"))
    return Summary(
        model=short_type_name(model),
        rows=rows,
        groups=list(recorder.groups.values()),
        total_parameters=sum(p.numel() for p in every.values()),
        trainable_parameters=sum(p.numel() for p in every.values() if p.requires_grad),
        recurrent_parameters=sum(p.numel() for p in recurrent.values()),
        training=model.training,
        notes=notes,
        error=recorder.error,
    )


def _drops(module: Any) -> bool:
    """A module that acts differently in training: nn.Dropout and its kin, or a recurrent layer with dropout > 0."""
    if "Dropout" in type(module).__name__:
        return True
    p = getattr(module, "dropout", 0)
    return isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0
