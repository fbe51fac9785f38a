"""Save a checkpoint the way training scripts do, for `rnnshape checkpoint` to read.

A small sequence-to-sequence model, wrapped in DataParallel (so every key starts
with `module.`), saved inside a dict beside the epoch and the optimizer's state.
"""

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so

import torch
from torch import nn


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.encoder = nn.LSTM(16, 32, num_layers=2, bidirectional=True, proj_size=8, batch_first=True)
        self.decoder = nn.GRU(16, 24, batch_first=True)
        self.head = nn.Linear(24, 100)


torch.manual_seed(0)
model = nn.DataParallel(Seq2Seq())  # on a machine without GPUs it only wraps
with torch.no_grad():
    model.module.decoder.weight_hh_l0.mul_(3)  # a stand-in for training: the decoder's weights have moved
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
torch.save({"epoch": 12, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, "docs/examples/seq2seq.pt")
keys = list(model.state_dict())
print('saved docs/examples/seq2seq.pt: {"epoch": 12, "model": model.state_dict(), "optimizer": optimizer.state_dict()}')
print(f"the model's {len(keys)} keys: {keys[0]}, {keys[1]}, ..., {keys[-1]}")
