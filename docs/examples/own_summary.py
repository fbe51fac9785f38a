"""A whole model, run once: summary(model, *inputs) lists every module and reports every recurrent call."""

import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch

from models import Tagger
from rnnshape import summary

torch.manual_seed(0)
model = Tagger()
tokens = torch.randint(0, 100, (4, 12))  # 4 sentences of 12 token ids

result = summary(model, tokens)  # exactly as model(tokens) is called, once, without grad
for row in result.rows:  # every module in tree order, with what it returned
    print(f"{'  ' * row.depth}{row.path or 'model':6} {row.type:13} {row.parameters:6} parameters, returned {'; '.join(row.outputs.shown)}")
for group in result.groups:  # every recurrent call, as inspect(module, *its real inputs) reports it
    tensors = group.report.to_dict()["tensors"]
    print(f"{group.where}: {group.module}, called {group.calls}x")
    for name in ("input", "h_0", "output", "h_n"):
        print(f"  {name:6} {tensors[name]['shape'] or tensors[name]['unavailable']}")
print(f"recurrent: {result.recurrent_parameters} of {result.total_parameters} parameters, "
      f"{result.recurrent_macs:,} MACs; every check held: {result.ok}")
