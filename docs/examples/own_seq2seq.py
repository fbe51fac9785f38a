"""A decoder cell stepping 20 times is one group of 20 calls: summary groups a module's calls by their shapes."""

import json
import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch

from models import Seq2Seq
from rnnshape import summary

torch.manual_seed(0)
model = Seq2Seq(steps=20)
result = summary(model, torch.randint(0, 50, (4, 9)))

for row in result.rows:  # every module, in tree order
    print(f"{row.path or '(model)':9} {row.type:13} called {row.outputs.calls:2}x  returned {'; '.join(row.outputs.shown)}")
for group in result.groups:  # each recurrent module's calls, grouped by the shapes they were given
    report = group.report.to_dict()
    h_0 = report["tensors"]["h_0"]
    print(f"{group.where}: {group.module}, {group.calls} call(s) given input {report['tensors']['input']['shape']}, "
          f"h_0 {h_0['shape'] or h_0['unavailable']}")
print(f"parameters {result.total_parameters}, recurrent MACs {result.recurrent_macs:,}, every check held: {result.ok}")

data = result.to_dict()  # the JSON `rnnshape summary -f json` prints (`rnnshape schema summary`)
print(json.dumps({key: data[key] for key in ("model", "total_parameters", "recurrent_macs", "ok")}))
