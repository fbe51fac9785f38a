"""What the learner's function returned, read as nn.RNN's forward returns it.

A layer returns output, (output, h_n), or for an LSTM (output, (h_n, c_n));
(output, h_n) from an LSTM is taken too, c_n then not compared. A cell returns
h_1, or for an LSTMCell (h_1, c_1) (h_1 alone too). An output that is a
PackedSequence is padded as torch pads it. Anything else is refused (exit 2),
saying what came back, with every type and shape. Shapes are not judged here:
a tensor of the wrong shape is a failed check (exit 1), named in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnshape import theory
from rnnshape.errors import SpecError
from rnnshape.language import fill, join, tr
from rnnshape.spec import RNNSpec

# Every sentence this module says to a person, in one place (for translation).
MESSAGES = {
    "refused": tr("{target!r}: {function}() returned {what}; it must return what nn.{module} returns: {contract}"),
    "layer": tr("output, or (output, h_n)"),
    "lstm": tr("output, (output, h_n) or (output, (h_n, c_n))"),
    "cell": "h_1",  # code: the same in every language
    "lstmcell": tr("h_1, or (h_1, c_1)"),
    "tuple": tr("a {kind} of {count}: ({items})"),
    "other": tr("a {kind}"),  # one value of a type: "a int", "a str"
    "left_out": tr("{function}() returned no {names}: not compared"),
    "not_finite": tr("{function}() returned NaN or inf in {names}: those values count as differing, and the error "
                     "columns are the largest over the finite ones"),
    "dtype": tr("{function}() returned {dtype} tensors where nn.{module} computes in {module_dtype}: a buffer made with "
                "torch.zeros(...) is float32 unless given dtype=input.dtype"),
}


@dataclass
class Returned:
    """The tensors the function returned, by torch's names: output, h_n, c_n (a cell's h_1, c_1); only those it returned."""

    tensors: dict[str, Any]


def contract(spec: RNNSpec) -> str:
    key = ("lstmcell" if spec.lstm else "cell") if spec.is_cell else ("lstm" if spec.lstm else "layer")
    return MESSAGES[key]


def read(value: Any, spec: RNNSpec, function: str, target: str) -> Returned:
    """The returned value as named tensors; SpecError (exit 2, naming --against) where it is not nn.<Module>'s contract."""
    import torch

    packed = torch.nn.utils.rnn.PackedSequence

    def tensor(v: Any) -> bool:
        return torch.is_tensor(v) or isinstance(v, packed)

    def pair(v: Any) -> bool:
        return isinstance(v, (tuple, list)) and not isinstance(v, packed) and len(v) == 2 and all(torch.is_tensor(t) for t in v)

    names = ("h_1", "c_1") if spec.is_cell else ("output", "h_n", "c_n")
    found: dict[str, Any] | None = None
    if tensor(value):
        found = {names[0]: value}
    elif isinstance(value, (tuple, list)) and not isinstance(value, packed) and len(value) == 2:
        first, second = value
        if spec.is_cell:
            if spec.lstm and pair(value):
                found = {"h_1": first, "c_1": second}
        elif tensor(first) and torch.is_tensor(second):
            found = {"output": first, "h_n": second}
        elif tensor(first) and spec.lstm and pair(second):
            found = {"output": first, "h_n": second[0], "c_n": second[1]}
    if found is None or (spec.is_cell and not all(torch.is_tensor(t) for t in found.values())):
        raise SpecError("against", fill(
            MESSAGES["refused"], target=target, function=function, what=describe(value), module=spec.module_name, contract=contract(spec)))
    if isinstance(found.get("output"), packed):
        found["output"] = torch.nn.utils.rnn.pad_packed_sequence(found["output"], batch_first=spec.batch_first,
                                                                  total_length=spec.seq_len)[0]
    return Returned(found)


def describe(value: Any, depth: int = 0) -> str:
    """A value as a person reads it in one line: 'a tuple of 2: (Tensor (5, 3, 20), None)'."""
    shape = getattr(value, "shape", None)
    kind = type(value)
    name = kind.__name__ if kind.__module__ in ("builtins", "torch") else f"{kind.__module__.split('.')[0]}.{kind.__name__}"
    if shape is not None and not isinstance(value, (tuple, list)):
        return f"{name} {theory.shape_text(tuple(shape))}"
    if isinstance(value, (tuple, list)) and depth < 2:
        items = join(", ", [describe(v, depth + 1) for v in list(value)[:4]] + (["..."] if len(value) > 4 else []))
        return fill(MESSAGES["tuple"], kind=name, count=len(value), items=items)
    return "None" if value is None else fill(MESSAGES["other"], kind=name)


def expected_shapes(spec: RNNSpec) -> dict[str, tuple[int, ...]]:
    """The shape torch gives each returned tensor: output (padded where packed), h_n, c_n; a cell's h_1, c_1."""
    shapes = {t.name: tuple(t.shape) for t in theory.tensors(spec)}
    if "padded_output" in shapes:
        shapes["output"] = shapes["padded_output"]
    return {name: shapes[name] for name in ("output", "h_n", "c_n", "h_1", "c_1") if name in shapes}


def notes(returned: Returned, spec: RNNSpec, function: str) -> list[str]:
    """What was left out (not compared), and a dtype other than the module's."""
    out = []
    wanted = ("h_1", "c_1") if spec.is_cell else ("output", "h_n", "c_n")
    missing = [n for n in wanted if n not in returned.tensors and (spec.lstm or n not in ("c_n", "c_1"))]
    if missing:
        out.append(fill(MESSAGES["left_out"], function=function, names=", ".join(missing)))
    import torch

    odd = [n for n, t in returned.tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all().item())]
    if odd:
        out.append(fill(MESSAGES["not_finite"], function=function, names=", ".join(odd)))
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in returned.tensors.values()} - {spec.dtype})
    if dtypes:
        out.append(fill(MESSAGES["dtype"], function=function, dtype=", ".join(dtypes), module=spec.module_name,
                                            module_dtype=spec.dtype))
    return out
