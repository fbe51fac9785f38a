"""The JSON Schema of `summary -f json` (Summary.to_dict()) and `check -f json`: the model room's share.

rnnshape/schema.py owns the document, its helpers and the shared pieces; it
asks here for these two kinds and the definitions only they use (called, not
imported at module level, since rnnshape.schema imports this module).
"""

from __future__ import annotations

from typing import Any

from rnnshape.model.diagnose import CAUSES


def definitions() -> dict[str, dict[str, Any]]:
    from rnnshape.schema import _closed, _count, _or_null, _ref, _resource, _text, _texts

    shape = _ref("shape")
    dtype = _text("torch's dtype name without torch.: float32, int64, ...")
    tensor = _closed({"kind": {"const": "tensor"}, "shape": shape, "dtype": dtype, "device": _text("cpu, cuda:0, meta, mps")})
    packed = _closed({
        "kind": {"const": "packed"},
        "shape": {**shape, "description": "The PackedSequence's .data: (sum(lengths), features)."},
        "dtype": dtype,
        "device": _text("Where .data is."),
        "batch_sizes": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "batch_sizes[t]: sequences still running at step t."},
        "lengths": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "Each sequence's length, in the batch's own order."},
        "sorted_indices": _or_null({"type": "array", "items": {"type": "integer", "minimum": 0}}, "null when the batch came sorted (enforce_sorted)."),
    })
    other = _closed({"kind": {"const": "other"}, "type": _text("The argument's type: it is no tensor.")})
    facts = {"oneOf": [tensor, packed, other]}

    structure_tensor = _closed({"kind": {"const": "tensor"}, "shape": shape, "dtype": dtype})
    structure_packed = _closed({key: value for key, value in packed["properties"].items() if key != "device"})
    structure = {"oneOf": [
        structure_tensor,
        structure_packed,
        _closed({"kind": {"enum": ["tuple", "list"]}, "items": {"type": "array", "items": _ref("structure")}}),
        _closed({"kind": {"const": "dict"}, "items": {"type": "object", "additionalProperties": _ref("structure")}}),
        _closed({"kind": {"const": "none"}}),
        _closed({"kind": {"const": "other"}, "type": _text("The type of what came back: no tensor.")}),
        _closed({"kind": {"const": "raised"}, "type": _text("The exception the call raised instead of returning.")}),
    ]}

    explanation = _closed({
        "module_path": _text("Where the module sits in the model (\"\" for the model itself, or a module called on its own)."),
        "module": _text("Its constructor (nn.LSTM(256, 256)), or its type."),
        "error": _closed({"type": _text("The exception's type."), "message": _text("torch's own words.")}),
        "given": {"type": "array", "description": "What it got, each argument's shape, dtype and device.",
                  "items": _closed({"name": _text("input, h_0, c_0, or argument <i>"), "facts": _text("shape dtype device, or not given.")})},
        "expected": {"type": "array", "description": "What it takes, for its config and the input's L and N (empty for a module without formulas).",
                     "items": _closed({"name": _text("input, h_0 or c_0."),
                                       "shape": {"type": ["string", "null"], "description": "The shape; null where the input fixes none."},
                                       "dims": _text("The dimensions' names.")})},
        "differences": _texts("Exactly what differs from what the module takes: dims, dtype, device. Facts, not guesses."),
        "causes": {"type": "array", "description": "The likely causes, most specific first; empty when none fits.",
                   "items": _closed({"name": {"type": "string", "enum": [c.name for c in CAUSES]},
                                     "says": _text("What it means, in plain words."), "fix": _text("The fix, one line of code.")})},
    })

    row = _closed({
        "path": _text("The module's path in the model, as named_modules() gives it (\"\" for the model itself)."),
        "type": _text("nn.<Class> for torch's modules, the class name for the user's."),
        "depth": _count("How deep in the tree: 0 for the model itself."),
        "parameters": _count("Parameters of the module and everything under it, each once."),
        "calls": _count("How many times its forward ran (0: not called)."),
        "outputs": {"type": "array", "description": "What its calls returned, equal returns counted together, in the order first seen.",
                    "items": _closed({"structure": _ref("structure"), "text": _text("As the table shows it."), "calls": _count("How many calls returned it.")})},
    })
    group = _closed({
        "path": _text("The recurrent module's path in the model."),
        "module": _text("Its constructor, e.g. nn.LSTM(64, 128, batch_first=True)."),
        "calls": {"type": "integer", "minimum": 1, "description": "How many calls were given these shapes (a decoder cell in a loop: one group)."},
        "given": _ref("given"),
        "macs_per_call": {"type": ["integer", "null"], "minimum": 0, "description": "Multiply-accumulates of one such call; null where report is."},
        "report": _or_null(_ref("inspect"), "inspect's report of the first such call, on the tensors it really got; null where rnnshape cannot describe it."),
        "problem": {"type": ["string", "null"], "description": "Why report is null; null otherwise."},
    })
    given = _closed({name: _or_null(_ref("facts"), f"{name} as the call got it; null where not given (torch starts from zeros).")
                     for name in ("input", "h_0", "c_0")})
    return {
        "facts": _resource("facts", "facts", "One argument of a call: a tensor, a PackedSequence, or something else.", facts),
        "given": _resource("given", "given", "What one call of a recurrent module got.", given),
        "structure": _resource("structure", "structure", "What a module returned, by kind: shapes, never values.", structure),
        "explanation": _resource("explanation", "explanation", "torch's refusal of a module's arguments, explained: "
                                 "what it got, what it takes, what differs, the likely causes and fixes.", explanation),
        "module_row": _resource("module_row", "module row", "One module of the model, in tree order.", row),
        "recurrent_group": _resource("recurrent_group", "recurrent group", "A recurrent module's calls given the same shapes.", group),
    }


def kinds() -> dict[str, dict[str, Any]]:
    from rnnshape.schema import _CONFIG, _NOTES, _SCHEMA_VERSION, _array_of, _closed, _count, _flag, _or_null, _ref, _resource, _text

    summary = _closed({
        "schema_version": _SCHEMA_VERSION,
        "model": _text("The model's type."),
        "training": _flag("The model's mode when it ran (dropout acts in training mode; shapes are the same)."),
        "modules": _array_of("module_row", "Every module in tree order (named_modules()), with what each call returned."),
        "recurrent": _array_of("recurrent_group", "Every recurrent module's calls, grouped by the shapes they got, in the order first seen."),
        "total_parameters": _count("Every parameter of the model, each once."),
        "trainable_parameters": _count("Those with requires_grad."),
        "recurrent_parameters": _count("Those of nn.RNN, nn.LSTM, nn.GRU and their cells."),
        "recurrent_macs": _count("Multiply-accumulates of every recurrent call, on the shapes it got."),
        "error": _or_null(_ref("explanation"), "The forward raised (the command line only; the Python API re-raises): "
                          "explained where it raised; null when it ran through."),
        "notes": _NOTES,
        "ok": _flag("Whether the forward ran through and every recurrent call's checks held."),
    })
    check = _closed({
        "schema_version": _SCHEMA_VERSION,
        "module": _text("The layer the flags built, e.g. nn.LSTM(256, 256)."),
        "config": {**_CONFIG, "description": "The layer's config; L, N, unbatched and lengths as torch read them from the input where it took it."},
        "given": _ref("given"),
        "accepted": _flag("Whether torch took tensors of these shapes."),
        "report": _or_null(_ref("inspect"), "inspect's report on tensors of these shapes; null where torch refused them."),
        "explanation": _or_null(_ref("explanation"), "Why torch refused them; null where it accepted them."),
        "ok": _flag("Whether torch accepted them and every check held."),
    })
    check["if"] = {"properties": {"accepted": {"const": True}}}
    check["then"] = {"properties": {"report": {"type": "object"}, "explanation": {"type": "null"}}}
    check["else"] = {"properties": {"report": {"type": "null"}, "explanation": {"type": "object"}, "ok": {"const": False}}}
    return {
        "summary": _resource("summary", "rnnshape summary TARGET -f json", "A whole model run once (Summary.to_dict()): every "
                             "module with what it returned, each recurrent call as inspect reports it, and the totals.", summary),
        "check": _resource("check", "rnnshape check -f json", "A layer fed tensors of the shapes given: what torch produced, "
                           "or its refusal explained.", check),
    }
