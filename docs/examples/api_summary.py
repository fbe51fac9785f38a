"""summary(model, *args, **kwargs) and watch(model): a whole model's calls, as a Summary."""

import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch
from torch import nn

from models import PackedClassifier
from rnnshape import summary, watch
from rnnshape.render import render

torch.manual_seed(0)
model = PackedClassifier()
x, lengths = torch.randn(3, 6, 8), torch.tensor([4, 6, 2])
result = summary(model, x, lengths=lengths)  # called as model(x, lengths=lengths)
print(render(result, "csv"), end="")  # one row per module, as `rnnshape summary -f csv`
group = result.groups[0]
print(f"{group.where}: {group.calls} call, given {group.given.input.text()}")
print("totals:", result.total_parameters, "parameters,", f"{result.recurrent_macs:,}", "recurrent MACs, ok:", result.ok)

cell = nn.LSTMCell(8, 16)
with watch(cell) as w:  # around a loop you write yourself
    h, c = torch.zeros(2, 16), torch.zeros(2, 16)
    for x_t in torch.randn(5, 2, 8):
        h, c = cell(x_t, (h, c))
print("watched:", [(g.module, g.calls) for g in w.summary().groups])
