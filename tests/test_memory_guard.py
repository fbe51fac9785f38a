"""The memory guard's estimate bounds what a run really takes, with a margin, and admission keeps it.

Each measured command runs in a child interpreter that imports torch and
rnnshape.cli, reads its own peak RSS (VmHWM: the peak of a process that only
imported them), runs `rnnshape ...` through rnnshape.cli.main, and reads VmHWM
again: the run's peak is the difference (benchmarks/memory.py measures a wider
grid the same way). The command is given --max-memory set to the guard's own
estimate, so each measurement also shows that what is admitted at exactly the
estimate runs, and peaks at most at estimate / MARGIN.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnshape import RNNSpec, theory, verification
from rnnshape.cli import app

REPO = Path(__file__).resolve().parents[1]
MARGIN = 1.2  # the estimate is at least this times the measured peak
ABSURD = 4.0  # and at most this times it: the guard must not refuse what would fit easily
SMALL = 64 * 2**20  # below this, the fixed part dominates and ABSURD says nothing
MiB = 2**20

DRIVER = r"""
import json, os, sys, warnings
def status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message='Failed to initialize NumPy')
    import torch
import rnnshape, rnnshape.cli
out = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
baseline = status('VmHWM')
sys.argv = ['rnnshape', *sys.argv[1:]]
code = 0
try:
    rnnshape.cli.main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
os.write(out, (json.dumps({'peak': status('VmHWM') - baseline, 'code': code}) + '\n').encode())
"""


_PYCACHE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _bytecode(tmp_path_factory):
    """rnnshape compiled once, as pip compiles an installed package, into a folder of this run's own.

    Without it, a process started with PYTHONDONTWRITEBYTECODE (or from a fresh clone)
    compiles every rnnshape module it imports after the baseline, 10-13 MiB measured,
    and the small runs' peaks would measure the compiler, not the run.
    """
    prefix = str(tmp_path_factory.mktemp("pycache"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "rnnshape")], check=True,
                   env={**os.environ, "PYTHONPYCACHEPREFIX": prefix}, stdout=subprocess.DEVNULL)
    _PYCACHE["prefix"] = prefix


def measured_peak(*argv: str) -> tuple[int, int, str]:
    """(bytes of peak RSS above the baseline, exit status, stderr) of `rnnshape *argv` in a child."""
    if not Path("/proc/self/status").exists():
        pytest.fail("peak RSS is read from /proc/self/status: Linux only")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": _PYCACHE["prefix"]}
    proc = subprocess.run([sys.executable, "-c", DRIVER, *argv], capture_output=True, text=True, cwd=REPO,
                          timeout=300, env=env)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["peak"], result["code"], proc.stderr


def flags(spec_fields: dict) -> list[str]:
    """The command-line flags for these RNNSpec fields."""
    out = []
    names = {"input_size": "--input-size", "hidden_size": "--hidden-size", "num_layers": "--layers",
             "proj_size": "--proj-size", "seq_len": "--seq-len", "batch_size": "--batch-size", "mode": "--mode",
             "dtype": "--dtype", "device": "--device", "nonlinearity": "--nonlinearity"}
    for key, value in spec_fields.items():
        if key in names:
            out += [names[key], str(value)]
        elif key == "lengths":
            out += ["--lengths", ",".join(map(str, value))]
        elif key in ("bidirectional", "batch_first", "unbatched") and value:
            out.append("--" + key.replace("_", "-"))
        elif key == "enforce_sorted" and not value:
            out.append("--no-enforce-sorted")
    return out


# (command, RNNSpec fields, check's --input-shape): a small run, where the fixed part dominates
# (the default rnn's is the same fixed part, smaller still: one child less for the suite's budget),
# and runs of 0.2-0.5 GiB on each path torch takes.
CASES = {
    "small unbatched lstm (oneDNN)": ("inspect", {"mode": "lstm", "unbatched": True}, None),
    "weight-bound lstm (oneDNN's weight copy)": (
        "inspect", {"mode": "lstm", "input_size": 1536, "hidden_size": 1536, "num_layers": 2}, None),
    "sequence-bound bidirectional gru (native)": (
        "inspect", {"mode": "gru", "input_size": 256, "hidden_size": 256, "seq_len": 250, "batch_size": 32,
                    "bidirectional": True, "num_layers": 2}, None),
    "packed lstm, unsorted": (
        "inspect", {"mode": "lstm", "input_size": 256, "hidden_size": 256, "lengths": (300, 500, 400, 200),
                    "enforce_sorted": False, "bidirectional": True}, None),
    "meta": ("inspect", {"mode": "lstm", "input_size": 4096, "hidden_size": 4096, "num_layers": 2, "device": "meta"}, None),
    "verify, float64 reference": (
        "verify", {"mode": "lstm", "input_size": 256, "hidden_size": 256, "seq_len": 100, "batch_size": 32,
                   "num_layers": 2, "dtype": "bfloat16"}, None),
    "check, live module's statistics": (
        "check", {"mode": "lstm", "input_size": 1024, "hidden_size": 1024}, (50, 16, 1024)),
}


WEIGHT_BOUND = "weight-bound lstm (oneDNN's weight copy)"


def estimate(command: str, fields: dict, shape: tuple[int, ...] | None) -> int:
    """The guard's estimate for the command, computed as the command computes it."""
    spec = RNNSpec(**fields)
    if command == "verify":
        return verification.verify_bytes(spec)
    if command == "check":
        given = math.prod(shape) * theory.DTYPE_BYTES[spec.dtype]
        return theory.check_bytes(spec, shape, given_bytes=given)
    return theory.run_bytes(spec)


def argv(command: str, fields: dict, shape: tuple[int, ...] | None) -> list[str]:
    return [command, *flags(fields), *(["--input-shape", ",".join(map(str, shape))] if shape else []), "-f", "json"]


@pytest.mark.parametrize("case", list(CASES))
def test_the_estimate_bounds_the_measured_peak_with_margin_and_admission_keeps_it(case):
    command, fields, shape = CASES[case]
    needed = estimate(command, fields, shape)
    # Admitted at exactly the estimate: it runs, and peaks at most at estimate / MARGIN.
    peak, code, stderr = measured_peak(*argv(command, fields, shape), "--max-memory", str(needed))
    assert code == 0, stderr
    shown = f"{case}: measured {peak / MiB:.1f} MiB, estimate {needed / MiB:.1f} MiB ({needed / peak:.2f}x)"
    assert peak * MARGIN <= needed, shown
    assert needed <= ABSURD * max(peak, SMALL), shown
    if case == WEIGHT_BOUND:
        # The control, on the same measurement: oneDNN copies each layer's weights into its own
        # layout, half the parameters again, which the old estimate (parameters and tensors) missed.
        spec = RNNSpec(**fields)
        assert peak > 1.4 * theory.parameter_bytes(spec)  # the weight copy is real
        old = old_run_bytes(spec)
        assert not peak * MARGIN <= old, f"the old estimate {old / MiB:.0f} MiB bounded {peak / MiB:.0f} MiB"


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][1].get("device") != "meta"])
def test_just_below_the_estimate_is_refused_with_one_error_line(case):
    # Decided before anything is allocated: in-process and instant, whatever the size.
    command, fields, shape = CASES[case]
    needed = estimate(command, fields, shape)
    result = CliRunner().invoke(app, [*argv(command, fields, shape), "--max-memory", str(needed - 1)], prog_name="rnnshape")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --max-memory: ")
    assert f"({needed} bytes)" in result.stderr and f"({needed - 1} bytes) allowed" in result.stderr


def old_run_bytes(spec: RNNSpec) -> int:
    """The estimate before this guard modelled torch's paths: parameters, tensors, a workspace per layer."""
    L, N = spec.steps, spec.batch
    D, G, H = spec.num_directions, spec.gate_multiple, spec.hidden_size
    elements = sum(math.prod(t.shape) for t in theory.tensors(spec))
    workspace = L * N * D * (G * H + 2 * max(H, spec.input_size))
    return (theory.total_parameters(spec) + elements + workspace) * theory.DTYPE_BYTES[spec.dtype]


def test_meta_needs_only_the_fixed_part():
    small, huge = RNNSpec(device="meta"), RNNSpec(mode="lstm", input_size=8192, hidden_size=8192, num_layers=16, device="meta")
    assert theory.run_bytes(small) == theory.run_bytes(huge) < 64 * MiB


def test_check_of_shapes_torch_refuses_counts_no_forward():
    spec = RNNSpec(mode="lstm", input_size=256, hidden_size=256)
    right, wrong = (1000, 64, 256), (1000, 64, 100)
    assert theory.check_bytes(spec, wrong, given_bytes=math.prod(wrong) * 4) < theory.check_bytes(
        spec, right, given_bytes=math.prod(right) * 4) / 3


# --------------------------------------------------------------------------- checkpoint: the load too
def _lstm(**kwargs):
    import torch

    torch.manual_seed(0)
    return torch.nn.LSTM(**kwargs).state_dict()


def _stride_zero_gru():
    """A GRU whose weights are one value expanded (stride 0): a 4-byte record a run makes 13.5 MiB of."""
    import torch

    state = torch.nn.GRU(768, 768).state_dict()
    return {k: torch.zeros(1).expand(v.shape) if k.startswith("weight") else v for k, v in state.items()}


CHECKPOINTS = {
    "torch zip, bidirectional lstm": ("zip", lambda: _lstm(input_size=384, hidden_size=384, num_layers=2, bidirectional=True)),
    "safetensors, bidirectional lstm": ("safetensors", lambda: _lstm(input_size=384, hidden_size=384, num_layers=2, bidirectional=True)),
    "legacy torch.save, lstm": ("legacy", lambda: _lstm(input_size=768, hidden_size=768)),
    "stride-0 weights": ("zip", _stride_zero_gru),
}


def admitted_memory(args: list[str]) -> int:
    """The least --max-memory the command runs with: each stage's refusal names what it needs
    (the pickle, then unpickling, then the values and the run), so raise it to that until none refuses."""
    allowed = 1
    for _ in range(10):
        result = CliRunner().invoke(app, [*args, "-f", "json", "--max-memory", str(allowed)], prog_name="rnnshape")
        if result.exit_code != 3:
            assert result.exit_code == 0, result.stderr
            return allowed
        needed = int(result.stderr.split(" bytes), more than")[0].rsplit("(", 1)[1])
        assert needed > allowed, result.stderr
        allowed = needed
    pytest.fail(f"still refused after 10 stages: {result.stderr}")


@pytest.mark.parametrize("case", list(CHECKPOINTS))
def test_checkpoint_estimate_bounds_reading_and_running_the_file(case, tmp_path):
    # The case: the estimate covered the run, not the load (a 1 GiB file peaked at
    # 3.8x its estimate). Now the saved tensors, their statistics and the run all count.
    import torch
    from safetensors.torch import save_file

    fmt, build = CHECKPOINTS[case]
    state = build()
    path = tmp_path / ("model.safetensors" if fmt == "safetensors" else "model.pt")
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path, _use_new_zipfile_serialization=fmt == "zip")
    needed = admitted_memory(["checkpoint", str(path)])
    peak, code, stderr = measured_peak("checkpoint", str(path), "-f", "json", "--max-memory", str(needed))
    assert code == 0, stderr
    shown = f"{case}: measured {peak / MiB:.1f} MiB, estimate {needed / MiB:.1f} MiB ({needed / peak:.2f}x)"
    print(shown)
    assert peak * MARGIN <= needed, shown
    assert needed <= ABSURD * max(peak, SMALL), shown
