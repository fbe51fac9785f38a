"""Every JSON rnnshape writes validates against the schema `rnnshape schema` prints.

Real outputs of every command (inspect, verify, sweep -f json and -f jsonl,
checkpoint) are validated, plus random configs through the Python API; and the
schema is shown to fail where it should: a key removed, a key added, a value of
the wrong type.

Validation is stricter than JSON Schema's own types in two ways that matter to a
consumer: a NaN or Infinity (not JSON at all) is refused when parsing, and an
"integer" must be written as one (JSON Schema accepts 640.0) while a "number" is
always written as a float (so a key is never 1 in one output and 1.0 in another).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators
from typer.testing import CliRunner

import rnnshape
from rnnshape import RNNSpec
from rnnshape.cli import app
from rnnshape.report import SCHEMA_VERSION
from rnnshape.schema import KINDS
from rnnshape.verification import TENSORS
from strategies import cell_specs, packed_specs
from test_state_dict import Model
from test_theory_vs_torch import configs, spec_from

REPO = Path(__file__).resolve().parents[1]


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_float(checker, instance) -> bool:
    return isinstance(instance, float)


def _bound(keyword: str):
    """jsonschema skips a bound unless the instance is of type "number"; here that is floats only, so
    integers would never meet `minimum`. Bounds apply to every JSON number, integer or not."""
    original = Draft202012Validator.VALIDATORS[keyword]

    def check(validator, bound, instance, schema):
        if isinstance(instance, (int, float)) and not isinstance(instance, bool):
            yield from original(Draft202012Validator(schema), bound, instance, schema)

    return check


StrictValidator = validators.extend(
    Draft202012Validator,
    validators={keyword: _bound(keyword) for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer).redefine("number", _is_float),
)


def _refuse_constant(name: str):
    raise AssertionError(f"{name} in the output: not JSON (a value that should be a number or null)")


def parse(text: str):
    return json.loads(text, parse_constant=_refuse_constant)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


@pytest.fixture(scope="module")
def printed() -> dict:
    """The schemas as the CLI prints them: all four from the console script, each kind in-process."""
    proc = subprocess.run([sys.executable, "-m", "rnnshape", "schema"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = {None: parse(proc.stdout)}
    for kind in KINDS:
        result = invoke("schema", kind)
        assert result.exit_code == 0 and result.stderr == "", result.stderr
        out[kind] = parse(result.stdout)
    return out


@pytest.fixture(scope="module")
def validator(printed):
    """kind -> validate(data): every error of the strict validator of that kind's standalone schema, and of the
    same kind reached through the document holding all four."""
    standalone = {kind: StrictValidator(printed[kind]) for kind in KINDS}
    combined = {kind: StrictValidator({"$ref": printed[kind]["$id"], "$defs": {"all": printed[None]}}) for kind in KINDS}

    def errors(kind: str, data) -> list[str]:
        found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in standalone[kind].iter_errors(data)]
        again = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in combined[kind].iter_errors(data)]
        assert sorted(found) == sorted(again)
        return found

    return errors


def check(validator, kind: str, data) -> None:
    problems = validator(kind, data)
    assert not problems, "\n".join(problems)


# --- the schemas themselves ----------------------------------------------------------


def test_every_schema_is_valid_draft_2020_12(printed):
    for kind, document in printed.items():
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] and document["title"] and document["description"], kind
    assert set(printed[None]["$defs"]) >= set(KINDS)


def test_each_kind_stands_alone_and_matches_the_combined_document(printed):
    combined = printed[None]["$defs"]
    for kind in KINDS:
        own = {k: v for k, v in printed[kind].items() if k not in ("$schema", "$defs")}
        assert own == combined[kind]
        for name, definition in printed[kind]["$defs"].items():
            assert definition == combined[name]
    assert "config_as_given" not in printed["inspect"]["$defs"]  # only what the kind needs
    assert {"config", "tensor", "checkpoint_parameter", "parameter_fields"} <= set(printed["checkpoint"]["$defs"])


def _objects(node, where=""):
    """Every (path, subschema) that describes an object with named properties."""
    if isinstance(node, dict):
        if "properties" in node and node.get("type") == "object":
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


def test_every_object_is_closed_and_every_definition_described(printed):
    document = printed[None]
    for where, node in _objects(document):
        if where == "/$defs/parameter_fields":
            # Shared by parameter and checkpoint_parameter, which close it with unevaluatedProperties.
            assert "additionalProperties" not in node
            continue
        closed = node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False
        assert closed, where
        assert set(node.get("required", [])) <= set(node["properties"]), where
    for name, definition in document["$defs"].items():
        assert definition["$id"].endswith(":" + name) and definition["title"] and definition["description"], name
    for name in ("parameter", "checkpoint_parameter"):
        assert document["$defs"][name]["unevaluatedProperties"] is False


def test_facts_copied_from_modules_that_import_torch_still_agree(printed):
    definitions = printed[None]["$defs"]
    assert definitions["inspect"]["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert definitions["verified_tensor"]["enum"] == list(TENSORS)
    assert definitions["config"]["required"] == list(RNNSpec.field_names())
    assert list(definitions["config_as_given"]["properties"]) == list(RNNSpec.field_names())


def test_a_bad_kind_is_one_error_line_and_exit_2():
    result = invoke("schema", "yaml")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: KIND must be one of inspect, verify, sweep, checkpoint, summary, check (got 'yaml')\n"
    assert invoke("schema", " Inspect ").exit_code == 0  # spelled as --format is: case and spaces do not matter


def test_the_python_api_gives_what_the_cli_prints(printed):
    from rnnshape.schema import schema

    assert schema() == printed[None]
    assert all(schema(kind) == printed[kind] for kind in KINDS)
    with pytest.raises(rnnshape.SpecError, match="kind must be one of inspect, verify, sweep, checkpoint"):
        schema("report")


# --- real outputs of every command -----------------------------------------------------

INSPECT = {
    "rnn": [],
    "lstm proj bidirectional batch_first": ["--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3", "--batch-first"],
    "gru no bias": ["--mode", "gru", "--no-bias", "--seq-len", "1"],
    "rnncell": ["--mode", "rnncell", "--nonlinearity", "relu"],
    "lstmcell": ["--mode", "lstmcell", "--batch-size", "2"],
    "grucell unbatched": ["--mode", "grucell", "--unbatched"],
    "packed sorted": ["--mode", "lstm", "--lengths", "5,3,2"],
    "packed unsorted bidirectional": ["--mode", "gru", "--lengths", "2,5,3", "--no-enforce-sorted", "--bidirectional", "--batch-first"],
    "unbatched": ["--unbatched"],
    "empty batch": ["--batch-size", "0"],
    "no run": ["--mode", "lstm", "--no-run"],
    "no run packed": ["--lengths", "4,1", "--no-enforce-sorted", "--no-run"],
    "meta": ["--device", "meta", "--mode", "lstm", "--layers", "3"],
    "meta packed unsorted": ["--device", "meta", "--lengths", "5,3,2", "--no-enforce-sorted"],
    "float16": ["--dtype", "float16", "--mode", "gru"],
}


@pytest.mark.parametrize("args", INSPECT.values(), ids=INSPECT.keys())
def test_inspect_json(validator, args):
    result = invoke("inspect", *args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = parse(result.stdout)
    check(validator, "inspect", data)
    if "--no-run" in args:
        assert data["observed"] is False and data["module"] is None and data["torch_version"] is None
    if "meta" in args:  # the nullable values really are null here, and still valid
        assert all(p["observed_min"] is None and p["within_bound"] is None for p in data["parameters"])
        if "--lengths" in args:
            assert data["tensors"]["padded_output"]["shape"] is None and data["tensors"]["padded_output"]["unavailable"]


VERIFY = {
    "layer": ["--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3"],
    "cell": ["--mode", "lstmcell"],
    "packed": ["--mode", "gru", "--lengths", "4,2,3", "--no-enforce-sorted", "--bidirectional"],
}


@pytest.mark.parametrize("args", VERIFY.values(), ids=VERIFY.keys())
def test_verify_json(validator, args):
    result = invoke("verify", *args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = parse(result.stdout)
    check(validator, "verify", data)
    assert data["first_divergence"] is None


def test_verify_json_with_a_divergence(validator):
    result = invoke("verify", "--atol", "0", "--rtol", "0", "--seq-len", "3", "-f", "json")
    assert result.exit_code == 1
    data = parse(result.stdout)
    check(validator, "verify", data)
    assert data["first_divergence"] is not None and data["ok"] is False


# Refused rows (a projected rnn or cell; a hidden size that is no number; a cell given --seq-len) beside
# answered ones: every shape, cost and config type a row can hold.
SWEEP = ["--mode", "rnn,lstm,lstmcell", "--proj-size", "0,2", "--hidden-size", "abc,6", "--seq-len", "3"]


def test_sweep_json_rows(validator):
    result = invoke("sweep", *SWEEP[:4], "-f", "json")
    assert result.exit_code == 0, result.stderr
    rows = parse(result.stdout)
    assert isinstance(rows, list) and len(rows) == 6
    for row in rows:
        check(validator, "sweep", row)
    refused = [row for row in rows if row["error"]]
    assert refused and all(row["total_parameters"] is None for row in refused)


def test_sweep_jsonl_lines_including_refused_and_unrun_rows(validator):
    result = invoke("sweep", *SWEEP, "--no-run", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 12
    rows = [parse(line) for line in lines]
    for row in rows:
        check(validator, "sweep", row)
    assert any(row["config"]["hidden_size"] == "abc" for row in rows)  # as given: it is no integer
    assert any(row["error"] is None and row["ok"] is None for row in rows)  # answered, nothing checked


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    sd = torch.nn.LSTM(4, 5, num_layers=2).state_dict()
    del sd["weight_hh_l1"]
    broken = torch.nn.GRU(3, 4).state_dict()
    broken["weight_ih_l0"][0, 0] = float("nan")
    broken["bias_hh_l0"][:] = float("inf")
    made = {
        "several layers": {"model": Model().state_dict(), "epoch": 3},
        "no layer": torch.nn.Linear(3, 4).state_dict(),
        "inconsistent keys": {"enc." + k: v for k, v in sd.items()},
        "non-finite values": broken,
        "float16 cell": {"cell." + k: v.half() for k, v in torch.nn.LSTMCell(3, 4).state_dict().items()},
    }
    paths = {}
    for i, (name, obj) in enumerate(made.items()):
        paths[name] = str(folder / f"{i}.pt")
        torch.save(obj, paths[name])
    return paths


CHECKPOINT = {
    "several layers": ([], 0),
    "several layers, --no-run": (["--no-run"], 0),
    "no layer": ([], 0),
    "inconsistent keys": ([], 1),
    "non-finite values": ([], 1),
    "float16 cell": (["--batch-size", "2"], 0),
}


@pytest.mark.parametrize("case", CHECKPOINT, ids=CHECKPOINT.keys())
def test_checkpoint_json(validator, files, case):
    args, code = CHECKPOINT[case]
    result = invoke("checkpoint", files[case.split(",")[0]], *args, "-f", "json")
    assert result.exit_code == code, result.stderr
    data = parse(result.stdout)
    check(validator, "checkpoint", data)
    if case == "several layers":
        assert len(data["layers"]) == 3
    if case == "no layer":
        assert data["layers"] == [] and data["inconsistent"] == [] and data["notes"]
    if case == "inconsistent keys":
        assert data["inconsistent"] and data["ok"] is False
    if case.endswith("--no-run"):
        assert all(p["mean"] is None for layer in data["layers"] for p in layer["parameters"])


# --- summary and check: a whole model, and shapes given ----------------------------------------


class Seq2Seq(torch.nn.Module):
    """Every kind of recurrent call a summary holds: a packed layer with h_0 left out, a cell in a loop."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(20, 3)
        self.encoder = torch.nn.LSTM(3, 4, bidirectional=True, proj_size=2)
        self.decoder = torch.nn.GRUCell(3, 4)

    def forward(self, ids, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        state, y = torch.zeros(ids.size(1), 4), torch.zeros(ids.size(1), 3)
        for _ in range(3):
            state = self.decoder(y, state)
        return {"state": state, "h": h, "none": None, "steps": [3]}


def test_summary_json(validator):
    ids, lengths = torch.randint(0, 20, (5, 3)), torch.tensor([2, 5, 4])
    data = parse(json.dumps(rnnshape.summary(Seq2Seq(), ids, lengths).to_dict()))
    check(validator, "summary", data)
    assert data["recurrent"][0]["given"]["input"]["kind"] == "packed" and data["recurrent"][1]["calls"] == 3
    assert data["modules"][0]["outputs"][0]["structure"]["kind"] == "dict"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = raised_summary()
    check(validator, "summary", result)
    assert result["error"]["causes"][0]["name"] == "float ids to nn.Embedding" and result["ok"] is False
    for change in (_set(["recurrent", 0, "calls"], 0), _set(["modules", 0, "outputs", 0, "structure", "kind"], "array"),
                   _remove(["recurrent", 0, "given", "h_0"]), _set(["error"], {"module": "x"})):
        broken = copy.deepcopy(data)
        change(broken)
        assert validator("summary", broken)


def raised_summary():
    """A summary whose forward raised, as the command line keeps it (the API re-raises)."""
    from rnnshape.model.summary import run_model

    model = Seq2Seq()
    return parse(json.dumps(run_model(model, (torch.randn(5, 3), torch.tensor([2, 5, 4])), {}, keep_error=True).to_dict()))


@pytest.mark.parametrize("args,code", [
    (["--mode", "lstm", "--input-shape", "5,3,10", "--h0-shape", "1,3,20", "--c0-shape", "1,3,20"], 0),
    (["--mode", "gru", "--input-shape", "5,3,10", "--lengths", "4,5,3", "--no-enforce-sorted"], 0),
    (["--mode", "grucell", "--input-shape", "10"], 0),
    (["--mode", "lstm", "--input-shape", "5,3,10", "--h0-shape", "1,4,20", "--c0-shape", "1,4,20"], 1),
    (["--mode", "gru", "--input-shape", "5,3,10", "--lengths", "4,5,3"], 1),
    (["--mode", "rnn", "--input-shape", "5,3,2,10"], 1),
], ids=["lstm", "packed", "cell", "refused", "refused by packing", "4-D"])
def test_check_json(validator, args, code):
    result = invoke("check", *args, "-f", "json")
    assert result.exit_code == code, result.stderr
    data = parse(result.stdout)
    check(validator, "check", data)
    assert (data["explanation"] is None) == (code == 0)
    broken = copy.deepcopy(data)
    broken["accepted"] = not broken["accepted"]
    assert validator("check", broken)  # an accepted check has a report and no explanation, and the reverse


# --- random configs through the Python API -------------------------------------------------

specs = st.one_of(
    configs(max_size=6).map(spec_from),
    cell_specs(max_size=6, dtypes=("float32", "float64", "float16", "bfloat16")),
    packed_specs(max_size=6, max_length=5, max_sequences=4, dropouts=(0, 0.0, 0.5, 1)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, run=st.booleans(), meta=st.booleans())
def test_random_configs_validate(validator, spec, run, meta):
    if meta:
        spec = replace(spec, device="meta")
    report = rnnshape.inspect(spec, run=run)
    data = parse(json.dumps(report.to_dict()))  # as a consumer reads it: NaN refused, 1 told from 1.0
    check(validator, "inspect", data)


# --- the schema can fail ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample() -> dict:
    return parse(json.dumps(rnnshape.inspect(RNNSpec(mode="lstm", num_layers=2, bidirectional=True, proj_size=3)).to_dict()))


def _remove(path):
    def change(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        del node[last]
    return change


def _set(path, value):
    def change(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return change


BROKEN = {
    "top-level key removed": _remove(["cost"]),
    "config key removed": _remove(["config", "seq_len"]),
    "tensor key removed": _remove(["tensors", "h_n", "dims"]),
    "parameter key removed": _remove(["parameters", 0, "numel"]),
    "a required tensor removed": _remove(["tensors", "output"]),
    "extra top-level key": _set(["extra"], 1),
    "extra config key": _set(["config", "hidden"], 20),
    "extra parameter key": _set(["parameters", 0, "key"], "lstm.weight_ih_l0"),  # a checkpoint parameter's, not inspect's
    "extra tensor": _set(["tensors", "h_1"], {"shape": [1], "dims": ["H"], "predicted_shape": [1], "meaning": "x"}),
    "shape as a string": _set(["tensors", "input", "shape"], "5x3x10"),
    "count as a string": _set(["total_parameters"], "4400"),
    "count written as a float": _set(["total_parameters"], 4400.0),
    "a float written as an integer": _set(["parameters", 0, "init_bound"], 1),
    "an integer below its minimum": _set(["total_parameters"], -1),
    "null where never null": _set(["parameters", 0, "bytes"], None),
    "null shape without a reason": _set(["tensors", "h_0", "shape"], None),
    "unknown mode": _set(["config", "mode"], "transformer"),
    "unknown direction": _set(["h_n_rows", 0, "direction"], "backward"),
    "a cell's null seq_len on a layer": _set(["config", "seq_len"], None),
    "torch_version with nothing observed": _set(["observed"], False),
    "wrong schema_version": _set(["schema_version"], 2),
}


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
def test_the_schema_rejects_a_broken_output(validator, sample, change):
    check(validator, "inspect", sample)
    broken = copy.deepcopy(sample)
    change(broken)
    assert validator("inspect", broken)


def test_the_schema_rejects_broken_rows_and_checkpoint_parameters(validator, files):
    row = parse(invoke("sweep", "-f", "jsonl").stdout)
    check(validator, "sweep", row)
    assert validator("sweep", {**row, "error": "refused"})  # a refused row has no answers
    assert validator("sweep", {**row, "h_n": "1x3x20"})
    data = parse(invoke("checkpoint", files["several layers"], "--layer", "decoder", "-f", "json").stdout)
    check(validator, "checkpoint", data)
    for change in (_remove(["layers", 0, "parameters", 0, "key"]), _remove(["layers", 0, "parameters", 0, "gates"]),
                   _set(["layers", 0, "parameters", 0, "extra"], 1), _set(["layers", 0, "module"], None),
                   _set(["format"], "pickle")):
        broken = copy.deepcopy(data)
        change(broken)
        assert validator("checkpoint", broken)
