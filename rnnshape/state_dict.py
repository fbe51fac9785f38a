"""Which recurrent layers and cells a state_dict holds, from its keys and shapes alone.

A layer is a group of keys `<prefix>weight_ih_l<k>[_reverse]` with its
weight_hh, biases and (LSTM with projection) weight_hr; a cell is
`<prefix>weight_ih` beside `<prefix>weight_hh`. The config follows from the
shapes: weight_hh is (G*H, H_out), so G (1, 3, 4: rnn, gru, lstm) and H come
from it, and weight_hr (P, H) means an LSTM that projects. Every key the
inferred config implies is then checked against theory.parameters: a group
that is missing a key or whose shapes contradict each other is reported with
the keys involved, never guessed around.

No torch here: a checkpoint's keys and shapes are all this needs, and the
safetensors header gives them without reading a tensor.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from rnnshape import theory
from rnnshape.errors import SpecError
from rnnshape.language import Message, join, message_of, tr
from rnnshape.spec import RNNSpec

# fullmatch and DOTALL: a prefix is whatever precedes the name, newlines and all (`$` alone would
# also match before a trailing newline); the layer number is ASCII digits, as torch writes it.
_LAYER_KEY = re.compile(r"(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<layer>[0-9]+)(?P<reverse>_reverse)?",
                        re.DOTALL)
_CELL_KEY = re.compile(r"(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)", re.DOTALL)
_MODE_OF_GATES = {1: "rnn", 3: "gru", 4: "lstm"}


@dataclass
class Found:
    """One recurrent layer or cell in a state_dict: its config, or why it has none."""

    prefix: str  # as in the file, e.g. "module.encoder.rnn."
    keys: list[str]
    spec: RNNSpec | None = None
    problems: list[str] = field(default_factory=list)
    # config field -> the keys and shapes it was read from ("weight_ih_l0 (80, 8): 8 columns")
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The prefix without its trailing dot: what --layer takes."""
        return self.prefix.rstrip(".")


def find(shapes: dict[str, tuple[int, ...]]) -> list[Found]:
    """Every layer and cell among these keys, in the order their first key appears."""
    layers: dict[str, list[str]] = {}
    cells: dict[str, list[str]] = {}
    for key in shapes:
        if "weight_" not in key and "bias_" not in key:  # most keys of a large model: no regex needed
            continue
        match = _LAYER_KEY.fullmatch(key)
        if match:
            layers.setdefault(match["prefix"], []).append(key)
            continue
        match = _CELL_KEY.fullmatch(key)
        if match:
            cells.setdefault(match["prefix"], []).append(key)
    found = [_layer(prefix, keys, shapes) for prefix, keys in layers.items()]
    # weight_ih beside weight_hh marks a cell; a lone bias_ih (say, of some other module) does not.
    found += [_cell(prefix, keys, shapes) for prefix, keys in cells.items()
              if {prefix + "weight_ih", prefix + "weight_hh"} <= set(keys)]
    order = {key: i for i, key in enumerate(shapes)}
    return sorted(found, key=lambda f: min(order[k] for k in f.keys))


@functools.lru_cache(maxsize=4096)
def _spec(**fields: object) -> RNNSpec:
    """RNNSpec(**fields), once per distinct config: a file of 20,000 alike layers validates one."""
    return RNNSpec(**fields)


@functools.lru_cache(maxsize=4096)
def _expected(spec: RNNSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Every parameter name the config has, with its shape (theory.parameters), once per config."""
    return tuple((p.name, tuple(p.shape)) for p in theory.parameters(spec))


def _gates_and_hidden(prefix: str, weight_hh: tuple[int, ...], weight_hr: tuple[int, ...] | None) -> tuple[str, int, int]:
    """mode, hidden_size, proj_size from weight_hh (G*H, H_out) and weight_hr (P, H); ValueError if they contradict."""
    if len(weight_hh) != 2:
        raise ValueError(tr("{key} has shape {shape}, not (G*H, H_out)", key=prefix + "weight_hh", shape=tuple(weight_hh)))
    rows, h_out = weight_hh
    if weight_hr is not None:
        if len(weight_hr) != 2 or weight_hr[0] != h_out:
            raise ValueError(tr("weight_hr {shape} must be (P, H) with P = weight_hh's columns {columns}",
                                shape=tuple(weight_hr), columns=h_out))
        hidden, proj = weight_hr[1], weight_hr[0]
        if rows != 4 * hidden:
            raise ValueError(tr("weight_hr implies an LSTM with H = {hidden}, but weight_hh has {rows} rows, not 4*H = {gates}",
                                hidden=hidden, rows=rows, gates=4 * hidden))
        return "lstm", hidden, proj
    if h_out == 0 or rows % h_out or rows // h_out not in _MODE_OF_GATES:
        raise ValueError(tr("weight_hh has shape {shape}: its rows are not 1, 3 or 4 times its columns (rnn, gru, lstm)",
                            shape=tuple(weight_hh)))
    return _MODE_OF_GATES[rows // h_out], h_out, 0


def _layer(prefix: str, keys: list[str], shapes: dict[str, tuple[int, ...]]) -> Found:
    found = Found(prefix, keys)
    parts = {(m["kind"], int(m["layer"]), bool(m["reverse"])) for m in map(_LAYER_KEY.fullmatch, keys)}
    weight_hh, weight_hr = shapes.get(prefix + "weight_hh_l0"), shapes.get(prefix + "weight_hr_l0")
    weight_ih = shapes.get(prefix + "weight_ih_l0")
    if weight_hh is None or weight_ih is None or len(weight_ih) != 2:
        found.problems.append(tr("no usable {ih} and {hh}: the layer's first weights are what its config is read from",
                                 ih=prefix + "weight_ih_l0", hh=prefix + "weight_hh_l0"))
        return found
    try:
        mode, hidden, proj = _gates_and_hidden(prefix, weight_hh, weight_hr)
    except ValueError as exc:
        found.problems.append(message_of(exc))
        return found
    num_layers = 1 + max(layer for _, layer, _ in parts)
    if num_layers > len(keys) // 2:
        # Every layer has at least weight_ih and weight_hh: some are missing, whatever the config.
        # Said without building the config (a key _l9999 would make theory list 10,000 layers).
        found.problems.append(_missing_layers(prefix, num_layers, parts))
        return found
    try:
        found.spec = _spec(
            mode=mode, input_size=weight_ih[1], hidden_size=hidden, num_layers=num_layers,
            bias=any(kind.startswith("bias") for kind, _, _ in parts),
            bidirectional=any(reverse for _, _, reverse in parts), proj_size=proj,
        )
    except SpecError as exc:
        found.problems.append(tr("the shapes give no valid layer: {reason}", reason=_spec_error(exc)))
        return found
    found.problems += _against_theory(found.spec, prefix, keys, shapes)
    if found.problems:
        found.spec = None
        return found
    layers = found.spec.num_layers
    found.evidence = {
        **_shared_evidence(found.spec, "_l0", weight_ih, weight_hh, weight_hr),
        "num_layers": tr("keys _l0 to _l{last}", last=layers - 1) if layers > 1 else tr("only _l0 keys"),
        "bidirectional": tr("_reverse keys") if found.spec.bidirectional else tr("no _reverse key"),
        "proj_size": tr("weight_hr_l0 {shape}: P rows", shape=theory.shape_text(weight_hr)) if weight_hr else tr("no weight_hr key"),
    }
    return found


def _spec_error(exc: SpecError) -> str:
    """str(exc) of a SpecError (`field message`), its message kept a Message."""
    return join(" ", [exc.field, exc.message]) if isinstance(exc.message, Message) else str(exc)


def _shared_evidence(spec: RNNSpec, suffix: str, weight_ih: tuple[int, ...], weight_hh: tuple[int, ...], weight_hr: tuple[int, ...] | None) -> dict[str, str]:
    """How mode, input_size, hidden_size and bias were read, for a layer (suffix _l0) or a cell ("")."""
    G = spec.gate_multiple
    rows = tr("{rows} rows = {G}*H", rows=weight_hh[0], G=G) if G > 1 else tr("{rows} rows = H", rows=weight_hh[0])
    if weight_hr:
        hidden = tr("{hr} {hr_shape} = (P, H), and {hh} {hh_shape}: {rows}", hr="weight_hr" + suffix, hr_shape=theory.shape_text(weight_hr),
                    hh="weight_hh" + suffix, hh_shape=theory.shape_text(weight_hh), rows=rows)
    else:
        hidden = tr("{hh} {shape}: {rows}, {columns} columns = H", hh="weight_hh" + suffix, shape=theory.shape_text(weight_hh),
                    rows=rows, columns=weight_hh[1])
    if weight_hr:
        mode = tr("{hr}: only an LSTM with proj_size has it", hr="weight_hr" + suffix)
    elif G > 1:
        mode = tr("{hh}: {G} gates ({rows} rows / H = {H})", hh="weight_hh" + suffix, G=G, rows=weight_hh[0], H=spec.hidden_size)
    else:
        mode = tr("{hh}: 1 gate ({rows} rows / H = {H})", hh="weight_hh" + suffix, rows=weight_hh[0], H=spec.hidden_size)
    return {
        "mode": mode,
        "input_size": tr("{ih} {shape}: {columns} columns", ih="weight_ih" + suffix, shape=theory.shape_text(weight_ih), columns=weight_ih[1]),
        "hidden_size": hidden,
        "bias": tr("bias_ih and bias_hh keys") if spec.bias else tr("no bias keys"),
    }


def _cell(prefix: str, keys: list[str], shapes: dict[str, tuple[int, ...]]) -> Found:
    found = Found(prefix, keys)
    weight_ih, weight_hh = shapes[prefix + "weight_ih"], shapes[prefix + "weight_hh"]
    if len(weight_ih) != 2:
        found.problems.append(tr("{key} has shape {shape}, not (G*H, H_in)", key=prefix + "weight_ih", shape=tuple(weight_ih)))
        return found
    try:
        mode, hidden, _ = _gates_and_hidden(prefix, weight_hh, None)
        found.spec = _spec(mode=mode + "cell", input_size=weight_ih[1], hidden_size=hidden,
                           bias=prefix + "bias_ih" in keys or prefix + "bias_hh" in keys)
    except SpecError as exc:
        found.problems.append(_spec_error(exc))
        return found
    except ValueError as exc:
        found.problems.append(message_of(exc))
        return found
    found.problems += _against_theory(found.spec, prefix, keys, shapes)
    if found.problems:
        found.spec = None
        return found
    found.evidence = _shared_evidence(found.spec, "", weight_ih, weight_hh, None)
    return found


def _missing_layers(prefix: str, num_layers: int, parts: set[tuple[str, int, bool]]) -> str:
    """The first layers a group's keys name by number but do not hold."""
    held = {layer for kind, layer, _ in parts if kind == "weight_ih"} & {layer for kind, layer, _ in parts if kind == "weight_hh"}
    missing = [k for k in range(num_layers) if k not in held][:3]
    names = ", ".join(f"{prefix}weight_ih_l{k}/weight_hh_l{k}" for k in missing)
    last = f"{prefix}..._l{num_layers - 1}"
    if num_layers - len(held) > len(missing):
        return tr("keys run up to {last}, but the group holds only {count} keys: missing {names} and more",
                  last=last, count=len(parts), names=names)
    return tr("keys run up to {last}, but the group holds only {count} keys: missing {names}",
              last=last, count=len(parts), names=names)


def _against_theory(spec: RNNSpec, prefix: str, keys: list[str], shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Every key the config implies, with its shape; and no key it does not imply."""
    expected = {prefix + name: shape for name, shape in _expected(spec)}
    problems = [tr("missing {key} {shape}, which {module} with these shapes has", key=key, shape=theory.shape_text(shape), module=spec.module_name)
                for key, shape in expected.items() if key not in shapes]
    problems += [tr("{key} has shape {shape}, but the other keys imply {expected}", key=key, shape=theory.shape_text(shapes[key]),
                    expected=theory.shape_text(expected[key]))
                 for key in keys if key in expected and tuple(shapes[key]) != expected[key]]
    problems += [tr("{key} does not belong to {module} with these shapes", key=key, module=spec.module_name)
                 for key in keys if key not in expected]
    return problems
