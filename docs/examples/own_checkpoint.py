"""checkpoint(model.state_dict()): a state_dict in memory is read as a saved file is, no file needed."""

import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch

from models import Seq2Seq
from rnnshape import checkpoint

torch.manual_seed(0)
model = Seq2Seq()

report = checkpoint(model.state_dict(), batch_first=True)  # batch_first: what the keys cannot tell, you give
for layer in report.to_dict()["layers"]:
    print(layer["name"], "=", layer["module"], "with", layer["total_parameters"], "parameters")
    print("  hidden_size read from:", layer["inferred_from"]["hidden_size"])
    shapes = {name: tensor["shape"] for name, tensor in layer["tensors"].items()}
    print("  dummy run:", shapes)
print("every check held:", report.ok)
