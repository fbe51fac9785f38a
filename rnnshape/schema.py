"""The JSON Schema (draft 2020-12) of every JSON rnnshape writes: `rnnshape schema [KIND]`.

One schema per kind of output: "inspect" (`inspect -f json`, `Report.to_dict()`),
"verify" (`verify -f json`), "sweep" (one row: `sweep -f json` writes an array of
them, `-f jsonl` one a line), "checkpoint" (`checkpoint FILE -f json`), and the
model room's two, "summary" (`summary TARGET -f json`, `Summary.to_dict()`) and
"check" (`check -f json`), whose pieces rnnshape/model/schema.py writes.

Written by hand, so that it says what the output promises rather than what one
run happened to produce: every key an object always has is `required`, every
object rnnshape owns is closed (`additionalProperties: false`, or
`unevaluatedProperties: false` where it extends a shared definition), and null
is allowed only where the output can hold it. tests/test_schema.py validates
real outputs of every command against it, so a key added, renamed or retyped
without updating this file fails there.

Shared pieces (config, tensor, parameter, checks, ...) live under `$defs`, each
its own resource with an `$id`, and are referred to by that `$id`: a reference
then resolves the same in one kind's standalone document and in the document
that holds them all. No torch and no rich here: the schema command answers in
the time it takes to import Typer.
"""

from __future__ import annotations

from typing import Any

from rnnshape import cost
from rnnshape.checkpoint_file import IN_MEMORY, SAFETENSORS, TORCH_LEGACY, TORCH_ZIP
from rnnshape.errors import ArgumentProblem
from rnnshape.spec import _DEVICE_RE, _MAX_SEED, CELL_MODES, DTYPES, GATES, MODES, NONLINEARITIES, STATE_INITS, UNKNOWN_FROM_KEYS, RNNSpec
from rnnshape.sweep import COST_KEYS, SHAPES
from rnnshape.theory import DIRECTIONS

# The "schema_version" every output carries (report.SCHEMA_VERSION, which is not
# imported here: report.py imports probe; tests/test_schema.py compares the two).
SCHEMA_VERSION = 1
DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("inspect", "verify", "sweep", "checkpoint", "summary", "check")

# Tensor names and their dimension names, as theory.tensors gives them.
_LAYER_TENSORS = ("input", "h_0", "c_0", "output", "h_n", "c_n")
_PACKED_TENSORS = ("input", "packed_input", "h_0", "c_0", "packed_output", "padded_output", "h_n", "c_n")
_CELL_TENSORS = ("input", "h_0", "c_0", "h_1", "c_1")
_LSTM_ONLY = ("c_0", "c_n", "c_1")
_DIMS = ("L", "N", "H_in", "H", "H_out", "H_cell", "D*num_layers", "D*H_out", "sum(lengths)")
# The tensors verify compares (verify.TENSORS; verify.py imports probe).
_VERIFIED_TENSORS = ("output", "h_n", "c_n", "h_1", "c_1")
_PARAMETER_NAME = r"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(_l[0-9]+(_reverse)?)?$"


def _id(name: str) -> str:
    return f"urn:rnnshape:schema:{SCHEMA_VERSION}:{name}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _id(name)}


def _or_null(schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"anyOf": [schema, {"type": "null"}]}
    if description:
        out["description"] = description
    return out


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _count(description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "description": description}


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def _texts(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def _array_of(name: str, description: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name), "description": description}


def _closed(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An object with exactly these keys (all of them required unless `required` says otherwise)."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False, **extra}


def _resource(name: str, title: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$id": _id(name), "title": title, "description": description, **schema}


_POSITIVE = {"type": "integer", "minimum": 1}
_SCHEMA_VERSION = {"const": SCHEMA_VERSION, "description": "The version of this JSON contract; it changes when a key changes meaning."}
_NOTES = _texts("Plain sentences: torch's warnings, and what this configuration means for the answer.")
_OK = _flag("Whether every check held (a skipped check does not fail).")
_CONFIG = {**_ref("config"), "description": "The configuration that ran (or was predicted), as RNNSpec holds it."}

# Keys inspect's report and a checkpoint's layer share: written once, used by both.
_REPORT_FIELDS: dict[str, Any] = {
    "tensors": _ref("tensors"),
    "packing": _or_null(_ref("packing"), "Packed input only (--lengths): what pack_padded_sequence made of the lengths; null otherwise."),
    "h_n_rows": _array_of("h_n_row", "Which layer and direction each row of h_n (and c_n) holds; empty for a cell."),
    "relations": _array_of("relation", "Identities between output and h_n, checked bit for bit on the real tensors; empty for a cell."),
    "total_parameters": _count("Entries of named_parameters(), counted on what torch built (the formulas' count with --no-run)."),
    "predicted_total_parameters": _count("The closed-form count (count_formula)."),
    "count_formula": _text("The parameter count in PyTorch's symbols."),
    "count_formula_substituted": _text("The same with this configuration's numbers, then ' = ' and the total."),
}


def _definitions() -> dict[str, dict[str, Any]]:
    """Every shared sub-schema, by name; each carries its own $id, title and description."""
    direction = {"type": "string", "enum": list(DIRECTIONS)}
    shape = {"type": "array", "items": {"type": "integer", "minimum": 0}}
    config = _closed({
        "mode": {"type": "string", "enum": list(MODES), "description": "A layer (rnn, lstm, gru) or a one-step cell."},
        "input_size": {**_POSITIVE, "description": "H_in: features per time step."},
        "hidden_size": {**_POSITIVE, "description": "H: hidden state size (H_cell for lstm)."},
        "num_layers": {**_POSITIVE, "description": "Stacked layers (1 for a cell)."},
        "bias": _flag("Whether the layer has bias_ih and bias_hh."),
        "batch_first": _flag("Layout of input and output (never of h_0/h_n)."),
        "dropout": {"type": "number", "minimum": 0, "maximum": 1, "description": "Dropout between layers."},
        "bidirectional": _flag("D = 2 when true, else 1."),
        "proj_size": _count("lstm only: P, the projected size of h; 0 for none."),
        "nonlinearity": {"type": "string", "enum": list(NONLINEARITIES), "description": "rnn and rnncell only; tanh elsewhere."},
        "seq_len": {"type": ["integer", "null"], "minimum": 1,
                    "description": "L of the dummy input (the longest of lengths when packed); null for a cell, which takes one step."},
        "batch_size": _count("N of the dummy input (how many lengths when packed); 0 is an empty batch."),
        "unbatched": _flag("Whether the input has no batch dimension."),
        "device": {"type": "string", "pattern": _DEVICE_RE.pattern, "description": "Where it ran: cpu, cuda, cuda:N, mps or meta."},
        "dtype": {"type": "string", "enum": list(DTYPES), "description": "Parameter and input dtype."},
        "seed": {"type": "integer", "minimum": 0, "maximum": _MAX_SEED, "description": "Seeds the initial weights and the dummy input."},
        "lengths": _or_null({"type": "array", "items": _POSITIVE, "minItems": 1}, "Packed input: one length per sequence; null when not packed."),
        "enforce_sorted": _flag("pack_padded_sequence's enforce_sorted (true when not packed)."),
        "h0": {"type": "string", "enum": list(STATE_INITS), "description": "The dummy h_0: drawn from the seed (randn), zeros or ones."},
        "c0": {"type": "string", "enum": list(STATE_INITS), "description": "The dummy c_0 (lstm, lstmcell), as h0; randn elsewhere."},
    })
    # A cell takes one step: no seq_len, no packing.
    config["if"] = {"properties": {"mode": {"enum": list(CELL_MODES)}}}
    config["then"] = {"properties": {"seq_len": {"type": "null"}, "lengths": {"type": "null"}}}
    config["else"] = {"properties": {"seq_len": {"type": "integer"}}}

    tensor = _closed({
        "shape": _or_null(_ref("shape"), "What torch produced (the formulas' shape with --no-run); null where torch could not produce it here, see unavailable."),
        "dims": {"type": "array", "items": {"type": "string", "enum": list(_DIMS)}, "description": "The name of each dimension, in PyTorch's symbols."},
        "predicted_shape": {**_ref("shape"), "description": "What the documented formulas predict."},
        "meaning": _text("What the tensor holds."),
        "unavailable": _text("Why torch could not produce this tensor here, or that a real call did not give it (h_0 left out: torch started from zeros); shape is then null."),
    }, required=["shape", "dims", "predicted_shape", "meaning"])
    tensor["if"] = {"properties": {"shape": {"type": "null"}}}
    tensor["then"] = {"required": ["unavailable"]}
    tensor["else"] = {"not": {"required": ["unavailable"]}}

    def tensor_set(title: str, names: tuple[str, ...]) -> dict[str, Any]:
        # Names only: the tensors themselves are checked once, by `tensors`' properties (clearer errors than in a oneOf).
        return {"title": title, "required": [n for n in names if n not in _LSTM_ONLY], "propertyNames": {"enum": list(names)}}

    every_tensor = dict.fromkeys(_PACKED_TENSORS + _LAYER_TENSORS + _CELL_TENSORS)
    tensors = {**_closed({name: _ref("tensor") for name in every_tensor}, required=[]), "oneOf": [
        tensor_set("a layer", _LAYER_TENSORS),
        tensor_set("a layer fed packed input (--lengths)", _PACKED_TENSORS),
        tensor_set("a cell: one step", _CELL_TENSORS),
    ]}

    parameter_fields = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": _PARAMETER_NAME, "description": "As named_parameters() names it (a cell's names have no _l<k>)."},
            "shape": {**_ref("shape"), "description": "The shape torch built (the formulas' with --no-run)."},
            "numel": _count("Entries: the product of shape."),
            "layer": {"type": ["integer", "null"], "minimum": 0, "description": "Its layer (0 for a cell); null for a name the formulas do not predict."},
            "direction": _or_null(_ref("direction"), "Its direction; null for a name the formulas do not predict."),
            "init_bound": {"type": "number", "exclusiveMinimum": 0, "description": "sqrt(1/hidden_size): PyTorch draws every parameter from U(-bound, bound)."},
            "observed_min": {"type": ["number", "null"], "description": "The smallest value; null where no values exist (--device meta, --no-run)."},
            "observed_max": {"type": ["number", "null"], "description": "The largest value; null where no values exist."},
            "within_bound": {"type": ["boolean", "null"], "description": "Whether every value lies within init_bound; null where no values exist."},
            "gates": {"type": "array", "items": {"type": "string", "enum": sorted({g for gates in GATES.values() for g in gates})},
                      "description": "The gate blocks its rows hold, top to bottom; empty where the rows are not gates (rnn, weight_hr)."},
            "bytes": _count("numel times the dtype's bytes."),
            "macs": {"type": ["integer", "null"], "minimum": 0, "description": "Multiply-accumulates it takes part in per forward; null for a name the formulas do not predict."},
            "adds": {"type": ["integer", "null"], "minimum": 0, "description": "Bias adds it takes part in per forward; null for a name the formulas do not predict."},
            "predicted_shape": _or_null(_ref("shape"), "The formulas' shape; null for a name the formulas do not predict."),
            "mean": {"type": ["number", "null"], "description": "Mean of given values (a checkpoint's, a live module's; finite ones); null for the seeded draw, when not read (--no-run) or none is finite."},
            "std": {"type": ["number", "null"], "minimum": 0, "description": "Their standard deviation (unbiased); null for the seeded draw, when not read, or fewer than 2 are finite."},
            "non_finite": {"type": ["integer", "null"], "minimum": 0, "description": "How many given values are NaN or inf (left out of every statistic); null for the seeded draw or when not read."},
        },
    }
    parameter_fields["required"] = list(parameter_fields["properties"])

    checkpoint_parameter = {
        "allOf": [_ref("parameter_fields")],
        "type": "object",
        "properties": {
            "key": _text("Its key in the file's state_dict (the layer's prefix, then name)."),
        },
        "required": ["key"],
        "unevaluatedProperties": False,
    }

    cost_item = _closed({
        "key": {"type": "string", "enum": list(cost.KEYS.values()), "description": "The item's name as a key (sweep's columns)."},
        "name": {"type": "string", "enum": list(cost.KEYS), "description": "The item's name as the table shows it."},
        "value": _count("The count, in unit."),
        "unit": {"type": "string", "enum": ["MACs", "ops", "bytes"]},
        "formula": _text("In PyTorch's symbols."),
        "substituted": _text("This configuration's numbers, then ' = ' and value."),
        "convention": _text("What exactly is counted."),
    })

    defs: dict[str, dict[str, Any]] = {
        "direction": _resource("direction", "direction", "A direction of a bidirectional layer (a unidirectional one has only forward).", direction),
        "shape": _resource("shape", "shape", "A tensor's shape, as torch.Size lists it.", shape),
        "config": _resource("config", "config", "The layer and its dummy input: RNNSpec's fields, in its order, after "
                            "validation (seq_len and batch_size resolved from --lengths or the defaults).", config),
        "tensor": _resource("tensor", "tensor", "One tensor that goes into or comes out of the module: the shape torch "
                            "produced beside the documented one.", tensor),
        "tensors": _resource("tensors", "tensors", "Every tensor by name: a layer's, a packed layer's, or a cell's "
                             "(c_0 and c_n or c_1 for lstm and lstmcell only).", tensors),
        "packing": _resource("packing", "packing", "What pack_padded_sequence made of the lengths.", _closed({
            "lengths": {"type": "array", "items": _POSITIVE, "minItems": 1, "description": "One per sequence, as given."},
            "batch_sizes": {"type": "array", "items": _POSITIVE, "minItems": 1, "description": "batch_sizes[t]: how many sequences are still running at step t."},
            "sorted_indices": _or_null({"type": "array", "items": {"type": "integer", "minimum": 0}},
                                       "The batch, longest first; null with enforce_sorted (torch leaves it None), "
                                       "and on meta, where its values do not exist."),
        })),
        "h_n_row": _resource("h_n_row", "h_n row", "Row layer*D + direction of h_n (and c_n).", _closed({
            "row": _count("The row index."),
            "layer": _count("Its layer."),
            "direction": _ref("direction"),
        })),
        "relation": _resource("relation", "relation", "An identity between output and h_n that holds for every input.", _closed({
            "name": _text("What the identity says."),
            "identity": _text("The identity in the configuration's own layout, as Python indexing."),
            "why": _text("Why it holds."),
            "held": {"type": ["boolean", "null"], "description": "Whether it held on the real tensors; null where no values exist (meta, --no-run)."},
        })),
        "parameter_fields": _resource("parameter_fields", "parameter (shared fields)",
                                      "What inspect and checkpoint both say about one entry of named_parameters(); "
                                      "parameter and checkpoint_parameter close it.", parameter_fields),
        "parameter": _resource("parameter", "parameter", "One entry of named_parameters(): drawn from the seeded init, "
                               "or given (a live module's own weights, a checkpoint's).",
                               {"allOf": [_ref("parameter_fields")], "unevaluatedProperties": False}),
        "checkpoint_parameter": _resource("checkpoint_parameter", "checkpoint parameter",
                                          "One entry of named_parameters(), loaded from the file: inspect's fields, then "
                                          "the key it has in the file and the saved values' statistics.", checkpoint_parameter),
        "cost_item": _resource("cost_item", "cost item", "One figure of what a forward pass costs, from closed forms.", cost_item),
        "cost": _resource("cost", "cost", "What one forward pass costs: MACs, ops, bytes.", _closed({
            "macs": _count("Multiply-accumulates of every layer, direction and step."),
            "items": {"type": "array", "items": _ref("cost_item"), "minItems": len(cost.KEYS), "maxItems": len(cost.KEYS),
                      "description": "Every item, in the order the table shows them."},
            "fused_kernel_note": {"type": ["string", "null"],
                                  "description": "Where torch's fused kernel (oneDNN, cuDNN) hides the matmuls from FlopCounterMode; null elsewhere."},
        })),
        "checks": _resource("checks", "checks", "How the predictions fared against what torch produced.", _closed({
            "passed": _count("Checks that held."),
            "failed": _count("Checks that did not."),
            "skipped": _count("Checks that could not be made (no values on meta; nothing observed with --no-run)."),
            "failures": {"type": "array", "description": "Every failed check.", "items": _closed({
                "name": _text("What was compared."),
                "predicted": _text("What the formulas say."),
                "observed": _text("What torch produced."),
            })},
        })),
        "verified_tensor": _resource("verified_tensor", "verified tensor", "A tensor verify compares: a layer's output, "
                                     "h_n and c_n; a cell's h_1 and c_1.", {"type": "string", "enum": list(_VERIFIED_TENSORS)}),
        "config_as_given": _resource("config_as_given", "config as given", "A sweep row's configuration where it could not "
                                     "be answered: each value as its flag gave it, converted to its field's type where it "
                                     "parses (else the text as given), seq_len and batch_size null where not given.",
                                     _closed(_config_as_given())),
        "checkpoint_layer": _resource("checkpoint_layer", "checkpoint layer", "One recurrent layer or cell found in the "
                                      "file, run on its own weights as inspect runs a layer.", _checkpoint_layer()),
        "inconsistent_group": _resource("inconsistent_group", "inconsistent group", "Keys that look recurrent but give no "
                                        "valid layer: reported with the keys involved, never guessed around.", _closed({
                                            "name": _text("Where the keys lie: the state_dict's place in the file, then their prefix."),
                                            "prefix": _text("The keys' prefix, without its trailing dot."),
                                            "state_dict": _texts("The state_dict's place in the file: the keys leading to it ([] for the whole file)."),
                                            "keys": {**_texts("The keys of the group."), "minItems": 1},
                                            "problems": {**_texts("What is wrong with them."), "minItems": 1},
                                        })),
    }
    from rnnshape.model import schema as model_schema

    return {**defs, **model_schema.definitions()}


def _against() -> dict[str, Any]:
    """The keys `verify --against FILE.py:FUNCTION -f json` adds: the learner's function in the reference's place."""
    from rnnshape.learner.mistakes import NAMES

    tensor = _ref("verified_tensor")
    return {
        "against": _text("The function checked: FILE.py:FUNCTION as given, or module:qualname for a function given from Python."),
        "arguments": {"type": "array", "description": "Each parameter of the function, in its order, and what it was given.",
                      "items": _closed({
                          "parameter": _text("The function's own name for it."),
                          "given": _text("What it got: input, h_0, h_0[0], weight_ih_l0, params, ...; \"its default\" where left unbound."),
                          "shape": _or_null(_ref("shape"), "The tensor's shape; null for what is not a tensor."),
                      })},
        "returned": {"type": "array", "items": tensor, "description": "What the function returned, by torch's names ([] where it raised)."},
        "raised": _or_null(_closed({
            "type": _text("The exception's type, e.g. RuntimeError."),
            "message": _text("Its message's first line."),
            "where": {"type": ["string", "null"], "description": "FILE.py:LINE in the function's own file; null where no frame was there."},
        }), "The exception the function raised (a failed check, exit 1); null where it returned."),
        "shape_mismatches": {"type": "array", "description": "Returned tensors whose shape is not torch's (not compared; each fails).",
                             "items": _closed({"tensor": tensor, "shape": _ref("shape"),
                                               "expected": {**_ref("shape"), "description": "The shape torch returned."}})},
        "diagnoses": {"type": "array", "description": "The known mistakes the function's numbers, reruns or exception fit; "
                                                      "[] where it holds, or where none fits (nothing is guessed).",
                      "items": _closed({
                          "name": {"type": "string", "enum": list(NAMES), "description": "The mistake's name."},
                          "title": _text("The mistake in a few words."),
                          "detail": _text("Which way of making it fits, here."),
                          "means": _text("What the mistake is."),
                          "spot": _text("How to spot it in the numbers."),
                          "fix": _text("The one-line fix."),
                          "evidence": {"type": "string", "enum": ["numbers", "probe", "exception"],
                                       "description": "numbers: its prediction matches what the function returned; probe: "
                                                      "the function rerun with another input or weights returned the same; "
                                                      "exception: what the function raised."},
                          "explains": {"type": "array", "items": tensor, "description": "The returned tensors it accounts for."},
                          "complete": _flag("Whether it accounts for everything that differs."),
                      })},
    }


def _config_as_given() -> dict[str, Any]:
    """RNNSpec's fields, loosely: a refused row's value may be anything its flag's text was."""
    text = {"type": "string"}
    out: dict[str, Any] = {}
    for name in RNNSpec.field_names():
        default = getattr(RNNSpec, name, None)
        if isinstance(default, bool):
            out[name] = {"type": "boolean"}
        elif name == "lengths":
            out[name] = {"anyOf": [{"type": "array", "items": {"type": "integer"}}, text, {"type": "null"}]}
        elif name in ("seq_len", "batch_size"):
            out[name] = {"type": ["integer", "string", "null"]}
        elif isinstance(default, float):
            out[name] = {"type": ["number", "string"]}
        elif isinstance(default, int):
            out[name] = {"type": ["integer", "string"]}
        else:
            out[name] = text
    return out


def _checkpoint_layer() -> dict[str, Any]:
    evidence = {name: {"type": "string"} for name in ("mode", "input_size", "hidden_size", "bias", "num_layers", "bidirectional", "proj_size")}
    layer = _closed({
        "name": _text("What --layer takes: the state_dict's place in the file, then the prefix (model.encoder.rnn); "
                      "empty for a module saved on its own."),
        "prefix": _text("The keys' prefix in their state_dict, without its trailing dot."),
        "state_dict": _texts("The state_dict's place in the file: the keys leading to it ([] for the whole file)."),
        "module": _text("the constructor call that builds the layer, e.g. nn.LSTM(8, 16, num_layers=2); the same with --no-run."),
        "config": _CONFIG,
        "inferred_from": {**_closed(evidence, required=["mode", "input_size", "hidden_size", "bias"]),
                          "description": "Config field -> the keys and shapes it was read from (a cell's has no "
                                         "num_layers, bidirectional or proj_size)."},
        "assumed": {**_closed({name: {"type": "string"} for name in UNKNOWN_FROM_KEYS}, required=[]),
                    "description": "What the keys cannot tell and was not given: field -> the value assumed, and why."},
        "file_dtype": _text("The dtype the file holds the weights in (any of torch's: the layer runs in float32 where it is none of config's)."),
        **_REPORT_FIELDS,
        "parameters": _array_of("checkpoint_parameter", "Every entry of named_parameters(), in torch's order."),
        "within_init_bound": {"type": ["boolean", "null"], "description": "Whether every saved value lies within the init "
                              "bound (a hint the layer was never trained); null when not read."},
        "std": {"type": ["number", "null"], "minimum": 0, "description": "Standard deviation of every value of the layer, "
                "pooled; null when not read, or too few values."},
        "init_std": {"type": ["number", "null"], "exclusiveMinimum": 0, "description": "The init's standard deviation, "
                     "init_bound/sqrt(3); null where std is."},
        "init_hint": _text("Whether the values still look like PyTorch's init, in a sentence."),
        "checks": _ref("checks"),
        "notes": _NOTES,
        "ok": _OK,
    })
    return layer


def _training() -> dict[str, Any]:
    """inspect --train's part (training.Training.to_dict())."""
    from rnnshape.training import PATHS  # no torch there either

    shape = _ref("shape")
    gradient = _closed({
        "name": _text("input, h_0, c_0 (made requires_grad=True for the run), or a parameter as named_parameters() names it."),
        "kind": {"type": "string", "enum": ["input", "parameter"]},
        "shape": {**shape, "description": "The tensor's own shape."},
        "requires_grad": _flag("The tensor's requires_grad during the run."),
        "grad_shape": _or_null(shape, "Its .grad's shape after backward; null where backward left none."),
        "held": _flag("Whether grad_shape equals shape (a check)."),
    })
    effect = _closed({
        "tensor": {"type": "string", "enum": ["output", "packed_output", "h_n", "c_n", "h_1", "c_1"]},
        "row": {"type": ["integer", "null"], "minimum": 0, "description": "The row of h_n / c_n; null for a whole tensor."},
        "layer": _count("The layer that produced it (the top layer for output)."),
        "direction": _or_null(_ref("direction"), "Its direction; null for output, which holds both."),
        "predicted_change": _flag("Whether dropout should change it: rows of layers above 0, and the output, when dropout > 0 and num_layers > 1."),
        "changed": {"type": ["boolean", "null"], "description": "Whether the train-mode run differed from the eval-mode run, bit for bit; null on meta (no values)."},
        "differing": {"type": ["integer", "null"], "minimum": 0, "description": "How many elements differ; null on meta."},
        "numel": _count("Its elements."),
    })
    return _closed({
        "loss": _text("The loss backpropagated, in Python: every element the module returned, summed."),
        "requires_grad_inputs": _texts("The inputs made requires_grad=True for the run."),
        "gradients": {"type": "array", "items": gradient, "description": "The inputs, then every parameter in named_parameters() order."},
        "dropout": _closed({
            "explanation": _text("What dropout did here, and why."),
            "tensors": {"type": "array", "items": effect, "description": "The output, then every row of h_n (and c_n); a cell's h_1 (c_1)."},
        }),
        "saved_bytes": _closed({
            "measured": _count("Bytes of the distinct storages autograd saved for backward in the layer's forward (saved_tensors_hooks; packing excluded), parameters excluded."),
            "storages": _count("How many distinct storages."),
            "estimated": _count("The cost item activation_bytes_training: the decomposed path's figure."),
            "ratio": {"type": ["number", "null"], "minimum": 0, "description": "measured / estimated; null where the estimate is 0."},
            "path": {"type": "string", "enum": list(PATHS),
                     "description": "Which kernel torch ran, read from the backward graph: torch's decomposed path (aten ops per step), oneDNN, cuDNN or MPS."},
            "fused": _flag("Whether that kernel is a fused one, whose workspace the estimate does not model."),
        }),
        "notes": _texts("What the run changed for the purpose (requires_grad inputs), and why measured and estimated bytes may differ."),
    })


def _kinds() -> dict[str, dict[str, Any]]:
    from rnnshape.model import schema as model_schema

    inspect = _closed({
        "schema_version": _SCHEMA_VERSION,
        "config": _CONFIG,
        "observed": _flag("False with --no-run: every shape and count is the formulas', nothing was run or checked."),
        "torch_version": {"type": ["string", "null"], "description": "torch.__version__; null with --no-run."},
        "module": {"type": ["string", "null"], "description": "torch's repr of the module built; null with --no-run."},
        "weights_from": {"type": ["string", "null"], "description": "null: the seeded init's draw; \"module\": a live "
                         "module's own weights (inspect(module)); else the checkpoint file they were read from."},
        "init_hint": {"type": ["string", "null"], "description": "Given weights only: whether they still look like "
                      "PyTorch's init, in a sentence; null for the seeded draw."},
        **_REPORT_FIELDS,
        "parameters": _array_of("parameter", "Every entry of named_parameters(), in torch's order."),
        "parameter_bytes": _count("total_parameters times the dtype's bytes."),
        "cost": _ref("cost"),
        "training": _or_null(_training(), "inspect --train only: the train-mode forward and backward; null otherwise."),
        "checks": _ref("checks"),
        "notes": _NOTES,
        "ok": _OK,
    })
    inspect["if"] = {"properties": {"observed": {"const": False}}}
    inspect["then"] = {"properties": {"torch_version": {"type": "null"}, "module": {"type": "null"}}}
    inspect["else"] = {"properties": {"torch_version": {"type": "string"}, "module": {"type": "string"}}}

    comparison = _closed({
        "tensor": _ref("verified_tensor"),
        "layer": _count("For output, that layer's own output; for a final state, its row's layer (0 for a cell)."),
        "direction": _ref("direction"),
        "max_abs_error": {"type": "number", "minimum": 0, "description": "max |torch - reference|."},
        "max_rel_error": {"type": "number", "minimum": 0, "description": "max |torch - reference| / |reference|, where the reference is not 0."},
        "ok": _flag("Whether |torch - reference| <= atol + rtol * |reference| everywhere."),
    })
    divergence = _closed({
        "layer": _count("The lowest layer that leaves the tolerance."),
        "direction": _ref("direction"),
        "time_step": _count("Its index along L, whatever the layout (0 for a cell); a final state's: the last step its direction computes."),
        "tensor": _ref("verified_tensor"),
    })
    verify = _closed({
        "schema_version": _SCHEMA_VERSION,
        "config": _CONFIG,
        "tolerance": {**_closed({
            "atol": {"type": "number", "minimum": 0},
            "rtol": {"type": "number", "minimum": 0},
            "dtype": {"type": "string", "enum": list(DTYPES), "description": "The module's dtype, which picks the default tolerance."},
            "default": _flag("Whether neither atol nor rtol was given."),
        }), "description": "allclose's rule: |torch - reference| <= atol + rtol * |reference|."},
        "comparisons": {"type": "array", "items": comparison,
                        "description": "One per (tensor, layer, direction): every layer's output, then h_n and c_n (a cell's h_1, c_1)."},
        "max_abs_error": {"type": "number", "minimum": 0, "description": "The largest of the comparisons' (0 when there are none)."},
        "max_rel_error": {"type": "number", "minimum": 0, "description": "The largest of the comparisons' (0 when there are none)."},
        "first_divergence": _or_null(divergence, "Where torch first leaves the tolerance, in the order it computes; null when it never does."),
        "notes": _NOTES,
        "ok": _flag("Whether every comparison held (with --against: and the function raised nothing and returned every tensor in torch's shape)."),
        **_against(),
    }, required=[
        "schema_version", "config", "tolerance", "comparisons", "max_abs_error", "max_rel_error", "first_divergence", "notes", "ok",
    ])
    # verify --against adds its keys together, or none of them.
    verify["dependentRequired"] = {"against": [key for key in _against() if key != "against"]}

    sizes = {name: _or_null(_ref("shape"), f"{name}'s shape as torch produced it; null where the configuration has none"
                            + (" (a packed input's: the padded output)" if name == "output" else "")) for name in SHAPES}
    costs = {key: {"type": ["integer", "null"], "minimum": 0, "description": f"The value of inspect's cost item {key}."} for key in COST_KEYS}
    sweep = _closed({
        "config": {"anyOf": [_ref("config"), _ref("config_as_given")], "description": "The configuration: as validated, or as given where it was refused."},
        **sizes,
        "total_parameters": {"type": ["integer", "null"], "minimum": 0, "description": "Entries of named_parameters()."},
        "macs": {"type": ["integer", "null"], "minimum": 0, "description": "Multiply-accumulates of one forward pass."},
        **costs,
        "observed": _flag("Whether torch ran it (false with --no-run and where it was refused)."),
        "ok": {"type": ["boolean", "null"], "description": "Whether every check held; null where nothing was checked (--no-run, refused)."},
        "error": {"type": ["string", "null"], "description": "Why this configuration was refused (the rest is then null); null where it was answered."},
    })
    answered = {"config": _ref("config"), "total_parameters": {"type": "integer"}, "macs": {"type": "integer"},
                **{key: {"type": "integer"} for key in COST_KEYS}}
    refused = {"config": _ref("config_as_given"), "observed": {"const": False}, "ok": {"type": "null"},
               **{name: {"type": "null"} for name in (*SHAPES, "total_parameters", "macs", *COST_KEYS)}}
    sweep["if"] = {"properties": {"error": {"type": "null"}}}
    sweep["then"] = {"properties": answered}
    sweep["else"] = {"properties": refused}

    checkpoint = _closed({
        "schema_version": _SCHEMA_VERSION,
        "file": _text("The path as given."),
        "format": {"type": "string", "enum": [TORCH_ZIP, TORCH_LEGACY, SAFETENSORS, IN_MEMORY], "description": "What the file is, read from its first bytes; \"in memory\" for a state_dict passed to checkpoint() (file is then \"<in memory>\")."},
        "observed": _flag("False with --no-run: keys and shapes only, no values read, nothing run."),
        "state_dicts": {"type": "array", "description": "Every mapping of names to tensors in the file.", "items": _closed({
            "path": _texts("Its place in the file: the keys leading to it ([] for the whole file)."),
            "tensors": _count("How many tensors it holds."),
        })},
        "layers": _array_of("checkpoint_layer", "Every recurrent layer and cell found (or the one --layer names)."),
        "inconsistent": _array_of("inconsistent_group", "Groups of keys that give no valid layer (each fails the command)."),
        "contents": _texts("What the file holds, one line per top-level entry: the answer when there is no recurrent layer."),
        "notes": _NOTES,
        "ok": _flag("Whether every layer's checks held and no group of keys was inconsistent."),
    })

    return {
        "inspect": _resource("inspect", "rnnshape inspect -f json", "The layer built, a dummy input run, and every shape, "
                             "parameter and count torch produced beside what the formulas predict (Report.to_dict()).", inspect),
        "verify": _resource("verify", "rnnshape verify -f json", "The module's output, h_n and c_n (a cell's h_1, c_1) "
                            "against PyTorch's equations looped by hand in float64 on the same weights.", verify),
        "sweep": _resource("sweep", "rnnshape sweep row", "One configuration of a sweep: `sweep -f json` writes an array "
                           "of these, `-f jsonl` one per line. A refused configuration has its reason in error, and null "
                           "in every answer.", sweep),
        "checkpoint": _resource("checkpoint", "rnnshape checkpoint FILE -f json", "Every recurrent layer and cell a saved "
                                "model holds, its config inferred from the keys and run on the saved weights.", checkpoint),
        **model_schema.kinds(),
    }


def _references(node: Any) -> set[str]:
    """The $defs names a schema refers to, directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_id("")):
            found.add(ref[len(_id("")):])
        for value in node.values():
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def _needed(root: dict[str, Any], defs: dict[str, dict[str, Any]]) -> list[str]:
    """Every definition root reaches, in the order defs lists them."""
    seen: set[str] = set()
    todo = _references(root)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _references(defs[name]) - seen
    return [name for name in defs if name in seen]


def check_kind(kind: str) -> str:
    """The kind, normalised; ArgumentProblem (exit 2) for one there is no schema of."""
    name = kind.strip().lower()
    if name not in KINDS:
        raise ArgumentProblem("KIND", "kind", f"must be one of {', '.join(KINDS)} (got {kind!r})")
    return name


def schema(kind: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one kind of output, standalone; with None, one document holding every kind under $defs."""
    defs = _definitions()
    kinds = _kinds()
    if kind is not None:
        name = check_kind(kind)
        root = kinds[name]
        pool = {**defs, **{other: schema for other, schema in kinds.items() if other != name}}  # summary holds inspect reports
        return {"$schema": DIALECT, **root, "$defs": {needed: pool[needed] for needed in _needed(root, pool)}}
    return {
        "$schema": DIALECT,
        "$id": _id("all"),
        "title": "rnnshape JSON output",
        "description": "The JSON Schema of every JSON rnnshape writes, one definition per kind: "
                       f"{', '.join(f'$defs/{k}' for k in KINDS)}. `inspect -f json`, `verify -f json`, "
                       "`checkpoint FILE -f json`, `summary TARGET -f json` and `check -f json` write one object; "
                       "`sweep -f json` an array of sweep rows, "
                       "`sweep -f jsonl` one row per line. The other definitions are the pieces they share.",
        "$defs": {**kinds, **defs},
    }
