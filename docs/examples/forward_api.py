"""verify(..., against=fn) from Python: a hand-written LSTM (every layer and direction) against nn.LSTM."""

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so

import torch

from rnnshape import verify


def lstm_forward(input, hx, params):
    """nn.LSTM's forward by hand, seq-first; hx is the pair (h_0, c_0), as nn.LSTM takes it."""
    h_0, c_0 = hx
    layers = sum(name.startswith("weight_ih_l") and not name.endswith("_reverse") for name in params)
    D = 2 if "weight_ih_l0_reverse" in params else 1
    x, h_n, c_n = input, [], []
    for layer in range(layers):
        outputs = []
        for d in range(D):
            p = {kind: params[f"{kind}_l{layer}" + ("_reverse" if d else "")] for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            h, c = h_0[layer * D + d], c_0[layer * D + d]
            steps = [None] * len(x)
            for t in (reversed(range(len(x))) if d else range(len(x))):
                gates = x[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
                i, f, g, o = gates.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                steps[t] = h
            outputs.append(torch.stack(steps))
            h_n.append(h)
            c_n.append(c)
        x = torch.cat(outputs, dim=-1)
    return x, (torch.stack(h_n), torch.stack(c_n))


report = verify(mode="lstm", num_layers=2, bidirectional=True, against=lstm_forward)
print("lstm_forward gives what nn.LSTM gives:", report.ok)
print("compared:", ", ".join(sorted({f"{c.tensor} layer {c.layer}" for c in report.comparisons})))

# The same function on a live module and your own tensors.
lstm = torch.nn.LSTM(4, 8, num_layers=2, bidirectional=True)
x = torch.randn(6, 2, 4)
print("on a live nn.LSTM:", verify(lstm, x, against=lstm_forward).ok)


def lstm_forward_last_step(input, hx, params):
    """h_n read off output's last time step: the classic slip with a bidirectional layer."""
    output, (h_n, c_n) = lstm_forward(input, hx, params)
    return output, (torch.stack(output[-1].chunk(2, dim=-1)), c_n)


broken = verify(mode="lstm", bidirectional=True, against=lstm_forward_last_step)
print(broken.headline(), "| first:", broken.first_divergence)
for d in broken.against.diagnoses:
    print(f"{d.name}: {d.detail}\n  fix: {d.fix}")
