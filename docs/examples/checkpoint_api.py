"""checkpoint from Python: every recurrent layer in a saved file, and the config read from its keys."""

import os
import tempfile
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so

import torch
from torch import nn

from rnnshape import checkpoint

torch.manual_seed(0)
model = nn.ModuleDict({"encoder": nn.LSTM(8, 16, num_layers=2, bidirectional=True), "head": nn.Linear(32, 4)})
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "tagger.pt")
    torch.save({"model": model.state_dict()}, path)
    report = checkpoint(path, batch_first=True)  # what the keys cannot tell, you give

for layer in report.to_dict()["layers"]:
    print(layer["name"], "=", layer["module"])
    print("  read from the keys:", layer["inferred_from"]["num_layers"], "|", layer["inferred_from"]["bidirectional"])
    print("  assumed:", layer["assumed"])
    print("  output", layer["tensors"]["output"]["shape"], "h_n", layer["tensors"]["h_n"]["shape"])
print("every check held:", report.ok)
