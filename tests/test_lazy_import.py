"""torch is imported only when a layer is really built: help, version and refused
flags are answered without it (design.md: validation happens before torch), and
without the other heavy imports that would double their time: pydantic (typer's
value coercion) and typer's Rich help machinery.

Each case runs in a fresh interpreter, since this test process has torch loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Calls the Typer app as the console script does, then reports its exit code and
# whether torch got imported, as the last line of stdout.
DRIVER = r"""
import json, os, sys
import rnnshape.clikit
if os.environ.get("DRIVER_KEEP_COERCION"):  # the control: typer's own coercion
    rnnshape.clikit._skip_coercion = lambda param: param
from rnnshape.cli import app
code = 0
try:
    app(sys.argv[1:], prog_name="rnnshape")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
heavy = ["torch", "pydantic", "typer.rich_utils", "rnnshape.probe"]
print("\nDRIVER " + json.dumps({"code": code, "torch": "torch" in sys.modules, "rich": "rich" in sys.modules,
                               "loaded": [m for m in heavy if m in sys.modules]}))
"""


def drive(*args: str, env: dict | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        capture_output=True, text=True, cwd=REPO, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("DRIVER "), proc.stdout
    result = json.loads(last[len("DRIVER "):])
    result["stderr"] = proc.stderr
    result["stdout"] = proc.stdout
    return result


@pytest.mark.parametrize(
    "args",
    [["--help"], ["inspect", "--help"], ["checkpoint", "--help"], ["check", "--help"], ["summary", "--help"], ["--version"],
     ["--lang", "zh", "inspect", "--help"]],
    ids=["--help", "inspect --help", "checkpoint --help", "check --help", "summary --help", "--version", "--lang zh inspect --help"],
)
def test_help_and_version_do_not_import_torch(args):
    result = drive(*args)
    assert result["code"] == 0, result["stderr"]
    assert result["loaded"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--hidden-size", "0"],
        ["--mode", "lstm", "--nonlinearity", "relu"],
        ["--format", "yaml"],
        ["--dropout", "2"],
        ["--mode", "lstmcell", "--layers", "2"],
        ["--lengths", "2,5"],
        ["--lengths", "5,3", "--seq-len", "4"],
        ["--lang", "zh", "--hidden-size", "0"],  # in Chinese: the catalog is read, torch is not
        ["--lang", "fr"],
    ],
    ids=lambda a: " ".join(a),
)
def test_refused_flags_do_not_import_torch(args):
    result = drive("inspect", *args)
    assert result["code"] == 2
    assert result["stderr"].startswith("error: ")
    assert result["loaded"] == []


@pytest.mark.parametrize("args", [["--seq-len", "0"], ["--device", "gpu"], ["--dtype", "int8"], ["--format", "yaml"],
                                  ["--lengths", "5,3", "--batch-size", "4"]], ids=lambda a: " ".join(a))
def test_checkpoint_refuses_bad_flags_before_reading_the_file(tmp_path, args):
    # A real torch file: reading it would need torch, so the refusal must come first.
    path = tmp_path / "model.pt"
    subprocess.run([sys.executable, "-c", f"import torch; torch.save(torch.nn.GRU(2, 3).state_dict(), {str(path)!r})"], check=True,
                   capture_output=True)
    result = drive("checkpoint", str(path), *args)
    assert result["code"] == 2
    assert result["stderr"].startswith("error: --") and result["stderr"].count("\n") == 1
    assert result["loaded"] == []


@pytest.mark.parametrize("args", [
    ["check", "--input-shape", "8,x,256"],
    ["check", "--input-shape", "8,8,256", "--h0-shape", "1,-2,3"],
    ["check", "--input-shape", "8,8,256", "--c0-shape", "1,8,20"],  # a GRU has no c_0
    ["check", "--input-shape", "8,8,256", "--input-dtype", "int8"],
    ["check", "--input-shape", "8,8,256", "--hidden-size", "0"],
    ["check", "--input-shape", "8,8,256", "--lengths", "3,0"],
    ["check"],  # --input-shape is required
    ["summary", "models.py:make", "--input-shape", "2,x"],
    ["summary", "models.py:make", "--input-dtype", "complex64", "--input-shape", "2,3"],
    ["summary", "models.py:make", "--input-shape", "2,3", "--input-high", "0"],
    ["summary", "models.py:make", "--input-shape", "2,3", "--seed", "-1"],
    ["summary", "models.py"],  # no :factory
], ids=lambda a: " ".join(a))
def test_check_and_summary_refuse_bad_flags_without_torch(args):
    # summary's TARGET would import torch: a bad flag must be refused before TARGET is imported.
    result = drive(*args)
    assert result["code"] == 2, result["stderr"]
    assert result["stderr"].startswith("error: ") and result["stderr"].count("\n") == 1
    assert result["loaded"] == []


@pytest.mark.parametrize("args", [["schema"], ["schema", "checkpoint"], ["schema", "summary"]], ids=lambda a: " ".join(a))
def test_schema_imports_neither_torch_nor_rich(args):
    result = drive(*args)
    assert result["code"] == 0, result["stderr"]
    assert result["loaded"] == [] and result["rich"] is False
    assert '"$schema"' in result["stdout"]


def test_a_bad_schema_kind_is_refused_without_torch():
    result = drive("schema", "yaml")
    assert result["code"] == 2
    assert result["stderr"].startswith("error: KIND must be one of inspect, verify, sweep, checkpoint")
    assert result["stderr"].count("\n") == 1
    assert result["loaded"] == []


@pytest.mark.parametrize("args", [["--mode", "grucell"], ["--mode", "lstm", "--lengths", "5,3,2", "--no-enforce-sorted"]],
                         ids=lambda a: " ".join(a))
def test_cells_and_packing_without_a_run_do_not_import_torch(args):
    result = drive("inspect", *args, "--no-run", "-f", "json")
    assert result["code"] == 0, result["stderr"]
    assert "torch" not in result["loaded"] and "pydantic" not in result["loaded"]  # probe's module, not torch


def test_control_typer_coercion_would_import_pydantic():
    """Without rnnshape's shortcut this typer coerces through pydantic: the test above can fail."""
    import os

    import typer

    if not (Path(typer.__file__).parent / "_adapters.py").exists():
        pytest.skip("this typer does not coerce through pydantic")
    result = drive("inspect", "--hidden-size", "0", env={**os.environ, "DRIVER_KEEP_COERCION": "1"})
    assert result["code"] == 2
    assert "pydantic" in result["loaded"]


def test_positive_control_inspect_imports_torch():
    """The driver can see torch: a real run must report it imported."""
    result = drive("inspect", "-f", "json")
    assert result["code"] == 0, result["stderr"]
    assert result["torch"] is True


def test_import_rnnshape_does_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, rnnshape; print('torch' in sys.modules, 'rnnshape.probe' in sys.modules)"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False False"


def test_api_names_load_on_first_use():
    proc = subprocess.run(
        [sys.executable, "-c", "import rnnshape; from rnnshape import inspect, RNNSpec, Report, ExitStatus; print(inspect.__module__, RNNSpec.__module__, sorted(rnnshape.__all__) == sorted(set(dir(rnnshape)) & set(rnnshape.__all__)))"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["rnnshape.core", "rnnshape.spec", "True"]
