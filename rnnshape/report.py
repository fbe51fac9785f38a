"""Report: prediction and observation side by side, and the checks that compare them.

`Report.to_dict()` is the JSON contract; every renderer reads the Report and
nothing else, so each number is computed once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnshape import cost, theory
from rnnshape.errors import Verdict
from rnnshape.language import fill, join, tr
from rnnshape.probe import Observation
from rnnshape.render.shown import Shown
from rnnshape.spec import RNNSpec
from rnnshape.theory import shape_text
from rnnshape.training import Training

SCHEMA_VERSION = 1
# Weights whose values all lie within the init bound and spread as U(-b, b) does
# (std b/sqrt(3)) look untrained. The std of n uniform draws varies by about
# 0.45/sqrt(n) of itself: 15% is over 5 of those from 100 values up.
_UNTRAINED_SPREAD = 0.15
_MIN_VALUES_FOR_SPREAD = 100
NOT_RUN_NOTE = tr("--no-run: predicted from the formulas alone; torch was not imported and nothing was observed or checked")


class Check:
    """One comparison. ok is None when it could not be made (no values on meta).

    predicted and observed are the texts a reader sees; either may be given as a
    function that makes it, called the first time it is read. A sweep reads only ok
    of the fifty-odd checks of each of its thousands of configs: formatting every
    shape and bound it never shows was a third of its time.
    """

    __slots__ = ("name", "ok", "_predicted", "_observed")

    def __init__(self, name: str, ok: bool | None, predicted: str | Callable[[], str], observed: str | Callable[[], str]):
        self.name, self.ok, self._predicted, self._observed = name, ok, predicted, observed

    @property
    def predicted(self) -> str:
        if callable(self._predicted):
            self._predicted = self._predicted()
        return self._predicted

    @property
    def observed(self) -> str:
        if callable(self._observed):
            self._observed = self._observed()
        return self._observed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Check):
            return NotImplemented
        return (self.name, self.ok, self.predicted, self.observed) == (other.name, other.ok, other.predicted, other.observed)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and its texts are filled in later

    def __repr__(self) -> str:
        return f"Check(name={self.name!r}, ok={self.ok!r}, predicted={self.predicted!r}, observed={self.observed!r})"


@dataclass(repr=False)  # Shown's one line, not twelve thousand characters of fields
class Report(Verdict, Shown):
    spec: RNNSpec
    observation: Observation
    training: Training | None = None  # inspect --train: the train-mode forward and backward
    tensors: list[theory.TensorInfo] = field(init=False)
    parameters: list[theory.ParameterInfo] = field(init=False)
    relations: list[theory.Relation] = field(init=False)
    checks: list[Check] = field(init=False)
    _by_name: dict[str, theory.ParameterInfo] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tensors = theory.tensors(self.spec)
        self.parameters = theory.parameters(self.spec)
        self.relations = theory.relations(self.spec)
        self.checks = _compare(self)

    # --- derived answers -------------------------------------------------
    @property
    def predicted_total(self) -> int:
        return theory.total_parameters(self.spec)

    @property
    def observed_total(self) -> int:
        return sum(math.prod(p.shape) for p in self.observation.parameters)

    @property
    def count_formula(self) -> tuple[str, str]:
        return theory.count_formula(self.spec)

    @property
    def parameter_bytes(self) -> int:
        return self.observed_total * theory.DTYPE_BYTES[self.spec.dtype]

    @property
    def h_n_rows(self) -> list[theory.HnRow]:
        return theory.h_n_rows(self.spec)

    @property
    def ran(self) -> bool:
        """False for --no-run: shapes and counts are the formulas', nothing was observed."""
        return self.observation.ran

    @property
    def notes(self) -> list[str]:
        seen: dict[str, None] = {}
        own = [] if self.ran else [NOT_RUN_NOTE]
        for note in own + theory.notes(self.spec) + self.observation.notes:
            seen.setdefault(note)
        return list(seen)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def ok(self) -> bool:
        return not self.failed_checks

    # --- given weights (a checkpoint's, a live module's): do they still look like the init? --
    @property
    def within_init_bound(self) -> bool | None:
        seen = [p.within_bound for p in self.observation.parameters]
        return None if not seen or None in seen else all(seen)

    @property
    def spread(self) -> tuple[float, float] | None:
        """(std of every value of the layer, pooled; the init's std bound/sqrt(3)), or None if not read."""
        params = [p for p in self.observation.parameters if p.mean is not None and p.std is not None]
        if not params or not self.ran:
            return None
        counts = [math.prod(p.shape) - (p.non_finite or 0) for p in params]
        n = sum(counts)
        if n < 2:
            return None
        mean = sum(c * p.mean for c, p in zip(counts, params)) / n
        # Pooled from each tensor's (unbiased) std and mean: the sum of squares about the overall mean.
        squares = sum((c - 1) * p.std**2 + c * (p.mean - mean) ** 2 for c, p in zip(counts, params))
        return math.sqrt(squares / (n - 1)), theory.init_bound(self.spec) / math.sqrt(3)

    @property
    def init_hint(self) -> str:
        """Whether the values still look like PyTorch's init: a hint that the layer was never trained."""
        if not self.ran:
            return tr("values not read (--no-run)")
        bound = theory.init_bound(self.spec)
        params = self.observation.parameters
        broken = [p.name for p in params if p.non_finite]
        if broken:
            return tr("{n} of {total} parameters hold NaN or inf values ({names})", n=len(broken), total=len(params),
                      names=", ".join(broken))
        if any(p.min is None and math.prod(p.shape) for p in params):
            return tr("no values to read on {device}: the weights have shapes only", device=self.observation.device)
        outside = [p.name for p in params if p.within_bound is False]
        if outside:
            return tr("{n} of {total} parameters have values beyond the init bound {bound:.4g}: "
                      "trained (or initialised some other way)", n=len(outside), total=len(params), bound=bound)
        n = sum(math.prod(p.shape) for p in params)
        if self.spread is None or n < _MIN_VALUES_FOR_SPREAD:
            return tr("every value lies within the init bound {bound:.4g}; {n} values are too few to tell an init by its "
                      "spread", bound=bound, n=n)
        spread, init_std = self.spread
        if abs(spread / init_std - 1) <= _UNTRAINED_SPREAD:
            return tr("looks untrained: every value lies within the init bound {bound:.4g}, spread as the init's "
                      "U(-b, b) is (std {spread:.4g}; b/sqrt(3) = {init_std:.4g})", bound=bound, spread=spread,
                      init_std=init_std)
        return tr("every value lies within the init bound {bound:.4g}, but spread unlike the init (std {spread:.4g}; "
                  "b/sqrt(3) = {init_std:.4g}): trained a little, or initialised some other way", bound=bound,
                  spread=spread, init_std=init_std)

    def headline(self) -> str:
        counted = [c for c in self.checks if c.ok is not None]
        if not self.ran:
            verdict = tr("predicted, not run")
        elif self.failed_checks:
            verdict = tr("{failed} of {counted} checks failed", failed=len(self.failed_checks), counted=len(counted))
        else:
            verdict = tr("{held} of {counted} checks held", held=len(counted), counted=len(counted))
        return join(": ", [theory.constructor_text(self.spec), verdict])

    def predicted_parameter(self, name: str) -> theory.ParameterInfo | None:
        if self._by_name is None:  # built once: a 10,000-layer stack has 80,000 parameters to look up
            self._by_name = {p.name: p for p in self.parameters}
        return self._by_name.get(name)

    # --- the JSON contract ----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        obs = self.observation
        symbols, substituted = self.count_formula
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.spec.to_dict(),
            "observed": self.ran,
            "torch_version": obs.torch_version,
            "module": obs.module_repr if self.ran else None,
            # null: the seeded init's draw; "module": a live module's own; else the checkpoint file read.
            "weights_from": obs.weights_from,
            "tensors": {t.name: self._tensor_dict(t) for t in self.tensors},
            # Packed input only: what pack_padded_sequence made of the lengths (null otherwise).
            "packing": obs.packing,
            "h_n_rows": [{"row": r.row, "layer": r.layer, "direction": r.direction} for r in self.h_n_rows],
            "relations": [
                {"name": r.name, "identity": r.text, "why": r.why, "held": obs.relations.get(r.name)}
                for r in self.relations
            ],
            "parameters": [self._parameter_dict(p) for p in obs.parameters],
            "total_parameters": self.observed_total,
            "predicted_total_parameters": self.predicted_total,
            "count_formula": symbols,
            "count_formula_substituted": substituted,
            "parameter_bytes": self.parameter_bytes,
            # Given weights only (weights_from not null): whether they still look like the init.
            "init_hint": self.init_hint if obs.weights_from is not None else None,
            "cost": cost.cost_dict(self.spec),
            # inspect --train only (null otherwise): grads, dropout's effect, the bytes saved for backward.
            "training": None if self.training is None else self.training.to_dict(),
            "checks": {
                "passed": sum(c.ok is True for c in self.checks),
                "failed": len(self.failed_checks),
                "skipped": sum(c.ok is None for c in self.checks),
                "failures": [
                    {"name": c.name, "predicted": c.predicted, "observed": c.observed} for c in self.failed_checks
                ],
            },
            "notes": self.notes,
            "ok": self.ok,
        }

    def _tensor_dict(self, t: theory.TensorInfo) -> dict[str, Any]:
        seen = self.observation.tensors.get(t.name)
        out = {
            # null where torch could not produce it here (see "unavailable"), never a made-up shape
            "shape": None if t.name in self.observation.unavailable else list(seen or ()),
            "dims": list(t.dims),
            "predicted_shape": list(t.shape),
            "meaning": t.meaning,
        }
        if t.name in self.observation.unavailable:
            out["unavailable"] = self.observation.unavailable[t.name]
        return out

    def _parameter_dict(self, p: Any) -> dict[str, Any]:
        predicted = self.predicted_parameter(p.name)
        return {
            "name": p.name,
            "shape": list(p.shape),
            "numel": math.prod(p.shape),
            "layer": predicted.layer if predicted else None,
            "direction": predicted.direction if predicted else None,
            "init_bound": theory.init_bound(self.spec),
            "observed_min": p.min,
            "observed_max": p.max,
            "within_bound": p.within_bound,
            # Given weights only (null for the seeded draw): their mean, std and NaN/inf count.
            "mean": p.mean,
            "std": p.std,
            "non_finite": p.non_finite,
            "gates": list(predicted.gates) if predicted else [],
            "bytes": math.prod(p.shape) * theory.DTYPE_BYTES[self.spec.dtype],
            **dict(zip(("macs", "adds"), cost.parameter_costs(self.spec, predicted) if predicted else (None, None))),
            "predicted_shape": list(predicted.shape) if predicted else None,
        }


def _compare(report: Report) -> list[Check]:
    checks = _comparisons(report)
    if not report.ran:  # nothing observed: every comparison would be theory against itself
        return [Check(c.name, None, c.predicted, tr("not run")) for c in checks]
    return checks + _training_checks(report.training)


# inspect --train's checks, in words (together, to be translated together).
_TRAINING_CHECKS = {
    "grad": tr("grad of {name} has its shape"),
    "no_grad": tr("no grad"),
    "dropout": tr("dropout: {label} in train mode vs eval mode"),
    "changed": tr("changed"),
    "changed_count": tr("changed ({differing} of {numel})"),
    "untouched": tr("untouched"),
    "not_compared": tr("not compared"),
}


def _training_checks(training: Training | None) -> list[Check]:
    """Each grad has its tensor's shape; dropout changed exactly what it should (bit for bit, eval vs train)."""
    if training is None:
        return []
    t = _TRAINING_CHECKS
    checks = [Check(fill(t["grad"], name=g.name), g.held, shape_text(g.shape),
                    t["no_grad"] if g.grad_shape is None else shape_text(g.grad_shape)) for g in training.gradients]
    for d in training.dropout:
        if d.changed is None:
            seen = t["not_compared"]
        else:
            seen = fill(t["changed_count"], differing=d.differing, numel=d.numel) if d.changed else t["untouched"]
        checks.append(Check(fill(t["dropout"], label=d.label), d.held, t["changed" if d.predicted else "untouched"], seen))
    return checks


def _comparisons(report: Report) -> list[Check]:
    obs = report.observation
    checks = []
    for t in report.tensors:
        seen = obs.tensors.get(t.name)
        if t.name in obs.unavailable:
            checks.append(Check(tr("shape of {name}", name=t.name), None, shape_text(t.shape),
                                tr("unavailable: {why}", why=obs.unavailable[t.name])))
        else:
            checks.append(Check(tr("shape of {name}", name=t.name), seen == t.shape, functools.partial(shape_text, t.shape),
                                functools.partial(shape_text, seen)))
    if report.spec.packed:
        checks += _packing_checks(report)

    observed = {p.name: p for p in obs.parameters}
    predicted_names = [p.name for p in report.parameters]
    checks.append(Check(tr("parameter names and order"), predicted_names == list(observed),
                        functools.partial(", ".join, predicted_names), functools.partial(", ".join, list(observed))))
    for p in report.parameters:
        seen = observed.get(p.name)
        checks.append(Check(tr("shape of {name}", name=p.name), seen is not None and seen.shape == p.shape,
                            functools.partial(shape_text, p.shape), functools.partial(shape_text, seen.shape if seen else None)))
    bound = theory.init_bound(report.spec)
    bound_text = f"[-{bound!r}, {bound!r}]"
    for p in obs.parameters if obs.weights_from is None else ():  # saved weights may have left the bound
        checks.append(Check(tr("{name} drawn within the init bound", name=p.name), p.within_bound, bound_text,
                            functools.partial(_drawn_text, p)))

    checks.append(Check(tr("total parameters"), report.predicted_total == report.observed_total, str(report.predicted_total), str(report.observed_total)))
    for r in report.relations:
        held = obs.relations.get(r.name)
        checks.append(Check(r.name, held, r.text, {True: tr("held"), False: tr("differs"), None: tr("not checked")}[held]))
    return checks


def _drawn_text(p: Any) -> str:
    return tr("unavailable") if p.min is None else f"[{p.min!r}, {p.max!r}]"


def _packing_checks(report: Report) -> list[Check]:
    """batch_sizes and sorted_indices as pack_padded_sequence made them, against theory.packing."""
    predicted, seen = theory.packing(report.spec), report.observation.packing or {}
    checks = []
    for key in ("batch_sizes", "sorted_indices"):
        if key in report.observation.unavailable:
            checks.append(Check(key, None, str(predicted[key]), tr("unavailable: {why}", why=report.observation.unavailable[key])))
        else:
            observed = str(seen[key]) if key in seen else tr("missing")
            checks.append(Check(key, seen.get(key) == predicted[key], str(predicted[key]), observed))
    return checks
