"""The Python API's one verb: inspect(spec) -> Report. It never prints."""

from __future__ import annotations

from rnnshape.probe import observe, unobserved
from rnnshape.report import Report
from rnnshape.spec import RNNSpec


def inspect(spec: RNNSpec | None = None, *, run: bool = True, max_memory: int | None = None, **fields: object) -> Report:
    """Build the layer that `spec` describes, run its dummy input, compare with the formulas.

    `inspect(mode="lstm", hidden_size=8)` is shorthand for `inspect(RNNSpec(mode="lstm", hidden_size=8))`.
    `run=False` answers from the formulas alone, without importing torch (nothing observed).
    `max_memory` (bytes) refuses a run estimated to need more, as the free memory does.
    Raises SpecError for an invalid spec, EnvironmentProblem when this machine cannot run it.
    """
    if spec is None:
        spec = RNNSpec(**fields)  # type: ignore[arg-type]
    elif fields:
        raise TypeError("pass either an RNNSpec or its fields as keywords, not both")
    return Report(spec, observe(spec, max_memory=max_memory) if run else unobserved(spec))
