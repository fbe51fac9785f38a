"""watch(model) puts summary's hooks around any code: here three training steps, the last batch smaller."""

import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch
from torch import nn

from models import Tagger
from rnnshape import watch

torch.manual_seed(0)
model = Tagger()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

with watch(model) as w:
    for batch_size in (8, 8, 3):  # 19 sentences in batches of 8: the last batch has 3
        tokens, tags = torch.randint(0, 100, (batch_size, 12)), torch.randint(0, 5, (batch_size, 12))
        loss = nn.functional.cross_entropy(model(tokens).flatten(0, 1), tags.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

result = w.summary()  # after the block: every hook is off again
for group in result.groups:
    tensors = group.report.to_dict()["tensors"]
    print(f"{group.where}: {group.calls} call(s) with input {tensors['input']['shape']} -> h_n {tensors['h_n']['shape']}")
print(f"{result.rows[0].outputs.calls} forwards, {result.recurrent_macs:,} recurrent MACs, every check held: {result.ok}")
print("hooks left on the model:", sum(len(m._forward_hooks) for m in model.modules()))
