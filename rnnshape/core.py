"""The Python API's first verb: inspect(spec | module, *args) -> Report. It never prints."""

from __future__ import annotations

from rnnshape.language import speaks

from typing import Any

from rnnshape import training
from rnnshape.probe import observe, unobserved
from rnnshape.report import Report
from rnnshape.spec import spec_or_module


@speaks
def inspect(spec: Any = None, *args: Any, run: bool = True, max_memory: int | None = None, train: bool = False,
            **fields: Any) -> Report:
    """Run the layer, compare every shape, parameter and count with the formulas.

    `spec` is an RNNSpec, or a live nn.RNN/nn.LSTM/nn.GRU/nn.RNNCell/nn.LSTMCell/
    nn.GRUCell (or a subclass): then its own config, weights, dtype and device
    are used, and `args` are optional real inputs exactly as its forward takes
    them (input, or input and hx; a PackedSequence; unbatched). Without them the
    dummy input runs; `fields` may then set its seq_len, batch_size, unbatched,
    lengths, enforce_sorted and seed. The module is left as it was found.
    `inspect(mode="lstm", hidden_size=8)` is shorthand for `inspect(RNNSpec(mode="lstm", hidden_size=8))`.
    `run=False` answers from the formulas alone, without importing torch (nothing observed).
    `max_memory` (bytes) refuses a run estimated to need more, as the free memory does.
    `train=True` also runs one forward and backward in train mode (Report.training: every
    grad's shape, which tensors dropout changed, the bytes autograd saved); it needs a run,
    and an RNNSpec rather than a live module.
    `lang` ("zh", "en") is the language the report prints and displays in (report.lang);
    its data and to_dict() are the same in every language.
    Raises SpecError for an invalid spec, EnvironmentProblem when this machine cannot run it,
    TypeError for anything else passed as `spec`; torch's own exception, with an
    explanation attached as a note, when a live module refuses `args`.
    """
    training.check_run(train, run)
    module, spec = spec_or_module(spec, args, fields, "inspect")
    if module is not None:
        if train:
            training.refuse_module()
        from rnnshape.model.live import inspect_module

        return inspect_module(module, args, run=run, max_memory=max_memory, **fields)
    if not run:
        return Report(spec, unobserved(spec))
    # The training run first: its estimate is the larger, so a run too big for it is refused before any work.
    trained = training.train(spec, max_memory=max_memory) if train else None
    return Report(spec, observe(spec, max_memory=max_memory), trained)
