"""Speed and scale: the memory guard and --max-memory, --no-run, and the cost
columns as inspect reports them (the formulas themselves: test_cost.py)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import rnnshape
from rnnshape import RNNSpec, inspect
from rnnshape.cli import app
from rnnshape.memory import parse_bytes
from test_theory_vs_torch import build_torch, configs

REPO = Path(__file__).resolve().parents[1]
HUGE = ["--mode", "lstm", "--input-size", "4096", "--hidden-size", "8192", "--layers", "16", "--bidirectional"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


# --- --max-memory's sizes ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("2GB", 2 * 1000**3), ("2gb", 2 * 1000**3), ("512MiB", 512 * 1024**2), ("1.5 GiB", 3 * 1024**3 // 2),
     ("1000000", 10**6), ("1e9", 10**9), ("64k", 64 * 1024), ("3G", 3 * 1024**3), ("10B", 10), ("1TB", 10**12)],
)
def test_sizes_read_as_written(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "2XB", "-1GB", "0", "0.1B", "two", "2 G B", "nan", "inf"])
def test_bad_sizes_exit_2_naming_the_flag(text):
    result = invoke("inspect", "--max-memory", text)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --max-memory ")
    assert result.stderr.count("\n") == 1


# --- the guard ---------------------------------------------------------------------


def test_huge_cpu_run_is_refused_before_torch_is_imported():
    # A fresh interpreter: this one has torch loaded already.
    code = (
        "import sys\nfrom rnnshape.cli import app\n"
        "try:\n    app(sys.argv[1:], prog_name='rnnshape')\nexcept SystemExit as e:\n"
        "    print('exit', e.code, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code, "inspect", *HUGE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.stdout.split() == ["exit", "3", "False"], proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("error: --device cpu: this run needs about ") and "\n" not in line
    assert "available" in line and "--device meta" in line
    # The estimate names the bytes: at least the parameters' 24966594560 * 4.
    needed = int(line.split("(")[1].split(" bytes")[0])
    assert needed >= 24_966_594_560 * 4


def test_max_memory_refuses_what_would_fit_the_machine():
    small = RNNSpec(hidden_size=64)
    from rnnshape import theory

    needed = theory.run_bytes(small)
    with pytest.raises(rnnshape.EnvironmentProblem, match=r"^--max-memory: this run needs about .* more than the"):
        inspect(small, max_memory=needed - 1)
    assert inspect(small, max_memory=needed).ok  # exactly enough is enough


def test_max_memory_on_the_command_line_and_in_verify():
    result = invoke("inspect", "--max-memory", "1KB")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: --max-memory: this run needs about ")
    assert "(1000 bytes) allowed" in result.stderr
    result = invoke("verify", "--max-memory", "10KB")
    assert result.exit_code == 3
    assert "verify (the reference runs in float64)" in result.stderr
    assert invoke("inspect", "--max-memory", "1GB", "-f", "json").exit_code == 0


def test_meta_ignores_the_guard():
    # Nothing is allocated on meta: the huge layer answers, even with a tiny limit.
    result = invoke("inspect", *HUGE, "--device", "meta", "--max-memory", "1KB", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total_parameters"] == 24_966_594_560


# --- --no-run -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_size=8))
def test_no_run_predicts_what_a_run_observes(cfg):
    predicted = inspect(RNNSpec(**cfg), run=False).to_dict()
    observed = inspect(RNNSpec(**cfg)).to_dict()
    assert predicted["observed"] is False and observed["observed"] is True
    assert {k: v["shape"] for k, v in predicted["tensors"].items()} == {k: v["shape"] for k, v in observed["tensors"].items()}
    assert [(p["name"], p["shape"]) for p in predicted["parameters"]] == [(p["name"], p["shape"]) for p in observed["parameters"]]
    assert predicted["total_parameters"] == observed["total_parameters"]
    assert predicted["cost"] == observed["cost"]
    # And against torch itself, built here.
    module = build_torch(cfg, device="meta")
    assert predicted["total_parameters"] == sum(p.numel() for p in module.parameters())


def test_no_run_has_no_observed_values_and_checks_nothing():
    data = inspect(RNNSpec(mode="lstm", num_layers=2, proj_size=3), run=False).to_dict()
    assert data["module"] is None and data["torch_version"] is None
    assert all(p["observed_min"] is None and p["observed_max"] is None and p["within_bound"] is None for p in data["parameters"])
    assert all(r["held"] is None for r in data["relations"])
    assert data["checks"]["passed"] == 0 and data["checks"]["failed"] == 0 and data["checks"]["skipped"] > 0
    assert data["notes"][0].startswith("--no-run: predicted from the formulas alone")


@pytest.mark.parametrize("fmt, marker", [("table", "--no-run"), ("markdown", "--no-run"), ("json", '"observed": false'), ("csv", None)])
def test_no_run_is_marked_in_every_format(fmt, marker):
    result = invoke("inspect", "--no-run", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows and all(r["observed"] == "false" and r["observed_min"] == "" for r in rows)
        real = list(csv.DictReader(io.StringIO(invoke("inspect", "-f", "csv").stdout)))
        assert all(r["observed"] == "true" for r in real)
    else:
        assert marker in result.stdout
        assert marker not in invoke("inspect", "-f", fmt).stdout


def test_no_run_does_not_import_torch():
    code = (
        "import sys\nfrom rnnshape.cli import app\n"
        "try:\n    app(sys.argv[1:], prog_name='rnnshape')\nexcept SystemExit as e:\n"
        "    print('exit', e.code, 'torch' in sys.modules, file=sys.stderr)"
    )
    for fmt in ("table", "json", "markdown", "csv"):
        proc = subprocess.run([sys.executable, "-c", code, "inspect", "--no-run", *HUGE, "-f", fmt],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert proc.stderr.split()[-3:] == ["exit", "0", "False"], proc.stderr


# --- cost as inspect reports it -------------------------------------------------------


def test_csv_cost_columns_sum_to_the_totals():
    for args in (["--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "5"], ["--mode", "gru", "--unbatched"],
                 ["--no-bias", "--layers", "3"]):
        result = invoke("inspect", *args, "-f", "csv")
        data = json.loads(invoke("inspect", *args, "-f", "json").stdout)
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        items = {i["key"]: i["value"] for i in data["cost"]["items"]}
        assert sum(int(r["macs"]) for r in rows) == data["cost"]["macs"]
        assert sum(int(r["adds"]) for r in rows) == items["bias_adds"]
        assert sum(int(r["bytes"]) for r in rows) == items["parameter_bytes"] == data["parameter_bytes"]


def test_per_parameter_macs_against_flop_counter():
    """Each weight's MACs, from torch: FlopCounterMode on a module holding only that layer."""
    from torch.utils.flop_counter import FlopCounterMode

    spec = RNNSpec(mode="gru", input_size=6, hidden_size=5, num_layers=1, bidirectional=True, seq_len=4, batch_size=2)
    rows = {p["name"]: p for p in inspect(spec).to_dict()["parameters"]}
    module = build_torch(dict(mode="gru", input_size=6, hidden_size=5, num_layers=1, bias=True, batch_first=False,
                              bidirectional=True))
    with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        module(torch.zeros(4, 2, 6))
    assert counter.get_total_flops() == 2 * sum(p["macs"] for p in rows.values())
    assert rows["weight_ih_l0"]["macs"] == 4 * 2 * 15 * 6
    assert rows["weight_hh_l0_reverse"]["macs"] == 4 * 2 * 15 * 5
    assert math.prod(rows["bias_ih_l0"]["shape"]) * 4 * 2 == rows["bias_ih_l0"]["adds"]
