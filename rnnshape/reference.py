"""The equations of nn.RNN, nn.LSTM and nn.GRU (and their cells), written out with plain tensor ops.

`rnnshape verify` runs these on the module's own weights and compares them with
what torch's fused kernels produced. They follow PyTorch's documentation of the
three modules, in eval mode (dropout only acts in training). torch is imported
inside functions only, so importing this module stays as cheap as the rest of
rnnshape's core.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from rnnshape.spec import RNNSpec
from rnnshape.theory import DIRECTIONS

# What one direction of one layer (or a cell) may hold; `bias_*` are absent with bias=False,
# `weight_hr` (the LSTM projection) is present only with proj_size > 0.
PARAMETER_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


@dataclass
class ReferenceResult:
    """What the equations give, in float64 unless another dtype was asked for.

    A cell (rnncell, lstmcell, grucell) takes one step and has no output: h_n and
    c_n then hold its h_1 and c_1, laid out as the cell returns them, and
    layer_outputs is empty.
    """

    output: Any  # the top layer, laid out as the module lays it out (batch_first, unbatched); padded for packed input
    h_n: Any  # (D*num_layers, N, H_out), no N for unbatched input; a cell's h_1
    c_n: Any  # (D*num_layers, N, H_cell); a cell's c_1; None unless lstm
    # Every layer's output, seq-first (L, N, D*H_out), so that a divergence can be
    # traced to the lowest layer where it starts; N is 1 for unbatched input, and
    # packed input's steps after each sequence's length are 0, as pad_packed_sequence pads.
    layer_outputs: list[Any]


def forward(spec: RNNSpec, params: dict[str, Any], x: Any, h_0: Any, c_0: Any = None, *, dtype: Any = None) -> ReferenceResult:
    """Run the layer (or the one cell step) `spec` describes by its equations.

    params is dict(module.named_parameters()); x, h_0 and c_0 are laid out as the
    module takes them (h_0/c_0 None means zeros, as in torch); for packed input, x
    is the padded batch, and each sequence runs alone up to its own length.
    Everything is upcast to `dtype` (default float64) first, so that the reference
    is more exact than the module it checks, whatever the module's own dtype.
    """
    return _forward(spec, params, x, h_0, c_0, dtype=dtype, cells=CELLS, time_steps=time_steps)


def cell_step(spec: RNNSpec, params: dict[str, Any], x: Any, h_0: Any, c_0: Any = None, *, dtype: Any = None) -> tuple[Any, Any]:
    """One step of nn.RNNCell, nn.LSTMCell or nn.GRUCell: (h_1, c_1), c_1 None unless lstmcell.

    x is (N, H_in) or, unbatched, (H_in,); h_0 and c_0 (N, H) or (H,), None meaning
    zeros. The step is the same equation a layer applies at every t.
    """
    import torch

    return _cell_step(spec, params, x, h_0, c_0, dtype=dtype or torch.float64, cells=CELLS)


def time_steps(seq_len: int, direction: str) -> range:
    """The order a direction reads the sequence: the reverse one from the last step back."""
    return range(seq_len - 1, -1, -1) if direction == "reverse" else range(seq_len)


# --- one time step of each mode ------------------------------------------
# x_proj is x_t W_ih^T + b_ih, already computed for every step; h and c are the
# state after the previous step; w holds this layer and direction's parameters.


def _hidden_projection(h: Any, w: dict[str, Any]) -> Any:
    """h W_hh^T + b_hh: the only part of a step that depends on the previous state."""
    if "bias_hh" in w and h.dim() == 2:  # addmm takes matrices: an unbatched cell's h is 1-D
        return w["bias_hh"].addmm(h, w["weight_hh"].T)  # the same sum, one kernel instead of two
    projected = h @ w["weight_hh"].T
    return projected + w["bias_hh"] if "bias_hh" in w else projected


def _pre_activation(x_proj: Any, h: Any, w: dict[str, Any]) -> Any:
    """x_proj + h W_hh^T + b_hh, fused: x_proj.addmm is one kernel where the sum of parts is three."""
    if h.dim() != 2:
        return x_proj + _hidden_projection(h, w)
    summed = x_proj.addmm(h, w["weight_hh"].T)
    return summed.add_(w["bias_hh"]) if "bias_hh" in w else summed


def rnn_cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict[str, Any]) -> tuple[Any, Any]:
    pre_activation = _pre_activation(x_proj, h, w)
    return (pre_activation.tanh_() if spec.nonlinearity == "tanh" else pre_activation.relu_()), None


def lstm_cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict[str, Any]) -> tuple[Any, Any]:
    # torch stacks the gate rows as i, f, g, o (weight_ih_l[k] = W_ii|W_if|W_ig|W_io).
    # The gates are this step's own tensor (addmm made it), so they are activated in place.
    i, f, g, o = _pre_activation(x_proj, h, w).chunk(4, dim=-1)
    i, f, g, o = i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
    c = f * c + i * g
    h = o * c.tanh()
    if "weight_hr" in w:
        # proj_size > 0: h_t is projected down to H_out = proj_size; c_t is not.
        h = h @ w["weight_hr"].T
    return h, c


def gru_cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict[str, Any]) -> tuple[Any, Any]:
    # Rows stacked as r, z, n. The hidden projection cannot be summed with x_proj
    # before chunking: r multiplies (W_hn h + b_hn) only, b_hn included, as in torch.
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    h_r, h_z, h_n = _hidden_projection(h, w).chunk(3, dim=-1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h, None


Cell = Callable[[RNNSpec, Any, Any, Any, dict], tuple[Any, Any]]
# Keyed by spec.base_mode: nn.LSTMCell takes the very step nn.LSTM takes at every t.
CELLS: dict[str, Cell] = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}


def _forward(
    spec: RNNSpec,
    params: dict[str, Any],
    x: Any,
    h_0: Any,
    c_0: Any,
    *,
    dtype: Any,
    cells: dict[str, Cell],
    time_steps: Callable[[int, str], range],
) -> ReferenceResult:
    """forward(), with the step equations and the time order as arguments.

    Only the tests pass other ones: a deliberately wrong cell or order shows that
    `verify` catches the difference. forward() itself always uses the right ones.
    """
    import torch

    dtype = dtype or torch.float64
    if spec.is_cell:
        h_1, c_1 = _cell_step(spec, params, x, h_0, c_0, dtype=dtype, cells=cells)
        return ReferenceResult(None, h_1, c_1, [])
    if spec.packed:
        return _packed_forward(spec, params, x, h_0, c_0, dtype=dtype, cells=cells, time_steps=time_steps)
    return _layer_forward(spec, params, x, h_0, c_0, dtype=dtype, cells=cells, time_steps=time_steps)


def _weights(params: dict[str, Any], suffix: str, dtype: Any) -> dict[str, Any]:
    """One layer and direction's parameters by kind: suffix "_l1_reverse" in a layer, "" in a cell."""
    return {kind: params[kind + suffix].to(dtype) for kind in PARAMETER_KINDS if kind + suffix in params}


def _input_projection(x: Any, w: dict[str, Any]) -> Any:
    """x W_ih^T + b_ih: for a whole sequence at once, since it does not depend on the state."""
    x_proj = x @ w["weight_ih"].T
    return x_proj + w["bias_ih"] if "bias_ih" in w else x_proj


def _cell_step(spec: RNNSpec, params: dict[str, Any], x: Any, h_0: Any, c_0: Any, *, dtype: Any, cells: dict[str, Cell]) -> tuple[Any, Any]:
    x = x.to(dtype)
    # torch's cells take hx=None as zeros; a cell has no projection, so both states are H wide.
    zeros = x.new_zeros(*x.shape[:-1], spec.hidden_size)
    h = zeros if h_0 is None else h_0.to(dtype)
    c = (zeros if c_0 is None else c_0.to(dtype)) if spec.lstm else None
    w = _weights(params, "", dtype)  # a cell's parameters carry no _l{k} suffix
    return cells[spec.base_mode](spec, _input_projection(x, w), h, c, w)


def _packed_forward(
    spec: RNNSpec,
    params: dict[str, Any],
    x: Any,
    h_0: Any,
    c_0: Any,
    *,
    dtype: Any,
    cells: dict[str, Cell],
    time_steps: Callable[[int, str], range],
) -> ReferenceResult:
    """Packed input: each sequence alone, up to its own length, then padded as pad_packed_sequence pads.

    Run alone, a sequence cannot read another's steps or its own padding; in
    particular its reverse direction starts at its own last step, lengths[i]-1,
    and its h_n is the state there. h_n keeps the original batch order, as torch's.
    """
    import torch

    assert spec.lengths is not None
    x = x.to(dtype)
    x = x.transpose(0, 1) if spec.batch_first else x  # (L, N, H_in)

    def sequence(state: Any, i: int) -> Any:
        return None if state is None else state[:, i : i + 1]

    alone = []
    for i, n in enumerate(spec.lengths):
        one = replace(spec, lengths=None, enforce_sorted=True, seq_len=n, batch_size=1, batch_first=False)
        alone.append(_layer_forward(one, params, x[:n, i : i + 1], sequence(h_0, i), sequence(c_0, i), dtype=dtype, cells=cells, time_steps=time_steps))

    layer_outputs = []
    for k in range(spec.num_layers):
        padded = x.new_zeros(x.shape[0], x.shape[1], spec.num_directions * spec.h_out)
        for i, (n, result) in enumerate(zip(spec.lengths, alone)):
            padded[:n, i : i + 1] = result.layer_outputs[k]
        layer_outputs.append(padded)
    output = layer_outputs[-1].transpose(0, 1) if spec.batch_first else layer_outputs[-1]
    h_n = torch.cat([result.h_n for result in alone], dim=1)
    c_n = torch.cat([result.c_n for result in alone], dim=1) if spec.lstm else None
    return ReferenceResult(output, h_n, c_n, layer_outputs)


def _layer_forward(
    spec: RNNSpec,
    params: dict[str, Any],
    x: Any,
    h_0: Any,
    c_0: Any,
    *,
    dtype: Any,
    cells: dict[str, Cell],
    time_steps: Callable[[int, str], range],
) -> ReferenceResult:
    """Every layer and direction of a stack over a whole (unpacked) sequence."""
    import torch

    lstm = spec.lstm
    D, H, H_out = spec.num_directions, spec.hidden_size, spec.h_out

    # Work seq-first and batched, (L, N, features), the layout the equations are
    # written in; batch_first only ever concerns input and output, never the states.
    x = x.to(dtype)
    if spec.unbatched:
        x = x.unsqueeze(1)
    elif spec.batch_first:
        x = x.transpose(0, 1)
    seq_len, batch = x.shape[0], x.shape[1]

    def initial(state: Any, size: int) -> Any:
        if state is None:
            return x.new_zeros(D * spec.num_layers, batch, size)
        state = state.to(dtype)
        return state.unsqueeze(1) if spec.unbatched else state

    h_0 = initial(h_0, H_out)
    c_0 = initial(c_0, H) if lstm else None
    cell = cells[spec.base_mode]

    layer_input, layer_outputs, h_n, c_n = x, [], [], []
    for layer in range(spec.num_layers):
        directions = []
        for d, direction in enumerate(DIRECTIONS[:D]):
            w = _weights(params, f"_l{layer}" + ("_reverse" if direction == "reverse" else ""), dtype)
            # The input projection does not depend on the state, so every time step's
            # is one matmul, done before the loop; only the recurrence needs the loop.
            x_proj = _input_projection(layer_input, w)
            # Row layer*D + direction of h_0/h_n belongs to this layer and direction.
            row = layer * D + d
            h, c = h_0[row], (c_0[row] if lstm else None)
            steps: list[Any] = [None] * seq_len
            for t in time_steps(seq_len, direction):
                h, c = cell(spec, x_proj[t], h, c, w)
                steps[t] = h  # the reverse direction's output still sits at its own t
            directions.append(torch.stack(steps))
            h_n.append(h)
            c_n.append(c)
        # The next layer reads both directions side by side, forward first.
        layer_input = torch.cat(directions, dim=-1)
        layer_outputs.append(layer_input)

    output, h_n_all = layer_input, torch.stack(h_n)
    c_n_all = torch.stack(c_n) if lstm else None
    if spec.unbatched:
        output, h_n_all = output.squeeze(1), h_n_all.squeeze(1)
        c_n_all = c_n_all.squeeze(1) if lstm else None
    elif spec.batch_first:
        output = output.transpose(0, 1)
    return ReferenceResult(output, h_n_all, c_n_all, layer_outputs)
