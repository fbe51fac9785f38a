"""What a module returned, as text for a table and as data for JSON: shapes, not values.

A forward may return a tensor, a PackedSequence, tuples and lists of them
(an LSTM's (output, (h_n, c_n))), dicts, None, or anything else; each is
described by kind, so that the JSON says which it was.
"""

from __future__ import annotations

from typing import Any

from rnnshape.language import fill, join, tr
from rnnshape.model.given import facts_of, PackedFacts, TensorFacts
from rnnshape.theory import shape_text

# Containers nested deeper than this are shown as "..." (real outputs nest two or three).
_MAX_DEPTH = 8


def structure(value: Any, depth: int = 0) -> dict[str, Any]:
    """The JSON form: {"kind": "tensor" | "packed" | "tuple" | "list" | "dict" | "none" | "other", ...}."""
    if value is None:
        return {"kind": "none"}
    if depth > _MAX_DEPTH:
        return {"kind": "other", "type": "..."}
    if isinstance(value, (tuple, list)) and not hasattr(value, "batch_sizes"):
        return {"kind": "list" if isinstance(value, list) else "tuple", "items": [structure(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): structure(v, depth + 1) for k, v in value.items()}}
    facts = facts_of(value)
    if isinstance(facts, (TensorFacts, PackedFacts)):
        out = facts.to_dict()
        out.pop("device")
        return out
    return {"kind": "other", "type": type(value).__qualname__}


def structure_text(value: Any, depth: int = 0) -> str:
    """The table form: (5, 3, 40), ((2, 3, 20), (2, 3, 20)); a PackedSequence as packed (24, 40)."""
    if value is None:
        return "None"
    if depth > _MAX_DEPTH:
        return "..."
    # Composed with join and fill (no words of their own), so that a "packed" inside is still said in the language.
    if isinstance(value, (tuple, list)) and not hasattr(value, "batch_sizes"):
        inner = join(", ", [structure_text(v, depth + 1) for v in value])
        return inner if depth == 0 else fill("[{inner}]" if isinstance(value, list) else "({inner})", inner=inner)
    if isinstance(value, dict):
        items = join(", ", [fill("{key}: {value}", key=k, value=structure_text(v, depth + 1)) for k, v in value.items()])
        return fill("{{{items}}}", items=items)
    facts = facts_of(value)
    if isinstance(facts, PackedFacts):
        return tr("packed {shape}", shape=shape_text(facts.data.shape))
    if isinstance(facts, TensorFacts):
        return shape_text(facts.shape)
    return type(value).__qualname__
