"""rnnshape on what people already have: their module, their tensors, their whole model.

- module.py: which torch modules are recurrent, and the RNNSpec a live one holds;
- given.py: the facts of one call's arguments (shapes, dtypes, devices, packing);
- call.py: one call of a live recurrent module, run (or seen by a hook) into a probe.Run,
  so that it walks inspect's own spec -> probe/theory -> Report path;
- diagnose.py: torch's refusal of those arguments explained, its causes kept as data;
- hooks.py: forward hooks around a whole model (`watch`), grouping a module's calls;
- summary.py: `summary(model, *args)` and its Summary report;
- check.py: `rnnshape check`, a layer from flags fed tensors of the shapes the user has;
- target.py: `rnnshape summary TARGET`, the user's factory imported and called.

Nothing here imports torch at import time: a live module means torch is loaded already.
"""
