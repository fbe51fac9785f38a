"""inspect(module, *args): a live module, fed exactly as its forward takes it."""

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so

import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence

from rnnshape import RNNSpec, inspect

torch.manual_seed(0)
gru = nn.GRU(3, 4, num_layers=2)
cell = nn.LSTMCell(3, 4)


def shapes(report):
    return {name: t["shape"] for name, t in report.to_dict()["tensors"].items() if t["shape"] is not None}


print("input and h_0:  ", shapes(inspect(gru, torch.randn(6, 2, 3), torch.zeros(2, 2, 4))))
print("unbatched:      ", shapes(inspect(gru, torch.randn(6, 3))))
packed = pack_sequence([torch.randn(5, 3), torch.randn(2, 3)])
print("PackedSequence: ", shapes(inspect(gru, packed)))
print("a cell, (h, c): ", shapes(inspect(cell, torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))))
print("no inputs:      ", shapes(inspect(gru, seq_len=7)))  # the dummy input, its fields as keywords
print("the config:     ", RNNSpec.from_module(gru).num_layers, "layers of", RNNSpec.from_module(gru).hidden_size)
try:
    inspect(nn.Linear(3, 4))
except TypeError as exc:
    print("TypeError:", exc)
