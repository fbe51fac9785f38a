"""Which value each parameter of the learner's function gets: decided by the parameter's name.

The names are the ones PyTorch's docs and the learners' notes use: `input` (or
`x`), `h_0` (`hx`, `h0`, `h_prev`), `c_0` (`c0`, `c_prev`), `params`, `module`
(`rnn`), `batch_first`, `lengths`, and every parameter by its torch name
(`weight_ih_l0`, `bias_hh_l1_reverse`; with one layer and one direction also
`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`). A parameter with a default may
be left unbound; any other name is refused before anything runs (exit 2),
listing the names that can be given.

Two names follow the notes rather than nn.RNN's forward: `h_prev` (and
`c_prev`) is the state the first step reads, so with one layer and one
direction it is h_0[0], (N, H_out), as the notes' hand-written loops take it;
and for an LSTM `hx` is the pair (h_0, c_0), as nn.LSTM takes it, unless the
function also takes c_0 by name.
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable

from rnnshape import theory
from rnnshape.errors import SpecError
from rnnshape.language import fill, join, tr
from rnnshape.spec import RNNSpec

# Every sentence this module says to a person, in one place (for translation).
MESSAGES = {
    "unbindable": tr("{target!r}: rnnshape cannot give {function}()'s parameter {name!r}: {reason}. It gives parameters "
                     "named: {names}"),
    "unknown": tr("no value has that name"),
    "did_you_mean": tr("no value has that name (did you mean {close!r}?)"),
    "no_cell_state": tr("nn.{module} has no cell state; c_0 is for lstm and lstmcell"),
    "cell_has_no": tr("nn.{module} takes one step of one layer: it has no {name}"),
    "no_bias": tr("this nn.{module} has no biases (--no-bias)"),
    "no_projection": tr("weight_hr exists only with --proj-size"),
    "no_such_layer": tr("this nn.{module} has {layers} layer(s): its parameters end in {suffixes}"),
    "no_reverse": tr("this nn.{module} is unidirectional: no parameter ends in _reverse"),
    "short_name": tr("the short names (weight_ih, ...) name the only layer of a one-layer, one-direction module; "
                     "this one has {layers} layer(s) and {directions} direction(s): use {example}"),
    "cell_suffix": tr("a cell's parameters have no _l0 suffix: use {short}"),
    # How each argument is described in the report ("what rnn_forward() was given").
    "given_default": tr("its default"),
    "given_params": tr("dict(named_parameters()): {count} tensors"),
    "given_module": tr("nn.{module}, holding these weights"),
    "given_pair": "(h_0, c_0)",  # code: the same in every language
    "given_zeros": tr("{name} (zeros: the call gave none)"),
    # A role and its other names, as the refusal lists them.
    "or": tr("{role} (or {others})"),
}

# A name the function may use -> what it receives (its role). The roles' own names come first.
ALIASES = {
    "input": "input", "x": "input",
    "h_0": "h_0", "hx": "h_0", "h0": "h_0", "h_prev": "h_prev",
    "c_0": "c_0", "c0": "c_0", "c_prev": "c_prev",
    "params": "params",
    "module": "module", "rnn": "module",
    "batch_first": "batch_first",
    "lengths": "lengths",
}
# How the listing groups them: the role, then its other names.
_LISTED = (("input", ("x",)), ("h_0", ("hx", "h0", "h_prev")), ("c_0", ("c0", "c_prev")), ("params", ()),
           ("module", ("rnn",)), ("batch_first", ()), ("lengths", ()))
STATE_ROLES = {"h_0": ("h_0", "h_prev", "hx_pair"), "c_0": ("c_0", "c_prev", "hx_pair")}
_C_NAMES = ("c_0", "c0", "c_prev")
_LAYER_ONLY = ("batch_first", "lengths")
_PARAMETER = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(?:_l(\d+)(_reverse)?)?$")
_SHORT = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


@dataclass(frozen=True)
class Binding:
    parameter: str  # the function's own name for it
    role: str  # an ALIASES role, "hx_pair", a torch parameter name, or "default" (left to the signature)
    positional: bool = False  # positional-only (def f(x, /)): passed by position
    default: Any = None  # the signature's own, for a positional-only parameter left unbound before a bound one


@dataclass(frozen=True)
class Plan:
    function: str
    bindings: tuple[Binding, ...]

    @property
    def roles(self) -> set[str]:
        return {b.role for b in self.bindings}

    def takes(self, state: str) -> bool:
        """Whether the function is given h_0 ("h_0") or c_0 ("c_0") under any of their names."""
        return bool(self.roles & set(STATE_ROLES[state]))

    @property
    def takes_weights(self) -> bool:
        return any(b.role in ("params", "module") or _PARAMETER.match(b.role) for b in self.bindings)

    @property
    def takes_lengths(self) -> bool:
        return "lengths" in self.roles


def parameter_names(spec: RNNSpec) -> list[str]:
    """Every parameter the module holds, by its torch name, then the short names where they apply."""
    names = [p.name for p in theory.parameters(spec)]
    if not spec.is_cell and spec.num_layers == 1 and spec.num_directions == 1:
        names += [n.removesuffix("_l0") for n in names]
    return names


def listing(spec: RNNSpec) -> str:
    """The names a function may use for this layer, as the refusal lists them."""
    groups = []
    for role, others in _LISTED:
        if (role == "c_0" and not spec.lstm) or (role in _LAYER_ONLY and spec.is_cell):
            continue
        groups.append(fill(MESSAGES["or"], role=role, others=", ".join(others)) if others else role)
    return join(", ", groups + parameter_names(spec))


def plan(function: Callable[..., Any], spec: RNNSpec, target: str) -> Plan:
    """What each parameter of `function` gets; SpecError (exit 2, naming --against) for one it cannot get."""
    from rnnshape.learner.loading import function_name

    name = function_name(function)
    parameters = list(inspect.signature(function).parameters.values())
    names = {p.name for p in parameters}
    weights = parameter_names(spec)  # a list: the refusal names them in torch's order
    bindings = []
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue  # *args, **kwargs: nothing is passed through them
        role = _role(p.name, spec, weights, names)
        if role is None:
            if p.default is not p.empty:
                bindings.append(Binding(p.name, "default", p.kind == p.POSITIONAL_ONLY, p.default))
                continue
            reason = _reason(p.name, spec, weights)
            raise SpecError("against", fill(
                MESSAGES["unbindable"], target=target, function=name, name=p.name, reason=reason, names=listing(spec)))
        bindings.append(Binding(p.name, role, p.kind == p.POSITIONAL_ONLY))
    return Plan(name, tuple(bindings))


def _role(name: str, spec: RNNSpec, weights: list[str], names: set[str]) -> str | None:
    if name in weights:
        short = _PARAMETER.match(name).group(2) is None  # type: ignore[union-attr]
        return name + "_l0" if short and not spec.is_cell else name
    role = ALIASES.get(name)
    if role is None:
        return None
    if role in ("c_0", "c_prev") and not spec.lstm:
        return None
    if role in _LAYER_ONLY and spec.is_cell:
        return None
    if name == "hx" and spec.lstm and not names & set(_C_NAMES):
        return "hx_pair"  # nn.LSTM's own hx: the pair, where c_0 has no name of its own
    return role


def _reason(name: str, spec: RNNSpec, weights: list[str]) -> str:
    """Why a name is not one this layer can give: what it would be elsewhere, or the nearest that is."""
    module = spec.module_name
    role = ALIASES.get(name)
    if role in ("c_0", "c_prev"):
        return fill(MESSAGES["no_cell_state"], module=module)
    if role in _LAYER_ONLY:
        return fill(MESSAGES["cell_has_no"], module=module, name=name)
    match = _PARAMETER.match(name)
    if match:
        kind, layer, reverse = match.groups()
        if kind.startswith("bias") and not spec.bias:
            return fill(MESSAGES["no_bias"], module=module)
        if kind == "weight_hr" and not spec.proj_size:
            return MESSAGES["no_projection"]
        if spec.is_cell:
            return fill(MESSAGES["cell_suffix"], short=kind)
        if layer is None:
            example = ", ".join(n for n in weights if n.startswith(kind))
            return fill(MESSAGES["short_name"], layers=spec.num_layers, directions=spec.num_directions, example=example)
        if int(layer) >= spec.num_layers:
            suffixes = ", ".join(f"_l{k}" for k in range(spec.num_layers))
            return fill(MESSAGES["no_such_layer"], module=module, layers=spec.num_layers, suffixes=suffixes)
        if reverse and not spec.bidirectional:
            return fill(MESSAGES["no_reverse"], module=module)
    known = [n for n in ALIASES if _role(n, spec, weights, set()) is not None] + weights
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return fill(MESSAGES["did_you_mean"], close=close[0]) if close else MESSAGES["unknown"]


@dataclass
class Values:
    """What there is to give, as verify's reference hook receives it (the learner's own copies)."""

    spec: RNNSpec
    params: dict[str, Any]
    input: Any
    h_0: Any  # never None here: zeros where the call gave none
    c_0: Any
    module: Callable[[], Any]  # builds nn.<Module> holding params, only if the function asks for it


def value(role: str, values: Values) -> Any:
    spec = values.spec
    if role == "input":
        return values.input
    if role in ("h_0", "c_0"):
        return values.h_0 if role == "h_0" else values.c_0
    if role in ("h_prev", "c_prev"):
        state = values.h_0 if role == "h_prev" else values.c_0
        return state[0] if _one_row(spec) else state
    if role == "hx_pair":
        return (values.h_0, values.c_0)
    if role == "params":
        return dict(values.params)
    if role == "module":
        return values.module()
    if role == "batch_first":
        return spec.batch_first
    if role == "lengths":
        return list(spec.lengths) if spec.packed else [spec.seq_len] * spec.batch
    return values.params[role]


def _one_row(spec: RNNSpec) -> bool:
    """Whether h_0 has one row (one layer, one direction) that h_prev stands for; a cell's h_0 has no rows."""
    return not spec.is_cell and spec.num_layers * spec.num_directions == 1


def arguments(plan: Plan, values: Values) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) for the call: positional-only parameters by position (a default in between passed as itself)."""
    args, kwargs = [], {}
    for b in plan.bindings:
        if b.positional:
            args.append(b.default if b.role == "default" else value(b.role, values))
        elif b.role != "default":
            kwargs[b.parameter] = value(b.role, values)
    return args, kwargs


def described(plan: Plan, values: Values, zeros: set[str]) -> list[tuple[str, str, list[int] | None]]:
    """(parameter, what it was given, its shape) for the report; `zeros`: the states the call did not give."""
    spec = values.spec
    out = []
    for b in plan.bindings:
        role, shape = b.role, None
        if role == "default":
            given = MESSAGES["given_default"]
        elif role == "params":
            given = fill(MESSAGES["given_params"], count=len(values.params))
        elif role == "module":
            given = fill(MESSAGES["given_module"], module=spec.module_name)
        elif role == "hx_pair":
            given = MESSAGES["given_pair"]
        elif role in ("batch_first", "lengths"):
            given = f"{role} = {value(role, values)}"
        else:
            state = {"h_prev": "h_0", "c_prev": "c_0"}.get(role, role)
            given = state + ("[0]" if role in ("h_prev", "c_prev") and _one_row(spec) else "")
            if state in zeros:
                given = fill(MESSAGES["given_zeros"], name=given)
            shape = list(value(role, values).shape)
        out.append((b.parameter, given, shape))
    return out
