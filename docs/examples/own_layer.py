"""A layer you built, on your own tensors: inspect(module, x) reads its config and weights, runs x."""

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so

import torch
from torch import nn

from rnnshape import RNNSpec, inspect, verify

torch.manual_seed(0)
lstm = nn.LSTM(8, 16, batch_first=True, bidirectional=True)
with torch.no_grad():
    lstm.weight_hh_l0.mul_(3)  # a stand-in for training: these weights have moved
x = torch.randn(4, 7, 8)  # a batch of 4 sequences of 7 steps, batch_first
before = {name: p.clone() for name, p in lstm.state_dict().items()}

report = inspect(lstm, x)  # exactly as lstm(x) takes it: no h_0, so torch starts from zeros
data = report.to_dict()
print("module:", data["module"], "| weights from:", data["weights_from"])
for name, tensor in data["tensors"].items():
    shown = tensor["shape"] if tensor["shape"] is not None else tensor["unavailable"]
    print(f"  {name:7} {str(shown):40} {', '.join(tensor['dims'])}")
print("parameters: the module's own values")
for p in data["parameters"][:4]:
    print(f"  {p['name']:13} min {p['observed_min']:7.4f} max {p['observed_max']:7.4f} "
          f"mean {p['mean']:7.4f} std {p['std']:.4f} within U(-{p['init_bound']}, {p['init_bound']}): {p['within_bound']}")
print(data["init_hint"])
print("every check held:", report.ok)

unchanged = all(torch.equal(before[name], p) for name, p in lstm.state_dict().items())
print("left as it was found: weights unchanged", unchanged, "| still in training mode", lstm.training)
spec = RNNSpec.from_module(lstm)  # the config alone, read from the module's attributes
print(f"RNNSpec.from_module: mode={spec.mode!r} input_size={spec.input_size} hidden_size={spec.hidden_size} "
      f"batch_first={spec.batch_first} bidirectional={spec.bidirectional}")

# verify takes the module the same way: the textbook equations, in float64, on its own weights and x.
check = verify(lstm, x)
print(f"verify: the equations give what nn.LSTM gives: {check.ok} ({len(check.comparisons)} comparisons)")
