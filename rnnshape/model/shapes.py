"""The shapes and dtypes a user types (--input-shape 8,8,256, --input-dtype int64), parsed without torch.

Kept apart from check.py and target.py so that a malformed flag is refused in
the time it takes to import Typer: nothing here imports probe or torch.
"""

from __future__ import annotations

import math
from typing import Any

from rnnshape.errors import SpecError
from rnnshape.language import tr
from rnnshape.spec import DTYPES, RNNSpec, parse_lengths

# What --input-dtype takes: the float dtypes a layer runs, and the integer ones token ids come in.
INPUT_DTYPES = DTYPES + ("int64", "int32")
_MAX_DIMS = 6
_MAX_NUMEL = 2**63 - 1
ITEM_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4}


def parse_shape(field: str, text: str) -> tuple[int, ...]:
    """'8,8,256' (or 8x8x256, (8, 8, 256), [8, 8, 256]) -> (8, 8, 256); SpecError naming the flag."""
    inner = text.strip().removeprefix("(").removesuffix(")").removeprefix("[").removesuffix("]").strip().rstrip(",")
    separator = next((sep for sep in (",", "x", "×") if sep in inner), None)
    parts = inner.split(separator) if separator else inner.split()
    try:
        shape = tuple(int(p.strip()) for p in parts)
    except ValueError:
        raise SpecError(field, tr("must be sizes separated by commas, e.g. 8,8,256 (got {value!r})", value=text)) from None
    if not shape or any(n < 0 for n in shape) or len(shape) > _MAX_DIMS:
        raise SpecError(field, tr("must be 1 to {most} sizes >= 0, e.g. 8,8,256 (got {value!r})", most=_MAX_DIMS, value=text))
    if math.prod(shape) > _MAX_NUMEL:
        raise SpecError(field, tr("is too large: {n} elements, more than torch's int64 sizes hold (got {value!r})",
                                  n=math.prod(shape), value=text))
    return shape


def parse_dtype(field: str, text: str, allowed: tuple[str, ...] = INPUT_DTYPES) -> str:
    name = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32"}.get(text.strip().lower(), text.strip().lower())
    name = name.removeprefix("torch.")
    if name not in allowed:
        raise SpecError(field, tr("must be one of {choices} (got {value!r})", choices=", ".join(allowed), value=text))
    return name


def parse_given_lengths(text: str) -> tuple[int, ...]:
    """--lengths as the user has them: positive integers, in any order (torch decides whether it takes them)."""
    lengths = parse_lengths(text)
    if any(n < 1 for n in lengths):
        raise SpecError("lengths", tr("must be positive integers, one per sequence (got {value!r})", value=text))
    return lengths


def refuse_inapplicable(spec: RNNSpec, *, h0_shape: Any, c0_shape: Any, lengths: Any) -> None:
    """Flags that cannot apply to this layer at all: refused (exit 2) before anything is built."""
    if c0_shape is not None and not spec.lstm:
        raise SpecError("c0_shape", tr("is for lstm and lstmcell: nn.{module} has no cell state", module=spec.module_name))
    if c0_shape is not None and h0_shape is None:
        raise SpecError("c0_shape", tr("needs --h0-shape too: an LSTM takes its state as (h_0, c_0), both or neither"))
    if lengths is not None and spec.is_cell:
        raise SpecError("lengths", tr("is for layers, not cells: nn.{module} takes one time step, not a packed sequence",
                                      module=spec.module_name))
