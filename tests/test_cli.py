"""The command line, end to end: formats, flags, exit codes, stdout/stderr separation.

Expected numbers come from PyTorch's documented shape formulas (written out here,
independently of rnnshape.theory) or from torch itself (modules built in the test),
never from rnnshape's own output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import rnnshape
from rnnshape import theory
from rnnshape.cli import app

REPO = Path(__file__).resolve().parents[1]

# The JSON contract (design.md): keys that must exist.
CONFIG_KEYS = {
    "mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
    "bidirectional", "proj_size", "nonlinearity", "seq_len", "batch_size", "unbatched",
    "device", "dtype", "seed",
}
PARAMETER_KEYS = {
    "name", "shape", "numel", "layer", "direction", "init_bound", "observed_min", "observed_max",
}
# design.md's defaults: nn.RNN(10, 20) fed (5, 3, 10).
DEFAULT_CONFIG = {
    "mode": "rnn", "input_size": 10, "hidden_size": 20, "num_layers": 1, "bias": True,
    "batch_first": False, "dropout": 0.0, "bidirectional": False, "proj_size": 0,
    "nonlinearity": "tanh", "seq_len": 5, "batch_size": 3, "unbatched": False,
    "device": "cpu", "dtype": "float32", "seed": 0, "lengths": None, "enforce_sorted": True,
    "h0": "randn", "c0": "randn",
}
ALL_FLAGS = [
    "--mode", "--input-size", "--hidden-size", "--layers", "--num-layers", "--bidirectional",
    "--batch-first", "--bias", "--nonlinearity", "--dropout", "--proj-size", "--seq-len",
    "--batch-size", "--unbatched", "--device", "--dtype", "--seed", "--h0", "--c0", "--format",
]


# --------------------------------------------------------------------------- helpers
def invoke(*args: str, env: dict[str, str] | None = None):
    """Run the CLI in-process; stdout and stderr are kept apart by this click/typer version."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), prog_name="rnnshape", env=env)
    # A crash (which the real program would print as a traceback) surfaces here as an exception.
    exc = result.exception
    crash = None
    if exc is not None and not isinstance(exc, SystemExit):
        crash = f"rnnshape {' '.join(args)} crashed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    assert crash is None, crash
    return result


def inspect_json(*args: str) -> dict:
    result = invoke("inspect", "-f", "json", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def documented_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Shapes from PyTorch's nn.RNN/nn.LSTM/nn.GRU documentation.

    input (L, N, H_in) / (N, L, H_in) with batch_first / (L, H_in) unbatched;
    h_0, h_n: (D*num_layers, N, H_out), never batch_first, (D*num_layers, H_out) unbatched;
    c_0, c_n: (D*num_layers, N, H_cell) with H_cell = hidden_size;
    output: like input with D*H_out features; H_out = proj_size if > 0 else hidden_size.
    """
    L, N, H_in = cfg["seq_len"], cfg["batch_size"], cfg["input_size"]
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] if cfg["proj_size"] > 0 else cfg["hidden_size"]
    rows = D * cfg["num_layers"]

    def seq(features: int) -> tuple[int, ...]:
        if cfg["unbatched"]:
            return (L, features)
        return (N, L, features) if cfg["batch_first"] else (L, N, features)

    def state(features: int) -> tuple[int, ...]:
        return (rows, features) if cfg["unbatched"] else (rows, N, features)

    shapes = {"input": seq(H_in), "h_0": state(H_out), "output": seq(D * H_out), "h_n": state(H_out)}
    if cfg["mode"] == "lstm":
        shapes["c_0"] = state(cfg["hidden_size"])
        shapes["c_n"] = state(cfg["hidden_size"])
    return shapes


def documented_dims(cfg: dict) -> dict[str, list[str]]:
    """The dimension names of design.md's JSON example, in the config's layout."""

    def seq(last: str) -> list[str]:
        if cfg["unbatched"]:
            return ["L", last]
        return ["N", "L", last] if cfg["batch_first"] else ["L", "N", last]

    state = ["D*num_layers", "H_out"] if cfg["unbatched"] else ["D*num_layers", "N", "H_out"]
    return {"input": seq("H_in"), "h_0": state, "output": seq("D*H_out"), "h_n": state}


def torch_module(cfg: dict) -> torch.nn.Module:
    """The module the config describes, built by torch itself (keyword arguments only)."""
    kwargs = dict(
        input_size=cfg["input_size"], hidden_size=cfg["hidden_size"], num_layers=cfg["num_layers"],
        bias=cfg["bias"], batch_first=cfg["batch_first"], dropout=cfg["dropout"],
        bidirectional=cfg["bidirectional"],
    )
    if cfg["mode"] == "rnn":
        kwargs["nonlinearity"] = cfg["nonlinearity"]
    if cfg["mode"] == "lstm":
        kwargs["proj_size"] = cfg["proj_size"]
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cfg["mode"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        return cls(**kwargs)


def assert_one_error_line(result, *flags: str) -> str:
    """stderr holds exactly one `error: ` line naming one of `flags`; stdout is empty."""
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith("\n")
    line = lines[0]
    assert line.startswith("error: "), line
    assert any(flag in line for flag in flags), f"{line!r} names none of {flags}"
    return line


# --------------------------------------------------------------------------- 1. formats
def test_json_has_the_contract_keys():
    data = inspect_json("--layers", "2", "--bidirectional")
    assert data["schema_version"] == 1
    assert CONFIG_KEYS <= set(data["config"])
    for name in ("input", "h_0", "output", "h_n"):
        assert {"shape", "dims"} <= set(data["tensors"][name]), name
    assert data["parameters"], "no parameters"
    for p in data["parameters"]:
        assert PARAMETER_KEYS <= set(p), p
    module = torch_module({**DEFAULT_CONFIG, "num_layers": 2, "bidirectional": True})
    assert data["total_parameters"] == sum(p.numel() for p in module.parameters())


def test_json_matches_design_example():
    """design.md's example: nn.RNN(10, 20, num_layers=2, bidirectional=True) fed (5, 3, 10)."""
    cfg = {**DEFAULT_CONFIG, "num_layers": 2, "bidirectional": True}
    data = inspect_json("--layers", "2", "--bidirectional")
    assert data["config"] == cfg
    module = torch_module(cfg)
    x = torch.zeros(5, 3, 10)
    output, h_n = module(x)
    assert data["tensors"]["input"]["shape"] == list(x.shape)
    assert data["tensors"]["output"]["shape"] == list(output.shape)
    assert data["tensors"]["h_n"]["shape"] == list(h_n.shape)
    assert data["tensors"]["h_0"]["shape"] == list(h_n.shape)
    for name, dims in documented_dims(cfg).items():
        assert data["tensors"][name]["dims"] == dims, name
    assert [p["name"] for p in data["parameters"]] == [n for n, _ in module.named_parameters()]
    for p, (name, tp) in zip(data["parameters"], module.named_parameters()):
        assert p["shape"] == list(tp.shape), name
        assert p["numel"] == tp.numel(), name
        assert p["init_bound"] == pytest.approx(1 / math.sqrt(20), rel=1e-15)
        assert -p["init_bound"] - 1e-7 <= p["observed_min"] <= p["observed_max"] <= p["init_bound"] + 1e-7
        layer = int(re.search(r"_l(\d+)", name).group(1))
        assert p["layer"] == layer
        assert p["direction"] == ("reverse" if name.endswith("_reverse") else "forward")


def test_json_is_reproducible_and_seeded():
    first = invoke("inspect", "-f", "json", "--seed", "3")
    second = invoke("inspect", "-f", "json", "--seed", "3")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    other = invoke("inspect", "-f", "json", "--seed", "4")
    assert other.exit_code == 0
    mins = [p["observed_min"] for p in json.loads(first.stdout)["parameters"]]
    other_mins = [p["observed_min"] for p in json.loads(other.stdout)["parameters"]]
    assert mins != other_mins


def test_markdown_has_github_tables():
    result = invoke("inspect", "-f", "markdown", "--layers", "2", "--bidirectional")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    assert len(rows) >= 16 + 4  # at least the parameter rows and the tensor rows
    assert any(line.startswith("|---") for line in lines)
    assert "weight_ih_l1_reverse" in result.stdout


def test_csv_is_one_row_per_parameter():
    result = invoke("inspect", "-f", "csv", "--layers", "2", "--bidirectional")
    assert result.exit_code == 0
    assert result.stderr == ""
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, body = rows[0], rows[1:]
    assert "name" in header
    module = torch.nn.RNN(input_size=10, hidden_size=20, num_layers=2, bidirectional=True)
    names = [n for n, _ in module.named_parameters()]
    assert len(names) == 16  # 4 per layer-direction: weight_ih, weight_hh, bias_ih, bias_hh
    assert len(body) == 16
    assert [row[header.index("name")] for row in body] == names
    assert all(len(row) == len(header) for row in body)


def test_table_shows_names_and_total():
    result = invoke("inspect", "-f", "table", "--layers", "2", "--bidirectional")
    assert result.exit_code == 0
    assert result.stderr == ""
    module = torch.nn.RNN(input_size=10, hidden_size=20, num_layers=2, bidirectional=True)
    total = sum(p.numel() for p in module.parameters())
    assert "h_n" in result.stdout
    assert "weight_ih_l1_reverse" in result.stdout
    assert re.search(rf"\b{total}\b", result.stdout), total
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_default_format_is_table():
    result = invoke("inspect")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "weight_ih_l0" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


# --------------------------------------------------------------------------- 2. every flag
FLAG_CASES = [
    # (flags, config changes)
    (["--mode", "rnn"], {}),
    (["--mode", "lstm"], {"mode": "lstm"}),
    (["--mode", "gru"], {"mode": "gru"}),
    (["--input-size", "7"], {"input_size": 7}),
    (["--hidden-size", "9"], {"hidden_size": 9}),
    (["--layers", "3"], {"num_layers": 3}),
    (["--num-layers", "3"], {"num_layers": 3}),
    (["--bidirectional"], {"bidirectional": True}),
    (["--unidirectional"], {}),
    (["--bidirectional", "--layers", "2", "--mode", "gru"], {"bidirectional": True, "num_layers": 2, "mode": "gru"}),
    (["--batch-first"], {"batch_first": True}),
    (["--seq-first"], {}),
    (["--batch-first", "--mode", "lstm", "--bidirectional", "--batch-size", "4", "--seq-len", "6"],
     {"batch_first": True, "mode": "lstm", "bidirectional": True, "batch_size": 4, "seq_len": 6}),
    (["--bias"], {}),
    (["--no-bias"], {"bias": False}),
    (["--no-bias", "--mode", "lstm", "--layers", "2"], {"bias": False, "mode": "lstm", "num_layers": 2}),
    (["--nonlinearity", "relu"], {"nonlinearity": "relu"}),
    (["--nonlinearity", "tanh"], {}),
    (["--dropout", "0.25", "--layers", "2"], {"dropout": 0.25, "num_layers": 2}),
    (["--dropout", "1", "--layers", "2"], {"dropout": 1.0, "num_layers": 2}),
    (["--mode", "lstm", "--proj-size", "5"], {"mode": "lstm", "proj_size": 5}),
    (["--mode", "lstm", "--proj-size", "5", "--layers", "2", "--bidirectional", "--batch-first"],
     {"mode": "lstm", "proj_size": 5, "num_layers": 2, "bidirectional": True, "batch_first": True}),
    (["--seq-len", "1"], {"seq_len": 1}),
    (["--seq-len", "11"], {"seq_len": 11}),
    (["--batch-size", "0"], {"batch_size": 0}),
    (["--batch-size", "0", "--mode", "lstm"], {"batch_size": 0, "mode": "lstm"}),
    (["--batch-size", "8"], {"batch_size": 8}),
    (["--unbatched"], {"unbatched": True}),
    (["--unbatched", "--mode", "lstm", "--bidirectional", "--proj-size", "4"],
     {"unbatched": True, "mode": "lstm", "bidirectional": True, "proj_size": 4}),
    (["--unbatched", "--batch-first"], {"unbatched": True, "batch_first": True}),
    (["--device", "cpu"], {}),
    (["--device", "meta"], {"device": "meta"}),
    (["--device", "meta", "--mode", "lstm", "--proj-size", "3", "--layers", "2"],
     {"device": "meta", "mode": "lstm", "proj_size": 3, "num_layers": 2}),
    (["--dtype", "float32"], {}),
    (["--dtype", "float64"], {"dtype": "float64"}),
    (["--dtype", "float16"], {"dtype": "float16"}),
    (["--dtype", "bfloat16"], {"dtype": "bfloat16"}),
    (["--seed", "7"], {"seed": 7}),
    (["--h0", "ones"], {"h0": "ones"}),
    (["--mode", "lstm", "--h0", "zeros", "--c0", "ones"], {"mode": "lstm", "h0": "zeros", "c0": "ones"}),
]


@pytest.mark.parametrize("flags, changes", FLAG_CASES, ids=[" ".join(f) for f, _ in FLAG_CASES])
def test_flag_is_reflected_in_json(flags, changes):
    cfg = {**DEFAULT_CONFIG, **changes}
    data = inspect_json(*flags)
    assert data["config"] == cfg

    expected = documented_shapes(cfg)
    assert set(data["tensors"]) == set(expected)
    for name, shape in expected.items():
        assert tuple(data["tensors"][name]["shape"]) == shape, name
    for name, dims in documented_dims(cfg).items():
        assert data["tensors"][name]["dims"] == dims, name

    module = torch_module(cfg)
    named = list(module.named_parameters())
    assert [p["name"] for p in data["parameters"]] == [n for n, _ in named]
    assert [tuple(p["shape"]) for p in data["parameters"]] == [tuple(t.shape) for _, t in named]
    assert data["total_parameters"] == sum(t.numel() for _, t in named)


def test_batch_first_moves_n_in_input_and_output_only():
    seq = inspect_json("--batch-size", "4", "--seq-len", "6")["tensors"]
    bf = inspect_json("--batch-size", "4", "--seq-len", "6", "--batch-first")["tensors"]
    assert seq["input"]["shape"] == [6, 4, 10] and bf["input"]["shape"] == [4, 6, 10]
    assert seq["output"]["shape"] == [6, 4, 20] and bf["output"]["shape"] == [4, 6, 20]
    assert seq["h_0"]["shape"] == bf["h_0"]["shape"] == [1, 4, 20]
    assert seq["h_n"]["shape"] == bf["h_n"]["shape"] == [1, 4, 20]


def test_proj_size_changes_h_out_but_not_c_n():
    t = inspect_json("--mode", "lstm", "--proj-size", "5")["tensors"]
    module = torch.nn.LSTM(input_size=10, hidden_size=20, proj_size=5)
    output, (h_n, c_n) = module(torch.zeros(5, 3, 10))
    assert t["output"]["shape"] == list(output.shape) == [5, 3, 5]
    assert t["h_n"]["shape"] == list(h_n.shape) == [1, 3, 5]
    assert t["c_n"]["shape"] == list(c_n.shape) == [1, 3, 20]


def test_unbatched_drops_n():
    t = inspect_json("--unbatched", "--batch-size", "7")["tensors"]
    module = torch.nn.RNN(input_size=10, hidden_size=20)
    output, h_n = module(torch.zeros(5, 10))
    assert t["input"]["shape"] == [5, 10]
    assert t["output"]["shape"] == list(output.shape)
    assert t["h_n"]["shape"] == list(h_n.shape)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_dtype_is_the_parameters_dtype(dtype):
    """Values drawn in a narrow dtype are exactly representable in it."""
    data = inspect_json("--dtype", dtype)
    torch_dtype = getattr(torch, dtype)
    values = [v for p in data["parameters"] for v in (p["observed_min"], p["observed_max"])]
    assert all(torch.tensor(v, dtype=torch_dtype).item() == v for v in values)


def test_dtype_float64_has_values_float32_cannot_hold():
    data = inspect_json("--dtype", "float64")
    values = [v for p in data["parameters"] for v in (p["observed_min"], p["observed_max"])]
    assert any(torch.tensor(v, dtype=torch.float32).item() != v for v in values)


def test_meta_device_has_no_values():
    data = inspect_json("--device", "meta")
    assert all(p["observed_min"] is None and p["observed_max"] is None for p in data["parameters"])


def test_format_long_and_short_spellings_agree():
    short = invoke("inspect", "-f", "json")
    long = invoke("inspect", "--format", "json")
    assert short.exit_code == long.exit_code == 0
    assert short.stdout == long.stdout
    json.loads(long.stdout)


# --------------------------------------------------------------------------- 3. bad input -> 2
BAD_INPUTS = [
    (["--hidden-size", "0"], ("--hidden-size",)),
    (["--hidden-size", "abc"], ("--hidden-size",)),
    (["--input-size", "-3"], ("--input-size",)),
    (["--layers", "0"], ("--layers",)),
    (["--num-layers", "0"], ("--layers", "--num-layers")),
    (["--seq-len", "0"], ("--seq-len",)),
    (["--batch-size", "-1"], ("--batch-size",)),
    (["--dropout", "1.5"], ("--dropout",)),
    (["--dropout", "-0.1"], ("--dropout",)),
    (["--dropout", "abc"], ("--dropout",)),
    (["--dropout", "nan"], ("--dropout",)),
    (["--proj-size", "5", "--mode", "rnn"], ("--proj-size",)),
    (["--proj-size", "5", "--mode", "gru"], ("--proj-size",)),
    (["--mode", "lstm", "--proj-size", "20"], ("--proj-size",)),
    (["--mode", "lstm", "--proj-size", "-1"], ("--proj-size",)),
    (["--nonlinearity", "sigmoid"], ("--nonlinearity",)),
    (["--mode", "lstm", "--nonlinearity", "relu"], ("--nonlinearity",)),
    (["--mode", "gru", "--nonlinearity", "relu"], ("--nonlinearity",)),
    (["--mode", "transformer"], ("--mode",)),
    (["--dtype", "int8"], ("--dtype",)),
    (["--format", "yaml"], ("--format",)),
    (["--device", "tpu"], ("--device",)),
    (["--device", "cuda:x"], ("--device",)),
    (["--seed", "-1"], ("--seed",)),
    (["--foo"], ("--foo",)),
    (["--layers"], ("--layers",)),
]


@pytest.mark.parametrize("args, flags", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(args, flags):
    result = invoke("inspect", *args)
    assert result.exit_code == 2
    line = assert_one_error_line(result, *flags)
    assert "Usage:" not in line


# Values that pass rnnshape's own checks but that torch cannot represent. The design
# does not say whether that is bad input (2) or the environment (3); it does say
# "never a traceback", and 1 means a failed check, so a crash is wrong either way.
UNREPRESENTABLE = [
    (["--device", f"cuda:{2**31}"], ("--device",)),  # torch.device() cannot parse an index >= 2**31
    (["--device", "meta", "--hidden-size", str(2**63)], ("--hidden-size", "--device")),  # torch sizes are int64
    (["--device", "meta", "--input-size", str(2**63)], ("--input-size", "--device")),
    (["--device", "meta", "--seq-len", str(2**63)], ("--seq-len", "--device")),
    (["--device", "meta", "--batch-size", str(2**63)], ("--batch-size", "--device")),
]


@pytest.mark.parametrize("args, flags", UNREPRESENTABLE, ids=[" ".join(a) for a, _ in UNREPRESENTABLE])
def test_values_torch_cannot_represent_are_refused_in_one_line(args, flags):
    result = invoke("inspect", "-f", "csv", *args)
    assert result.exit_code in (2, 3)
    assert_one_error_line(result, *flags)


# --------------------------------------------------------------------------- 4. environment -> 3
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_unavailable_exits_3(device):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    result = invoke("inspect", "--device", device)
    assert result.exit_code == 3
    assert_one_error_line(result, "--device")


def test_mps_unavailable_exits_3():
    if torch.backends.mps.is_available():
        pytest.skip("MPS is available here")
    result = invoke("inspect", "--device", "mps")
    assert result.exit_code == 3
    assert_one_error_line(result, "--device")


def test_too_large_for_memory_exits_3():
    result = invoke("inspect", "--input-size", "100000", "--hidden-size", "100000", "--layers", "20")
    assert result.exit_code == 3
    line = assert_one_error_line(result, "--device")
    assert "bytes" in line
    assert "meta" in line


# --------------------------------------------------------------------------- 5. failed check -> 1
@pytest.fixture
def wrong_h_n(monkeypatch):
    """Make the formulas predict one row too many for h_n, as a bug in theory would."""
    real = theory.tensors

    def tensors(spec):
        out = []
        for t in real(spec):
            if t.name == "h_n":
                t = type(t)(t.name, (t.shape[0] + 1,) + tuple(t.shape[1:]), t.dims, t.meaning)
            out.append(t)
        return out

    monkeypatch.setattr(theory, "tensors", tensors)
    expected_wrong = "(2, 3, 20)"  # nn.RNN(10, 20) gives h_n (1, 3, 20); the broken prediction says (2, 3, 20)
    return expected_wrong


def test_failed_check_exits_1_and_shows_the_difference(wrong_h_n):
    result = invoke("inspect")
    assert result.exit_code == 1
    # The report is still printed, with the difference marked.
    h_n_lines = [line for line in result.stdout.splitlines() if line.lstrip().startswith("h_n ")]
    assert h_n_lines, result.stdout
    assert any("✗" in line and "predicted" in line and wrong_h_n in line for line in h_n_lines), h_n_lines
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("failed:")
    assert "Traceback" not in result.stderr


def test_failed_check_exits_1_in_json_too(wrong_h_n):
    result = invoke("inspect", "-f", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["tensors"]["h_n"]["shape"] == [1, 3, 20]  # what torch produced, not the prediction
    assert result.stderr.startswith("failed:") and len(result.stderr.splitlines()) == 1


# --------------------------------------------------------------------------- 6. version and help
def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"rnnshape {rnnshape.__version__}\n"
    assert result.stderr == ""


def test_top_level_help():
    result = invoke("--help", env={"TERMINAL_WIDTH": "200", "COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "inspect" in result.stdout
    assert "--version" in result.stdout


def test_inspect_help_names_every_flag():
    result = invoke("inspect", "--help", env={"TERMINAL_WIDTH": "200", "COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.stderr == ""
    missing = [flag for flag in ALL_FLAGS if not re.search(re.escape(flag) + r"(?![\w-])", result.stdout)]
    assert not missing, missing
    assert "-f" in result.stdout


def test_no_arguments_shows_help():
    result = invoke()
    assert result.exit_code == 0
    assert "inspect" in result.stdout


# --------------------------------------------------------------------------- 7. notes, not warnings
def test_dropout_with_one_layer_is_a_note():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke("inspect", "--dropout", "0.5")
    assert result.exit_code == 0
    assert "UserWarning" not in result.stderr
    assert result.stderr == ""
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    notes = [line for line in result.stdout.splitlines() if "note" in line.lower() and "dropout" in line]
    assert notes, result.stdout
    # torch's own warning says dropout needs num_layers > 1; the note carries that across.
    assert "num_layers" in result.stdout


def test_dropout_note_in_json():
    data = inspect_json("--dropout", "0.5")
    assert any("num_layers" in note and "dropout" in note for note in data["notes"]), data["notes"]


def test_lstm_projection_notes_onednn_fallback():
    for _ in range(2):  # torch warns once per process; the note must be there every time
        result = invoke("inspect", "--mode", "lstm", "--proj-size", "5")
        assert result.exit_code == 0
        assert result.stderr == ""
        assert "oneDNN" in result.stdout


# --------------------------------------------------------------------------- 8, 9. subprocesses
def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env.update(extra)
    return env


def test_python_m_rnnshape_version():
    proc = subprocess.run(
        [sys.executable, "-m", "rnnshape", "--version"],
        capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"rnnshape {rnnshape.__version__}\n"
    assert proc.stderr == ""


@pytest.mark.parametrize("no_color", [False, True], ids=["piped", "piped+NO_COLOR"])
def test_piped_output_has_no_ansi(no_color):
    env = _env(**({"NO_COLOR": "1"} if no_color else {}))
    proc = subprocess.run(
        [sys.executable, "-m", "rnnshape", "inspect", "--layers", "2", "--bidirectional"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "weight_ih_l1_reverse" in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_device_index_beyond_int8_is_refused_not_wrapped():
    # torch.device("cuda:128") silently becomes cuda:-128 (an int8 index): refuse it.
    result = invoke("inspect", "--device", "cuda:128")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device") and "0..127" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args, code", [(["--layers", "1001"], 3), (["--layers", "501", "--bidirectional"], 3),
                                        (["--layers", str(2**63)], 2)])
def test_layer_stacks_torch_would_take_minutes_on_are_refused(args, code):
    # Refused before torch builds anything, on meta too, where no memory guard applies:
    # a stack this machine could run but not in time is 3; one no machine could hold
    # (beyond spec.MAX_LAYERS) is a malformed flag, 2.
    result = invoke("inspect", "--device", "meta", *args)
    assert result.exit_code == code
    assert result.stderr.startswith("error: --layers") and len(result.stderr.splitlines()) == 1
