"""Which mistakes fit: the learner's numbers against each mistake's prediction, or its exception.

A mistake fits the numbers when its prediction matches, within verify's
tolerance, every tensor the function returned: the ones it got wrong and the ones
it got right. Where no single mistake does, a mistake whose prediction is
wrong in the same places is tried together with each way of picking h_n from
the wrong place (two bugs, one of them in h_n, are common); and then a mistake
that accounts for some of the wrong tensors and contradicts none is reported
as partial, saying which. Where nothing fits, nothing is guessed: the report
lists the differences alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnshape import theory
from rnnshape.language import fill, tr
from rnnshape.learner import wrong
from rnnshape.learner.mistakes import MISTAKES, Mistake, Variant

# The reruns are skipped above this many multiply-accumulates each (about 50 of them):
# in float64 that would take longer than the check itself is worth.
MAX_MACS_PER_RUN = 50_000_000

# Every sentence this module says to a person, in one place (for translation).
MESSAGES = {
    "together": tr("{detail}; together with: {other}"),
    "both": tr("{detail}; and {other}"),
    "too_big": tr("the known mistakes are not rerun: at {macs:,} multiply-accumulates a run, their ~50 reruns would take "
                  "long; a smaller --seq-len, --batch-size or --hidden-size gets a diagnosis"),
}


@dataclass(frozen=True)
class Diagnosis:
    name: str
    title: str
    detail: str
    means: str
    spot: str
    fix: str
    evidence: str  # numbers, probe, exception
    explains: tuple[str, ...]  # the returned tensors it accounts for (none for an exception)
    complete: bool  # it accounts for everything that differs

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "detail": self.detail, "means": self.means, "spot": self.spot,
                "fix": self.fix, "evidence": self.evidence, "explains": list(self.explains), "complete": self.complete}


def diagnosis(mistake: Mistake, detail: str, explains: tuple[str, ...] = (), complete: bool = True,
              evidence: str | None = None) -> Diagnosis:
    return Diagnosis(mistake.name, mistake.title, detail, mistake.means, mistake.spot, mistake.fix,
                     evidence or mistake.evidence, explains, complete)


def too_big(spec: Any) -> str | None:
    """Why the reruns are skipped for this layer, or None."""
    macs = theory.total_parameters(spec) * spec.steps * max(spec.batch, 1)
    return fill(MESSAGES["too_big"], macs=macs) if macs > MAX_MACS_PER_RUN else None


def fits(got: Any, predicted: Any, atol: float, rtol: float) -> bool:
    """got matches predicted: the same shape, and |got - predicted| <= atol + rtol * |predicted| everywhere (NaN never)."""
    if got is None or predicted is None or tuple(got.shape) != tuple(predicted.shape):
        return False
    if got.numel() == 0:
        return True
    got, predicted = got.detach().double().to(predicted.device), predicted.double()
    return bool(((got - predicted).abs() <= atol + rtol * predicted.abs()).all().item())


_SLOT = {"output": "output", "h_n": "h_n", "c_n": "c_n", "h_1": "h_n", "c_1": "c_n"}  # a cell's h_1 sits where h_n does


def _of(predicted: wrong.Predicted, name: str) -> Any:
    return getattr(predicted, _SLOT[name])


def from_numbers(case: wrong.Case, returned: dict[str, Any], atol: float, rtol: float) -> list[Diagnosis]:
    """The mistakes whose predictions match what the function returned; [] where none does."""

    def matches(predicted: wrong.Predicted) -> tuple[set[str], bool]:
        """(the wrong tensors it explains, whether it contradicts a right one)."""
        explains = {n for n in wrong_names if fits(returned[n], _of(predicted, n), atol, rtol)}
        contradicts = any(not fits(returned[n], _of(predicted, n), atol, rtol) for n in returned if n not in wrong_names)
        return explains, contradicts

    correct = case.correct
    wrong_names = {n for n in returned if not fits(returned[n], _of(correct, n), atol, rtol)}
    if not wrong_names:
        return []
    runs: list[tuple[Mistake, Variant, wrong.Predicted]] = []
    picks: list[tuple[Mistake, Variant]] = []
    for mistake in MISTAKES:
        for variant in mistake.variants:
            if variant.pick is not None:
                picks.append((mistake, variant))
                continue
            predicted = variant.run(case) if variant.run else None
            if predicted is not None and _changes(predicted, correct, returned, atol, rtol):
                runs.append((mistake, variant, predicted))

    found, partial = [], []
    for mistake, variant, predicted in runs + [(m, v, v.pick(case, correct)) for m, v in picks]:
        if predicted is None:
            continue
        explains, contradicts = matches(predicted)
        if explains == wrong_names and not contradicts:
            found.append(diagnosis(mistake, variant.detail, _ordered(explains)))
        elif explains and not contradicts:
            partial.append(diagnosis(mistake, variant.detail, _ordered(explains), complete=False))
    if found:
        return found
    # Two mistakes at once: a wrong run, with h_n (or the output's layout) then picked from the wrong place.
    for mistake, variant, predicted in runs:
        for pick_mistake, pick in picks:
            both = pick.pick(case, predicted)  # type: ignore[misc]
            if both is None:
                continue
            explains, contradicts = matches(both)
            if explains != wrong_names or contradicts:
                continue
            if pick_mistake is mistake:  # two ways of the same mistake (batch_first: in and out)
                found.append(diagnosis(mistake, fill(MESSAGES["both"], detail=variant.detail, other=pick.detail), _ordered(explains)))
                continue
            found.append(diagnosis(mistake, fill(MESSAGES["together"], detail=variant.detail, other=pick_mistake.title),
                                   _ordered(explains)))
            found.append(diagnosis(pick_mistake, fill(MESSAGES["together"], detail=pick.detail, other=mistake.title),
                                   _ordered(explains)))
    return _unique(found) or partial


def _changes(predicted: wrong.Predicted, correct: wrong.Predicted, returned: dict[str, Any], atol: float, rtol: float) -> bool:
    """Whether the mistake changes anything the function returned (else it cannot be told from a right function)."""
    return any(not fits(_of(predicted, n), _of(correct, n), atol, rtol) for n in returned)


def _ordered(names: set[str]) -> tuple[str, ...]:
    return tuple(n for n in ("output", "h_n", "c_n", "h_1", "c_1") if n in names)


def _unique(found: list[Diagnosis]) -> list[Diagnosis]:
    seen, out = set(), []
    for d in found:
        if (d.name, d.detail) not in seen:
            seen.add((d.name, d.detail))
            out.append(d)
    return out


def from_exception(case: wrong.Case, kind: str, message: str) -> list[Diagnosis]:
    """The mistakes an exception of the learner's code is known to come from."""
    out = []
    for mistake in MISTAKES:
        detail = mistake.raised(case, kind, message) if mistake.raised else None
        if detail:
            out.append(diagnosis(mistake, detail, evidence="exception"))
    return out
