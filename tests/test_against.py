"""verify --against FILE.py:FUNCTION: a learner's own forward function checked against torch.

Right functions pass (exit 0) on every kind of layer; each deliberately broken one
fails (exit 1) and is diagnosed by name; what cannot be run is one `error:` line
(exit 2). The learners' functions are written here, into tmp_path, in the style of
the notes in shared/seeds: one generic loop (LOOP) and one-line edits of it, each
the mistake a learner makes. Everything runs in this process (CliRunner, direct
calls): no subprocess per case.
"""

from __future__ import annotations

import json
import textwrap
import warnings

from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from rnnshape import RNNSpec, verify
from rnnshape.cli import app
from rnnshape.errors import EnvironmentProblem, SpecError

# A learner's loop over layers, directions and time steps for nn.RNN, nn.LSTM and nn.GRU (proj_size,
# batch_first and unbatched input included), written from PyTorch's docs, not from rnnshape.
LOOP = '''
import torch


def step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    if mode == "rnn":
        return torch.tanh(gi + gh), None
    if mode == "lstm":
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return (h if w_hr is None else h @ w_hr.T), c
    r_i, z_i, n_i = gi.chunk(3, dim=-1)
    r_h, z_h, n_h = gh.chunk(3, dim=-1)
    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
    n = torch.tanh(n_i + r * n_h)
    return (1 - z) * n + z * h, None


def forward(input, h_0, params, batch_first, c_0=None, mode="rnn"):
    x = input.transpose(0, 1) if batch_first and input.dim() == 3 else input
    L = x.shape[0]
    layers = 1 + max(int(name.split("_l")[1].split("_")[0]) for name in params)
    D = 2 if any(name.endswith("_reverse") for name in params) else 1
    h_n, c_n = [], []
    for layer in range(layers):
        outs = []
        for d in range(D):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            w = [params.get(kind + suffix) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
            h = h_0[layer * D + d]
            c = None if c_0 is None else c_0[layer * D + d]
            steps = range(L - 1, -1, -1) if d else range(L)
            out = [None] * L
            for t in steps:
                h, c = step(mode, x[t], h, c, *w)
                out[t] = h
            outs.append(torch.stack(out))
            h_n.append(h)
            c_n.append(c)
        x = torch.cat(outs, dim=-1)
    output = x.transpose(0, 1) if batch_first and input.dim() == 3 else x
    h_n = torch.stack(h_n)
    return (output, (h_n, torch.stack(c_n))) if mode == "lstm" else (output, h_n)


def rnn_forward(input, h_0, params, batch_first):
    return forward(input, h_0, params, batch_first)


def gru_forward(input, h_0, params, batch_first):
    return forward(input, h_0, params, batch_first, mode="gru")


def lstm_forward(input, h_0, c_0, params, batch_first):
    return forward(input, h_0, params, batch_first, c_0, mode="lstm")


def packed_forward(input, h_0, params, lengths):
    # Each sequence alone, up to its own length, then padded with zeros as pad_packed_sequence pads.
    outs, finals = [], []
    for i, n in enumerate(lengths):
        out, h = forward(input[:n, i:i + 1], h_0[:, i:i + 1], params, False)
        outs.append(torch.cat([out, out.new_zeros(input.shape[0] - n, 1, out.shape[-1])]))
        finals.append(h)
    return torch.cat(outs, dim=1), torch.cat(finals, dim=1)
'''

# seed 001's hand-written one-layer loop, as docs/your-own-forward.md shows it (its parameter
# spelt `input`, as its body reads it): the page's example is the one these tests check.
SEED_001 = (Path(__file__).resolve().parents[1] / "docs" / "examples" / "forward_correct.py").read_text(encoding="utf-8")
SEED_FLAGS = ["--mode", "rnn", "--input-size", "2", "--hidden-size", "3", "--batch-first", "--batch-size", "2", "--seq-len", "3"]

CELL = '''
import torch


def lstm_cell(x, hx, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = hx
    i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c
'''

runner = CliRunner()


def learner(tmp_path, source: str, name: str = "learner.py", edits: tuple[tuple[str, str], ...] = ()) -> str:
    """The learner's file, with each (old, new) edit made once: the mistake's one changed line."""
    text = textwrap.dedent(source)
    for old, new in edits:
        assert text.count(old) == 1, old  # the edit must hit the line it means, or the test proves nothing
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(*args: str):
    return runner.invoke(app, ["verify", *args], prog_name="rnnshape")


def run_json(*args: str) -> tuple[int, dict]:
    result = run(*args, "-f", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout, parse_constant=_refuse)


def _refuse(name: str):
    raise AssertionError(f"{name} is not JSON")


def diagnosed(data: dict) -> set[str]:
    return {d["name"] for d in data["diagnoses"]}


# --- right functions pass ------------------------------------------------------------


@pytest.mark.parametrize("flags, function", [
    (["--mode", "rnn"], "rnn_forward"),
    (["--mode", "lstm"], "lstm_forward"),
    (["--mode", "gru"], "gru_forward"),
    (["--mode", "gru", "--layers", "2", "--bidirectional"], "gru_forward"),
    (["--mode", "rnn", "--layers", "2", "--bidirectional", "--batch-first", "--nonlinearity", "tanh"], "rnn_forward"),
    (["--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "5", "--batch-first"], "lstm_forward"),
    (["--mode", "lstm", "--unbatched"], "lstm_forward"),
    (["--mode", "rnn", "--lengths", "4,2,1"], "packed_forward"),
])
def test_right_functions_pass(tmp_path, flags, function):
    path = learner(tmp_path, LOOP)
    code, data = run_json(*flags, "--against", f"{path}:{function}")
    assert code == 0, data
    assert data["ok"] and data["diagnoses"] == [] and data["raised"] is None and data["shape_mismatches"] == []
    tensors = {c["tensor"] for c in data["comparisons"]}
    assert tensors == ({"output", "h_n", "c_n"} if "lstm" in flags else {"output", "h_n"})
    # Only the top layer's output, but every layer's and direction's row of h_n.
    spec = RNNSpec(**{k: v for k, v in data["config"].items()})
    assert sum(c["tensor"] == "h_n" for c in data["comparisons"]) == spec.num_layers * spec.num_directions
    assert {c["layer"] for c in data["comparisons"] if c["tensor"] == "output"} == {spec.num_layers - 1}


def test_seed_001_function_passes_and_is_given_h_prev_as_a_step_reads_it(tmp_path):
    path = learner(tmp_path, SEED_001)
    result = run(*SEED_FLAGS, "--against", f"{path}:rnn_forward")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "✓ rnn_forward() gives what nn.RNN gives" in result.stdout
    assert "h_prev      h_0[0]" in result.stdout and "(2, 3)" in result.stdout  # one layer: h_0's one row, (N, H)


def test_a_cell_function_passes_with_hx_as_lstmcells_pair(tmp_path):
    path = learner(tmp_path, CELL)
    code, data = run_json("--mode", "lstmcell", "--against", f"{path}:lstm_cell")
    assert code == 0, data
    assert {c["tensor"] for c in data["comparisons"]} == {"h_1", "c_1"}
    assert [a["given"] for a in data["arguments"]][:2] == ["input", "(h_0, c_0)"]


def test_python_api_takes_a_function_a_spec_or_fields_or_a_live_module(tmp_path):
    namespace: dict = {}
    exec(textwrap.dedent(LOOP), namespace)
    assert verify(mode="lstm", num_layers=2, against=namespace["lstm_forward"]).ok
    assert verify(RNNSpec(mode="gru", bidirectional=True), against=namespace["gru_forward"]).ok
    gru = torch.nn.GRU(4, 6, num_layers=2)
    x, h = torch.randn(7, 2, 4), torch.randn(2, 2, 6)
    report = verify(gru, x, h, against=namespace["gru_forward"])
    assert report.ok and report.to_dict()["against"].endswith(":gru_forward")
    # A live call without h_0: torch started from zeros, and so does the function.
    assert verify(gru, x, against=namespace["gru_forward"]).ok
    # The same function, broken, is not ok through the API either.
    assert not verify(mode="gru", against=namespace["rnn_forward"]).ok


# --- broken functions are diagnosed by name ------------------------------------------

# (flags, function, the one-line edit that makes the mistake, the diagnosis it must get)
BROKEN = [
    (["--mode", "rnn"], "rnn_forward", ("gh = h @ w_hh.T + b_hh", "gh = h @ w_hh.T"), "bias_missing"),
    (["--mode", "gru", "--layers", "2"], "gru_forward", ("gi = x @ w_ih.T + b_ih", "gi = x @ w_ih.T + b_ih + b_ih"), "bias_twice"),
    (["--mode", "rnn", "--input-size", "20"], "rnn_forward",
     ("gi = x @ w_ih.T + b_ih\n    gh = h @ w_hh.T", "gi = x @ w_ih + b_ih\n    gh = h @ w_hh"), "weights_not_transposed"),
    (["--mode", "lstm"], "lstm_forward", ("i, f, g, o = (gi + gh)", "i, f, o, g = (gi + gh)"), "gate_order"),
    (["--mode", "gru"], "gru_forward", ("r_i, z_i, n_i = gi.chunk(3, dim=-1)\n    r_h, z_h, n_h = gh",
                                        "z_i, r_i, n_i = gi.chunk(3, dim=-1)\n    z_h, r_h, n_h = gh"), "gate_order"),
    (["--mode", "rnn", "--bidirectional"], "rnn_forward", ("steps = range(L - 1, -1, -1) if d else range(L)", "steps = range(L)"),
     "reverse_run_forwards"),
    (["--mode", "lstm", "--layers", "2"], "lstm_forward", ("h = h_0[layer * D + d]", "h = torch.zeros_like(h_0[layer * D + d])"),
     "h0_ignored"),
    (["--mode", "rnn"], "rnn_forward", ('return torch.tanh(gi + gh), None', 'return torch.relu(gi + gh), None'), "wrong_nonlinearity"),
    (["--mode", "lstm"], "lstm_forward", ("h = o * torch.tanh(c)", "h = o * c"), "wrong_nonlinearity"),
    (["--mode", "gru"], "gru_forward", ("(1 - z) * n + z * h", "z * n + (1 - z) * h"), "gru_other_form"),
    (["--mode", "rnn", "--bidirectional"], "rnn_forward",
     ("h_n = torch.stack(h_n)", "h_n = x[-1].reshape(x.shape[1], D, -1).transpose(0, 1)"), "h_n_wrong"),
    (["--mode", "gru", "--layers", "2"], "gru_forward", ("h_n = torch.stack(h_n)", "h_n = torch.stack(h_n)[-1:]"), "h_n_wrong"),
    (["--mode", "rnn", "--batch-first"], "rnn_forward",
     ("output = x.transpose(0, 1) if batch_first and input.dim() == 3 else x", "output = x"), "batch_first_not_handled"),
    (["--mode", "rnn", "--batch-first", "--batch-size", "5"], "rnn_forward",
     ("x = input.transpose(0, 1) if batch_first and input.dim() == 3 else input", "x = input"), "batch_first_not_handled"),
]


@pytest.mark.parametrize("flags, function, edit, name", BROKEN, ids=[f"{b[3]}-{b[1]}-{'-'.join(b[0][1:])}" for b in BROKEN])
def test_broken_function_is_diagnosed_by_name(tmp_path, flags, function, edit, name):
    path = learner(tmp_path, LOOP, edits=(edit,))
    code, data = run_json(*flags, "--against", f"{path}:{function}")
    assert code == 1 and not data["ok"]
    assert name in diagnosed(data), data["diagnoses"]
    assert all(d["evidence"] == "numbers" for d in data["diagnoses"])


def test_the_text_report_names_the_mistake_where_and_the_fix(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("gh = h @ w_hh.T + b_hh", "gh = h @ w_hh.T"),))
    result = run("--against", f"{path}:rnn_forward")
    assert result.exit_code == 1
    assert "✗ rnn_forward() and nn.RNN differ; first at layer 0, forward, time step 0 (output)" in result.stdout
    assert "✗ a bias left out (bias_missing): bias_hh is left out" in result.stdout
    assert "fix: add both at every step" in result.stdout
    assert result.stderr.startswith("failed: rnn_forward() differs from nn.RNN") and "diagnosis: a bias left out" in result.stderr
    assert result.stderr.count("\n") == 1


def test_two_mistakes_at_once_are_both_named(tmp_path):
    edits = (("gh = h @ w_hh.T + b_hh", "gh = h @ w_hh.T"), ("h_n = torch.stack(h_n)", "h_n = torch.stack(h_n)[-1:]"))
    path = learner(tmp_path, LOOP, edits=edits)
    code, data = run_json("--mode", "rnn", "--layers", "2", "--against", f"{path}:rnn_forward")
    assert code == 1 and {"bias_missing", "h_n_wrong"} <= diagnosed(data)


def test_batch_first_ignored_with_n_unlike_l_is_named_from_the_exception(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("x = input.transpose(0, 1) if batch_first and input.dim() == 3 else input", "x = input"),))
    code, data = run_json("--batch-first", "--against", f"{path}:rnn_forward")
    assert code == 1 and data["raised"]["type"] == "RuntimeError" and data["comparisons"] == []
    assert [(d["name"], d["evidence"]) for d in data["diagnoses"]] == [("batch_first_not_handled", "exception")]


def test_weights_not_transposed_is_named_from_the_matmul_error(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("gi = x @ w_ih.T + b_ih", "gi = x @ w_ih + b_ih"),))
    result = run("--against", f"{path}:rnn_forward")
    assert result.exit_code == 1
    assert "raised RuntimeError at learner.py:" in result.stdout and "mat1 and mat2 shapes cannot be multiplied" in result.stdout
    assert "(weights_not_transposed): x @ W with W (20, 10)" in result.stdout
    assert result.stderr.startswith("failed: rnn_forward() raised RuntimeError: mat1 and mat2") and "(at learner.py:" in result.stderr


def test_computing_over_the_padding_is_named(tmp_path):
    path = learner(tmp_path, LOOP)
    code, data = run_json("--lengths", "4,2,1", "--against", f"{path}:rnn_forward")
    assert code == 1 and "padding_computed" in diagnosed(data)
    assert any("takes no lengths" in n for n in data["notes"]) and any("packed input" in n for n in data["notes"])


def test_a_missing_parameter_is_named_from_the_key_error(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("params.get(kind + suffix)", "params[kind + suffix]"),))
    code, data = run_json("--no-bias", "--against", f"{path}:rnn_forward")
    assert code == 1 and data["raised"]["type"] == "KeyError"
    assert diagnosed(data) == {"missing_parameter"}


def test_a_function_that_reads_a_global_input_is_caught(tmp_path):
    """Seed 001's function reads the notebook's global `input`; here its parameter is x, unused."""
    source = SEED_001.replace("def rnn_forward(input,", "input = torch.randn(2, 3, 2)\n\n\ndef rnn_forward(x,")
    path = learner(tmp_path, source)
    code, data = run_json(*SEED_FLAGS, "--against", f"{path}:rnn_forward")
    assert code == 1 and "input_ignored" in diagnosed(data)
    ignored = next(d for d in data["diagnoses"] if d["name"] == "input_ignored")
    assert ignored["evidence"] == "probe" and "returned the same numbers" in ignored["detail"]


def test_a_function_that_reads_global_weights_is_caught(tmp_path):
    """Seed 000's forward reads a module and params made at the notebook's top level."""
    source = LOOP + textwrap.dedent('''
        rnn = torch.nn.RNN(10, 20)
        params_of_mine = dict(rnn.named_parameters())


        def seed_000(x, hx, params, batch_first=False):
            with torch.no_grad():
                return forward(x, hx, params_of_mine, batch_first)
        ''')
    path = learner(tmp_path, source)
    code, data = run_json("--against", f"{path}:seed_000")
    assert code == 1 and "weights_ignored" in diagnosed(data) and "input_ignored" not in diagnosed(data)


def test_differences_without_a_known_mistake_are_listed_without_a_guess(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("return torch.tanh(gi + gh), None", "return torch.tanh(gi + gh) * 0.9, None"),))
    result = run("--against", f"{path}:rnn_forward")
    assert result.exit_code == 1 and "no known mistake fits these numbers" in result.stdout
    code, data = run_json("--against", f"{path}:rnn_forward")
    assert code == 1 and data["diagnoses"] == [] and not all(c["ok"] for c in data["comparisons"])


def test_a_wrong_shape_is_a_failed_check_named_with_both_shapes(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("h_n = torch.stack(h_n)", "h_n = torch.stack(h_n)[0]"),))
    code, data = run_json("--against", f"{path}:rnn_forward")
    assert code == 1
    assert data["shape_mismatches"] == [{"tensor": "h_n", "shape": [3, 20], "expected": [1, 3, 20]}]
    assert [c["tensor"] for c in data["comparisons"]] == ["output"] and data["comparisons"][0]["ok"]
    assert "h_n_wrong" in diagnosed(data)


def test_nan_in_what_it_returns_fails_and_the_json_stays_json(tmp_path):
    path = learner(tmp_path, LOOP, edits=(("h_n = torch.stack(h_n)", "h_n = torch.stack(h_n) * float('nan')"),))
    code, data = run_json("--against", f"{path}:rnn_forward")  # run_json refuses NaN and Infinity
    assert code == 1 and [c["ok"] for c in data["comparisons"]] == [True, False]
    assert any("NaN or inf in h_n" in n for n in data["notes"])


# --- what cannot be run: exit 2, one line ------------------------------------------------


def _one_error_line(result, *words: str) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.startswith("error: --against ") and result.stderr.count("\n") == 1
    for word in words:
        assert word in result.stderr, result.stderr


def test_unknown_parameter_name_lists_the_names_it_can_bind(tmp_path):
    path = learner(tmp_path, "def f(input, hidden):\n    return input\n")
    _one_error_line(run("--against", f"{path}:f"), "'hidden'", "input (or x)", "h_0 (or hx, h0, h_prev)", "params", "weight_ih_l0",
                    "bias_hh")


def test_seed_001_as_written_is_refused_with_its_typo_named(tmp_path):
    path = learner(tmp_path, SEED_001.replace("def rnn_forward(input,", "def rnn_forward(intput,"))
    _one_error_line(run(*SEED_FLAGS, "--against", f"{path}:rnn_forward"), "'intput'", "did you mean 'input'?")


@pytest.mark.parametrize("flags, parameter, why", [
    ([], "c_0", "no cell state"),
    (["--layers", "2"], "weight_ih", "use weight_ih_l0, weight_ih_l1"),
    ([], "weight_ih_l1", "1 layer(s)"),
    (["--no-bias"], "bias_ih", "no biases"),
])
def test_a_name_of_another_layer_says_why(tmp_path, flags, parameter, why):
    path = learner(tmp_path, f"def f(input, {parameter}):\n    return input\n")
    _one_error_line(run(*flags, "--against", f"{path}:f"), why)


def test_parameters_with_defaults_may_stay_unbound(tmp_path):
    path = learner(tmp_path, LOOP + "\n\ndef g(x, h0, params, batch_first, scale=1.0, *args, **kwargs):\n"
                                    "    return forward(x * scale, h0, params, batch_first)\n")
    code, data = run_json("--against", f"{path}:g")
    assert code == 0 and [a["given"] for a in data["arguments"]] == ["input", "h_0", "dict(named_parameters()): 4 tensors",
                                                                      "batch_first = False", "its default"]


@pytest.mark.parametrize("body, words", [
    ("return input, input, input", ["returned a tuple of 3: (Tensor (5, 3, 10), Tensor (5, 3, 10), Tensor (5, 3, 10))",
                                    "output, or (output, h_n)"]),
    ("return 'output'", ["returned a str"]),
    ("return None", ["returned None"]),
    ("return input.numpy()", ["numpy.ndarray (5, 3, 10)"]),
])
def test_a_return_outside_the_contract_is_refused_saying_what_came_back(tmp_path, body, words):
    path = learner(tmp_path, f"def f(input):\n    {body}\n")
    _one_error_line(run("--against", f"{path}:f"), *words)


def test_an_exception_inside_is_a_failed_check_with_its_line(tmp_path):
    path = learner(tmp_path, "def f(input):\n    print('debugging')\n    raise ValueError('boom')\n")
    result = run("--against", f"{path}:f")
    assert result.exit_code == 1
    assert result.stderr.startswith("debugging\n")  # the function's print goes to stderr: stdout is the report's
    assert "failed: f() raised ValueError: boom (at learner.py:3)" in result.stderr
    assert "✗ f() raised ValueError at learner.py:3: boom" in result.stdout


@pytest.mark.parametrize("target, words", [
    ("{dir}/nowhere.py:f", ["cannot be imported: no file"]),
    ("{path}:nope", ["names no 'nope'", "its functions: f"]),
    ("{dir}/broken.py:f", ["cannot be imported: SyntaxError"]),
    ("{path}", ["must be FILE.py:FUNCTION"]),
    ("{path}:CONSTANT", ["is a int, not a function"]),
])
def test_loader_errors_are_one_line_naming_against(tmp_path, target, words):
    path = learner(tmp_path, "CONSTANT = 3\n\n\ndef f(input):\n    return input\n")
    (tmp_path / "broken.py").write_text("def f(input:\n", encoding="utf-8")
    _one_error_line(run("--against", target.format(dir=tmp_path, path=path)), *words)


def test_meta_device_is_refused_before_the_file_is_imported(tmp_path):
    path = learner(tmp_path, "raise SystemExit('imported')\n")
    result = run("--device", "meta", "--against", f"{path}:f")
    assert result.exit_code == 3 and result.stderr.startswith("error: --device meta: values do not exist there")
    with pytest.raises(EnvironmentProblem):
        verify(device="meta", against=lambda input: input)


def test_api_refusals_are_spec_errors_naming_against():
    with pytest.raises(SpecError, match="cannot give f\\(\\)'s parameter 'y'"):
        def f(y):
            return y
        verify(against=f)
    with pytest.raises(TypeError):
        verify(against=lambda input: input, reference=lambda *a: None)


# --- JSON --------------------------------------------------------------------------------


def test_json_validates_against_the_verify_schema(tmp_path):
    schema = json.loads(runner.invoke(app, ["schema", "verify"]).stdout)
    validator = Draft202012Validator(schema)
    right = learner(tmp_path, LOOP)
    broken = learner(tmp_path, LOOP, "broken.py", edits=(("gh = h @ w_hh.T + b_hh", "gh = h @ w_hh.T"),))
    raising = learner(tmp_path, "def f(input):\n    raise KeyError('weight_ih_l3')\n", "raising.py")
    outputs = [
        run_json("--against", f"{right}:rnn_forward")[1],
        run_json("--mode", "lstm", "--layers", "2", "--against", f"{broken}:lstm_forward")[1],
        run_json("--against", f"{raising}:f")[1],
        run_json("--mode", "lstmcell")[1],  # plain verify: none of the --against keys, still valid
    ]
    for data in outputs:
        validator.validate(data)
    assert outputs[1]["diagnoses"] and outputs[2]["raised"]["where"] == "raising.py:2"
    assert "against" not in outputs[3]
    tampered = dict(outputs[0])
    del tampered["diagnoses"]
    assert not validator.is_valid(tampered)  # the --against keys come together
