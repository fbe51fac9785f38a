"""Measure what a run really peaks at, against the memory guard's estimate.

    python benchmarks/memory.py                 # the grid below, a table in MiB
    python benchmarks/memory.py inspect --mode lstm --input-size 4096 --hidden-size 4096 --layers 2

Each command runs in a child interpreter that imports torch and rnnshape.cli,
reads its own peak RSS (VmHWM: that is the baseline, the peak of a process that
only imported them), runs `rnnshape ...` through rnnshape.cli.main, and reads
VmHWM again: the run's peak is the difference. The estimate is the guard's own
(theory.run_bytes, verification's verify_bytes + run_bytes, check's) for the
same config. --repeat N takes the median of N children.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The child: baseline after the imports, the command, then the peak. rnnshape's own
# output goes to /dev/null (fd 1); the measurement comes back on a dup of the old fd 1.
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
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
baseline, rss = status('VmHWM'), status('VmRSS')
sys.argv = ['rnnshape', *sys.argv[1:]]
code = 0
try:
    rnnshape.cli.main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
os.write(out, (json.dumps({'baseline': baseline, 'rss': rss, 'peak': status('VmHWM'), 'code': code}) + '\n').encode())
"""


def measure(argv: list[str], *, repeat: int = 1, timeout: float = 600) -> dict:
    """{'peak': median bytes above the baseline, 'code': exit status, 'stderr': ...} of `rnnshape *argv`."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", DRIVER, *argv], capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"rnnshape {' '.join(argv)}: the driver failed ({proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        runs.append({**result, "extra": result["peak"] - result["baseline"], "stderr": proc.stderr})
    return {"peak": int(statistics.median(r["extra"] for r in runs)), "code": runs[-1]["code"],
            "stderr": runs[-1]["stderr"], "baseline": runs[-1]["baseline"], "runs": [r["extra"] for r in runs]}


def estimate(argv: list[str]) -> int:
    """The guard's estimate for `rnnshape *argv`, computed as the command computes it."""
    from rnnshape import theory, verification

    command, spec, given = parse(argv)
    if command == "verify":
        return verification.verify_bytes(spec)
    if command == "check":
        return theory.check_bytes(spec, given["input_shape"], given_bytes=given["bytes"], lengths=given.get("lengths"),
                                  enforce_sorted=spec.enforce_sorted)
    return theory.run_bytes(spec)


_VALUED = {"--mode": "mode", "--input-size": "input_size", "--hidden-size": "hidden_size", "--layers": "num_layers",
           "--proj-size": "proj_size", "--nonlinearity": "nonlinearity", "--seq-len": "seq_len",
           "--batch-size": "batch_size", "--dtype": "dtype", "--device": "device", "--lengths": "lengths"}
_SWITCHES = {"--bidirectional": ("bidirectional", True), "--batch-first": ("batch_first", True),
             "--unbatched": ("unbatched", True), "--no-bias": ("bias", False),
             "--no-enforce-sorted": ("enforce_sorted", False)}
_SHAPES = ("--input-shape", "--h0-shape", "--c0-shape")


def parse(argv: list[str]) -> tuple[str, object, dict]:
    """(command, RNNSpec of the layer flags, check's given tensors) for the flags this script uses."""
    from rnnshape.spec import RNNSpec

    command, rest = argv[0], list(argv[1:])
    fields: dict = {}
    shapes: dict = {}
    while rest:
        flag = rest.pop(0)
        if flag in _SWITCHES:
            fields[_SWITCHES[flag][0]] = _SWITCHES[flag][1]
        elif flag in _SHAPES:
            shapes[flag] = tuple(int(s) for s in rest.pop(0).split(","))
        elif flag in _VALUED:
            value = rest.pop(0)
            fields[_VALUED[flag]] = tuple(int(s) for s in value.split(",")) if flag == "--lengths" else (
                int(value) if value.isdigit() else value)
        elif flag in ("--max-memory", "-f", "--input-dtype"):
            rest.pop(0)
    given: dict = {}
    if command == "check":
        lengths = fields.pop("lengths", None)
        spec = RNNSpec(**fields)
        item = theory_bytes(spec.dtype)
        given = {"input_shape": shapes["--input-shape"], "lengths": lengths,
                 "bytes": sum(math.prod(s) * item for s in shapes.values())}
        return command, spec, given
    return command, RNNSpec(**fields), given


def theory_bytes(dtype: str) -> int:
    from rnnshape.theory import DTYPE_BYTES

    return DTYPE_BYTES[dtype]


GRID = [
    "inspect",
    "inspect --mode lstm",
    "inspect --mode gru",
    "inspect --mode lstm --unbatched",
    "inspect --mode lstm --proj-size 5",
    "inspect --mode lstm --lengths 5,3,2",
    "inspect --device meta --mode lstm --input-size 4096 --hidden-size 4096 --layers 2",
    "verify",
    "verify --mode lstm --layers 2",
    "inspect --mode lstm --input-size 1024 --hidden-size 1024",
    "inspect --mode lstm --input-size 4096 --hidden-size 4096 --layers 2",
    "inspect --mode gru --input-size 2048 --hidden-size 2048 --layers 2 --seq-len 100 --batch-size 64",
    "inspect --mode rnn --input-size 2048 --hidden-size 2048 --layers 2 --seq-len 100 --batch-size 64",
    "inspect --mode lstm --input-size 2048 --hidden-size 2048 --layers 2 --seq-len 100 --batch-size 64",
    "verify --mode lstm --input-size 1024 --hidden-size 1024 --layers 2 --seq-len 50 --batch-size 16",
    "check --mode lstm --input-size 1024 --hidden-size 1024 --input-shape 50,16,1024",
]


def main(argv: list[str]) -> None:
    repeat = 1
    if argv[:1] == ["--repeat"]:
        repeat, argv = int(argv[1]), argv[2:]
    grid = [argv] if argv else [line.split() for line in GRID]
    mib = 2**20
    print(f"{'peak MiB':>9} {'estimate':>9} {'ratio':>6}  command")
    for args in grid:
        m = measure(args, repeat=repeat)
        e = estimate(args)
        ratio = e / m["peak"] if m["peak"] > 0 else float("inf")
        print(f"{m['peak'] / mib:9.1f} {e / mib:9.1f} {ratio:6.2f}  rnnshape {' '.join(args)}"
              + ("" if m["code"] == 0 else f"  (exit {m['code']}: {m['stderr'].strip()[:120]})"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
