"""The numbers each mistake would give, for mistakes.py's table.

Two kinds of predictor. A `run` predictor reruns the reference
(rnnshape.reference, in float64) with one thing changed, as the mistake changes
it: the weights (a bias zeroed or doubled, a weight transposed, the gate blocks
reordered), the state (h_0 zeros), the step equations (another nonlinearity),
the time order (the reverse direction run forwards) or the layout the input is
read in. A `pick` predictor takes a result, right or already wrong, and picks
h_n (or the output's layout) from the wrong place. Where a change cannot be
made for this layer (a weight that is not square cannot be used untransposed
without an error), the predictor returns None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, NamedTuple

from rnnshape import reference
from rnnshape.spec import GATES, RNNSpec


class Predicted(NamedTuple):
    """output, h_n, c_n laid out as the module returns them; a cell's: None, h_1, c_1."""

    output: Any
    h_n: Any
    c_n: Any


_KEEP = object()


@dataclass
class Case:
    """What the learner's function was given (torch's layout, h_0 whole), from which every prediction is made."""

    spec: RNNSpec
    params: dict[str, Any]
    x: Any
    h_0: Any
    c_0: Any
    _correct: Predicted | None = field(default=None, repr=False)

    def run(self, *, spec: RNNSpec | None = None, params: dict[str, Any] | None = None, x: Any = None,
            h_0: Any = _KEEP, c_0: Any = _KEEP, cells: dict[str, Any] | None = None,
            order: Callable[[int, str], range] | None = None) -> Predicted:
        """The reference with the changes given, in float64."""
        import torch

        # reference._forward is forward() with the step equations and time order as arguments: a mistake's own.
        result = reference._forward(
            spec or self.spec, self.params if params is None else params, self.x if x is None else x,
            self.h_0 if h_0 is _KEEP else h_0, (self.c_0 if c_0 is _KEEP else c_0) if (spec or self.spec).lstm else None,
            dtype=torch.float64, cells={**reference.CELLS, **(cells or {})}, time_steps=order or reference.time_steps)
        return Predicted(None if (spec or self.spec).is_cell else result.output, result.h_n, result.c_n)

    @property
    def correct(self) -> Predicted:
        if self._correct is None:
            self._correct = self.run()
        return self._correct


Run = Callable[[Case], "Predicted | None"]
Pick = Callable[[Case, Predicted], "Predicted | None"]


def _kind(name: str) -> str:
    return name.split("_l")[0] if "_l" in name else name


def _changed(case: Case, kinds: tuple[str, ...], change: Callable[[Any], Any]) -> dict[str, Any]:
    return {name: change(p) if _kind(name) in kinds else p for name, p in case.params.items()}


# --- run predictors ---------------------------------------------------------


def scaled_bias(kinds: tuple[str, ...], factor: float) -> Run:
    """The biases of these kinds times factor: 0 left out, 2 added twice."""
    def run(case: Case) -> Predicted | None:
        return case.run(params=_changed(case, kinds, lambda p: p * factor)) if case.spec.bias else None
    return run


def transposed(kinds: tuple[str, ...]) -> Run:
    """x @ W instead of x @ W.T: only possible, without an error, where every such W is square."""
    def run(case: Case) -> Predicted | None:
        weights = [p for name, p in case.params.items() if _kind(name) in kinds]
        if not weights or any(p.shape[0] != p.shape[1] for p in weights):
            return None
        return case.run(params=_changed(case, kinds, lambda p: p.T))
    return run


def gates_read_as(labels: tuple[str, ...]) -> Run:
    """The stacked gate blocks read in the order `labels` (the learner's chunk names), torch's being GATES."""
    def run(case: Case) -> Predicted | None:
        torch_order = GATES[case.spec.base_mode]
        if len(torch_order) != len(labels):
            return None
        # The reference's block k (torch's gate torch_order[k]) gets the block the learner calls by that name.
        perm = [labels.index(gate) for gate in torch_order]
        G = len(perm)

        def reorder(p: Any) -> Any:
            blocks = p.reshape(G, p.shape[0] // G, *p.shape[1:])
            return blocks[perm].reshape(p.shape)
        return case.run(params=_changed(case, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), reorder))
    return run


def reverse_run_forwards(case: Case) -> Predicted | None:
    if not case.spec.bidirectional:
        return None
    return case.run(order=lambda length, direction: range(length))


def from_zeros(states: tuple[str, ...]) -> Run:
    """h_0 (and/or c_0) taken as zeros, whatever was given."""
    def run(case: Case) -> Predicted | None:
        if "c_0" in states and not case.spec.lstm:
            return None
        return case.run(h_0=None if "h_0" in states else _KEEP, c_0=None if "c_0" in states else _KEEP)
    return run


def with_cell(mode: str, make: Callable[[], Any]) -> Run:
    """The step equations of one mode replaced by another cell (another nonlinearity, another paper's GRU)."""
    def run(case: Case) -> Predicted | None:
        return case.run(cells={mode: make()}) if case.spec.base_mode == mode else None
    return run


def other_layout(case: Case) -> Predicted | None:
    """The input read in the other layout: batch_first handled the wrong way round (or not at all)."""
    spec = case.spec
    if spec.is_cell or spec.unbatched or spec.packed or 0 in case.x.shape[:2]:
        return None
    first, second = case.x.shape[0], case.x.shape[1]
    # Read the other way, dim 0 is the batch where it was time, and the reverse.
    flipped = replace(spec, batch_first=not spec.batch_first, seq_len=second if not spec.batch_first else first,
                      batch_size=first if not spec.batch_first else second)

    def state(s: Any) -> Any:
        if s is None or s.shape[1] == flipped.batch_size:
            return s
        # One sequence's state broadcasts over the other batch size; any other does not fit, so the
        # learner's loop must have made its own zeros.
        return s.expand(-1, flipped.batch_size, -1) if s.shape[1] == 1 else None
    return case.run(spec=flipped, h_0=state(case.h_0), c_0=state(case.c_0))


def padding_run(case: Case) -> Predicted | None:
    """Packed input run as if every sequence were the whole padded length."""
    if not case.spec.packed:
        return None
    return case.run(spec=replace(case.spec, lengths=None, enforce_sorted=True))


# --- the step equations a mistake writes -------------------------------------


def _hidden(h: Any, w: dict) -> Any:
    """h W_hh^T + b_hh, as plainly as a learner writes it (1-D h included: an unbatched cell's)."""
    projected = h @ w["weight_hh"].T
    return projected + w["bias_hh"] if "bias_hh" in w else projected


def _activation(name: str) -> Callable[[Any], Any]:
    return {"tanh": lambda t: t.tanh(), "relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(),
            "identity": lambda t: t}[name]


def rnn_step(nonlinearity: str) -> Callable[[], Any]:
    act = _activation(nonlinearity)

    def make() -> Any:
        def cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict) -> tuple[Any, Any]:
            return act(x_proj + _hidden(h, w)), None
        return cell
    return make


def lstm_step(gate: str = "sigmoid", candidate: str = "tanh", cell_output: str = "tanh") -> Callable[[], Any]:
    """nn.LSTM's step with other activations: gates i, f, o; candidate g; and the one applied to c_t."""
    g_act, c_act, out_act = _activation(gate), _activation(candidate), _activation(cell_output)

    def make() -> Any:
        def cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict) -> tuple[Any, Any]:
            i, f, g, o = (x_proj + _hidden(h, w)).chunk(4, dim=-1)
            c = g_act(f) * c + g_act(i) * c_act(g)
            h = g_act(o) * out_act(c)
            return (h @ w["weight_hr"].T if "weight_hr" in w else h), c
        return cell
    return make


def gru_step(gate: str = "sigmoid", candidate: str = "tanh", update_flipped: bool = False,
             reset_before: bool = False) -> Callable[[], Any]:
    """nn.GRU's step, or as another text writes it: h = z*n + (1-z)*h, or r applied to h before W_hn."""
    g_act, n_act = _activation(gate), _activation(candidate)

    def make() -> Any:
        def cell(spec: RNNSpec, x_proj: Any, h: Any, c: Any, w: dict) -> tuple[Any, Any]:
            x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
            h_r, h_z, h_n = _hidden(h, w).chunk(3, dim=-1)
            r, z = g_act(x_r + h_r), g_act(x_z + h_z)
            if reset_before:
                W_hn = w["weight_hh"].chunk(3, dim=0)[2]
                h_n = (r * h) @ W_hn.T + (w["bias_hh"].chunk(3)[2] if "bias_hh" in w else 0)
                n = n_act(x_n + h_n)
            else:
                n = n_act(x_n + r * h_n)
            return (z * n + (1 - z) * h if update_flipped else (1 - z) * n + z * h), None
        return cell
    return make


# --- pick predictors -----------------------------------------------------------


def _seq_first(spec: RNNSpec, output: Any) -> Any:
    if spec.unbatched:
        return output.unsqueeze(1)
    return output.transpose(0, 1) if spec.batch_first else output


def h_n_from_step(index: int) -> Pick:
    """h_n read off the top layer's output at one time index (0 or -1): right only for the direction that ends there."""
    def pick(case: Case, p: Predicted) -> Predicted | None:
        spec = case.spec
        if spec.is_cell or p.output is None or spec.steps == 0:
            return None
        step = _seq_first(spec, p.output)[index]  # (N, D*H_out)
        h_n = step.reshape(step.shape[0], spec.num_directions, spec.h_out).transpose(0, 1)  # (D, N, H_out)
        return p._replace(h_n=h_n.squeeze(1) if spec.unbatched else h_n)
    return pick


def h_n_top_layer(case: Case, p: Predicted) -> Predicted | None:
    if case.spec.is_cell or case.spec.num_layers == 1:
        return None
    return p._replace(h_n=p.h_n[-case.spec.num_directions:])


def h_n_last_row(keep_dim: bool) -> Pick:
    """h_n[-1] alone: (N, H_out), or (1, N, H_out) with `keep_dim`."""
    def pick(case: Case, p: Predicted) -> Predicted | None:
        return None if case.spec.is_cell else p._replace(h_n=p.h_n[-1:] if keep_dim else p.h_n[-1])
    return pick


def h_n_direction_major(case: Case, p: Predicted) -> Predicted | None:
    """Rows ordered direction, then layer (d*num_layers + k), where torch's are layer, then direction."""
    spec = case.spec
    if spec.is_cell or not spec.bidirectional or spec.num_layers == 1:
        return None
    D, layers = spec.num_directions, spec.num_layers
    rows = [k * D + d for d in range(D) for k in range(layers)]
    return p._replace(h_n=p.h_n[rows])


def output_seq_first(case: Case, p: Predicted) -> Predicted | None:
    """batch_first input turned seq-first for the loop, and the output never turned back."""
    spec = case.spec
    if spec.is_cell or spec.unbatched or not spec.batch_first:
        return None
    return p._replace(output=p.output.transpose(0, 1))


def rounded_to_float32(names: tuple[str, ...]) -> Pick:
    """A float64 layer's results stored in float32 buffers (torch.zeros(...) without dtype=)."""
    def pick(case: Case, p: Predicted) -> Predicted | None:
        if case.spec.dtype != "float64":
            return None
        import torch

        return p._replace(**{n: getattr(p, n).to(torch.float32) for n in names if getattr(p, n) is not None})
    return pick
