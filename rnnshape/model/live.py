"""inspect(module, *args) and verify(module, *args): a live module on inspect's own path.

The config is the module's own (module.spec_of), the weights are its own (their
statistics take the place of the seeded draw's), and the input is the caller's
real tensors, or the dummy input of the spec's defaults. The module is left as
it was found: probe.run restores its training flag and the caller's random
state, runs without grad, and adds no hooks.
"""

from __future__ import annotations

from typing import Any

from rnnshape import probe
from rnnshape.language import tr
from rnnshape.model.call import Call
from rnnshape.model.module import spec_of
from rnnshape.report import Report

# Observation.weights_from for a live module: the values described are the module's own.
LIVE_WEIGHTS = "module"


def live_run(module: Any, args: tuple[Any, ...], *, max_memory: int | None = None, **dummy_fields: Any) -> probe.Run:
    """The module run on `args` (exactly as its forward takes them), or on the dummy input `dummy_fields` describe."""
    if not args:
        return probe.run(spec_of(module, **dummy_fields), module=module, max_memory=max_memory)
    if dummy_fields:
        raise TypeError(tr("real inputs decide {fields}: give either inputs or dummy-run fields, not both",
                           fields=", ".join(sorted(dummy_fields))))
    return Call(module, args).run(max_memory=max_memory)


def inspect_module(module: Any, args: tuple[Any, ...], *, run: bool = True, max_memory: int | None = None,
                   **dummy_fields: Any) -> Report:
    if not run:
        if args:
            raise TypeError(tr("run=False answers from the formulas alone, so it takes no real inputs"))
        spec = spec_of(module, **dummy_fields)
        return Report(spec, probe.unobserved(spec))
    ran = live_run(module, args, max_memory=max_memory, **dummy_fields)
    observation = probe.observation_of(ran, weights=dict(module.named_parameters()), weights_from=LIVE_WEIGHTS)
    return Report(ran.spec, observation)
