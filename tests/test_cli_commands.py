"""verify, code and flow through the command line: same flags, same validation, same exit codes."""

import json
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from rnnshape.cli import app


def invoke(*args):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


@pytest.mark.parametrize("command", ["inspect", "verify", "code", "flow"])
@pytest.mark.parametrize(
    "flags, flag",
    [(["--hidden-size", "0"], "--hidden-size"), (["--mode", "gru", "--proj-size", "2"], "--proj-size"), (["--seq-len", "x"], "--seq-len")],
)
def test_every_command_refuses_bad_flags_the_same_way(command, flags, flag):
    result = invoke(command, *flags)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {flag} ") and len(result.stderr.splitlines()) == 1


def test_verify_json_reports_errors_and_tolerances():
    result = invoke("verify", "--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["first_divergence"] is None
    assert data["tolerance"] == {"atol": 1e-5, "rtol": 1e-5, "dtype": "float32", "default": True}
    # every (tensor, layer, direction): output per layer, h_n and c_n per row
    keys = {(c["tensor"], c["layer"], c["direction"]) for c in data["comparisons"]}
    assert keys == {(t, k, d) for t in ("output", "h_n", "c_n") for k in (0, 1) for d in ("forward", "reverse")}
    assert data["max_abs_error"] < 1e-5


def test_verify_given_tolerances_and_a_tolerance_too_tight_to_hold():
    loose = json.loads(invoke("verify", "--atol", "0.5", "--rtol", "0", "-f", "json").stdout)
    assert loose["tolerance"]["default"] is False and loose["tolerance"]["atol"] == 0.5
    # float32 torch against a float64 loop cannot agree to 0: exit 1, and where it first differs.
    result = invoke("verify", "--atol", "0", "--rtol", "0", "--seq-len", "3")
    assert result.exit_code == 1
    assert result.stderr.startswith("failed: nn.RNN differs") and "first at layer 0" in result.stderr
    assert "✗" in result.stdout


def test_verify_on_meta_is_an_environment_problem():
    result = invoke("verify", "--device", "meta")
    assert result.exit_code == 3 and "meta" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_verify_other_formats(fmt):
    result = invoke("verify", "--mode", "gru", "-f", fmt)
    assert result.exit_code == 0 and "h_n" in result.stdout


def test_code_prints_a_script_that_runs_and_matches(tmp_path):
    result = invoke("code", "--mode", "gru", "--layers", "2", "--bidirectional", "--batch-first")
    assert result.exit_code == 0
    path = tmp_path / "gru.py"
    path.write_text(result.stdout)
    ran = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "OK" in ran.stdout
    # output (N, L, D*H) as torch documents it for batch_first, h_n (D*num_layers, N, H)
    assert "(3, 5, 40)" in ran.stdout and "(4, 3, 20)" in ran.stdout


def test_code_on_meta_is_refused_with_exit_3():
    result = invoke("code", "--device", "meta")
    assert result.exit_code == 3 and result.stderr.startswith("error: --device meta")


def test_flow_shows_h_n_rows_and_saves_svg(tmp_path):
    svg = tmp_path / "flow.svg"
    result = invoke("flow", "--layers", "2", "--bidirectional", "--seq-len", "3", "--svg", str(svg))
    assert result.exit_code == 0
    for row in range(4):  # D*num_layers rows, row = layer*D + direction
        assert f"h_n[{row}]" in result.stdout
    assert svg.read_text().lstrip().startswith("<svg")


def test_inspect_svg_is_written(tmp_path):
    svg = tmp_path / "inspect.svg"
    result = invoke("inspect", "--svg", str(svg), "-f", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["total_parameters"] == sum(
        p.numel() for p in torch.nn.RNN(input_size=10, hidden_size=20).parameters()
    )
    assert svg.read_text().lstrip().startswith("<svg") and "weight_ih_l0" in svg.read_text()


def test_svg_to_a_missing_folder_is_refused_before_any_work():
    result = invoke("flow", "--svg", "/no/such/folder/x.svg")
    assert result.exit_code == 2 and result.stderr.startswith("error: --svg")
