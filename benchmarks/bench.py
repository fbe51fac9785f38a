"""Whole-process timings and peak memory of the rnnshape CLI, as a markdown table.

Usage: python benchmarks/bench.py [--runs N] [--write docs/performance.md] [--only NAME ...]
                                  [--skip-missing]

Every command is measured against a baseline (the imports it cannot avoid) in the
same run, so the table states what rnnshape itself costs on this machine rather
than an absolute time that depends on the machine and its load.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

PY = sys.executable
_script = os.path.join(os.path.dirname(PY), "rnnshape")
# The installed console script is what users run; `-m` only if it is not installed.
RNNSHAPE = [_script] if os.access(_script, os.X_OK) else [PY, "-m", "rnnshape"]
# No colour and a fixed width, so output (and its cost) does not depend on the terminal.
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}

IMPORT_UI = [PY, "-c", "import typer, rich.console"]
IMPORT_TORCH = [PY, "-c", "import torch"]
HUGE = "inspect --mode lstm --input-size 4096 --hidden-size 8192 --layers 16 --bidirectional"
CHECK = "check --mode lstm --input-size 256 --hidden-size 256 --input-shape 8,8,256 --h0-shape 1,32,256 --c0-shape 1,32,256"
SWEEP = "sweep --mode rnn,lstm --hidden-size 1..10 --input-size 1..10 --layers 1..5 -f csv"
# A checkpoint far larger than its recurrent part: a 256 MiB embedding beside a 2-layer
# LSTM. Peak RSS shows whether the file is read whole or only the LSTM's tensors are.
FIXTURES = os.path.join(tempfile.gettempdir(), "rnnshape-bench")
BIG = os.path.join(FIXTURES, "big")
MAKE_FIXTURES = f"""
import os, torch
from safetensors.torch import save_file
torch.manual_seed(0)
sd = {{"embed.weight": torch.randn(500_000, 128)}}
sd.update({{"encoder." + k: v for k, v in torch.nn.LSTM(128, 256, num_layers=2).state_dict().items()}})
os.makedirs({FIXTURES!r}, exist_ok=True)
torch.save({{"epoch": 1, "model": sd}}, {BIG + ".pt"!r})
save_file(sd, {BIG + ".safetensors"!r})
"""


@dataclass(frozen=True)
class Bench:
    name: str
    args: str  # rnnshape arguments, split on spaces
    baseline: list[str]
    exit: int = 0  # expected exit code of the command
    max_ratio: float | None = None  # goal: median ratio command / baseline
    max_extra_s: float | None = None  # goal: median command - median baseline, seconds
    goal_note: str = ""  # extra goal text, e.g. the exit code that is the point
    max_s: float | None = None  # goal: median command time, seconds, whatever the baseline
    runs: int | None = None  # fewer runs than --runs for the long ones (a minute each)
    baseline_exit: int = 0  # expected exit code of the baseline (another rnnshape command may refuse too)


# One line per benchmark. Without a goal the row is informational.
SWEEP_META = "sweep --device meta --mode rnn,lstm --hidden-size 1..10 --input-size 1..10 --layers 1..5 -f csv"
# 3 modes x 20 x 17 x 5 x 2 = 10,200 configurations, answered by a real CPU run each.
SWEEP_10K = "sweep --mode rnn,lstm,gru --hidden-size 1..20 --input-size 1..17 --layers 1..5 --bidirectional --unidirectional -f csv"
VERIFY = "verify --mode lstm --input-size 256 --hidden-size 256 --layers 2 --bidirectional --seq-len 100 --batch-size 32"
LAYERS_1000 = "inspect --device meta --layers 1000"
BENCHES = [
    Bench("help", "--help", IMPORT_UI, max_ratio=1.0),
    Bench("rejected-flag", "inspect --hidden-size 0", IMPORT_UI, exit=2, max_ratio=1.0),
    Bench("version", "--version", IMPORT_UI),
    Bench("inspect", "inspect", IMPORT_TORCH, max_ratio=0.85),
    Bench("inspect-bidirectional", "inspect --layers 2 --bidirectional", IMPORT_TORCH, max_ratio=0.85),
    Bench("inspect-json", "inspect --mode lstm --layers 2 --bidirectional -f json", IMPORT_TORCH),
    Bench("no-run", "inspect --no-run", IMPORT_TORCH, max_ratio=0.15),
    Bench("huge-meta", HUGE + " --device meta", IMPORT_TORCH, max_ratio=2.0),
    Bench("huge-cpu", HUGE + " --device cpu", IMPORT_TORCH, exit=3, max_ratio=1.5,
          goal_note="refused (exit 3)"),
    Bench("sweep-1000", SWEEP, IMPORT_TORCH, max_extra_s=5.0),
    Bench("sweep-meta-1000", SWEEP_META, IMPORT_TORCH, max_extra_s=10.0, goal_note="10 ms a config"),
    Bench("sweep-10200", SWEEP_10K, IMPORT_TORCH, max_extra_s=25.0, runs=3),
    Bench("relu-meta-100x1000", "inspect --device meta --nonlinearity relu --layers 100 --seq-len 1000", IMPORT_TORCH,
          max_s=5.0, runs=5),
    Bench("relu-meta-1000x100", "inspect --device meta --nonlinearity relu --layers 1000 --seq-len 100", IMPORT_TORCH,
          max_s=5.0, runs=5),
    Bench("verify-lstm-256", VERIFY, IMPORT_TORCH, max_ratio=3.0),
    # The same run without the table: the difference is what drawing 1000 layers' rows costs.
    Bench("table-1000-layers", LAYERS_1000, RNNSHAPE + (LAYERS_1000 + " -f json").split(), max_extra_s=1.0,
          goal_note="the table's rendering"),
    Bench("checkpoint-header", f"checkpoint {BIG}.safetensors --no-run -f json", IMPORT_UI, max_ratio=1.5,
          goal_note="no torch"),
    Bench("checkpoint-safetensors", f"checkpoint {BIG}.safetensors", IMPORT_TORCH, max_ratio=1.3),
    Bench("checkpoint-pt", f"checkpoint {BIG}.pt", IMPORT_TORCH, max_ratio=1.3),
    # Your own model: a malformed shape is refused before torch; torch's refusal, explained; a whole model.
    Bench("check-rejected-shape", "check --input-shape 8,x,256", IMPORT_UI, exit=2, max_ratio=1.15, goal_note="no torch"),
    Bench("check-refused", CHECK, IMPORT_TORCH, exit=1, max_ratio=1.3, goal_note="exit 1, explained"),
    Bench("summary", "summary docs/examples/models.py:tagger --input-shape 32,20 --input-dtype int64", IMPORT_TORCH,
          max_ratio=1.3),
    # Chinese against English, the same command otherwise: what reading the catalog costs.
    Bench("help-zh", "--help --lang zh", RNNSHAPE + "--help --lang en".split(), max_ratio=1.05, goal_note="vs --lang en"),
    Bench("rejected-flag-zh", "inspect --hidden-size 0 --lang zh", RNNSHAPE + "inspect --hidden-size 0 --lang en".split(),
          exit=2, baseline_exit=2, max_ratio=1.05, goal_note="vs --lang en"),
    Bench("inspect-zh", "inspect --layers 2 --bidirectional --lang zh",
          RNNSHAPE + "inspect --layers 2 --bidirectional --lang en".split(), max_ratio=1.05, goal_note="vs --lang en"),
]
# In one process: verify's float64 reference (rnnshape.reference.forward) against torch's
# own float32 forward of the same module, at the same thread count; the best of 5 each.
REFERENCE_SPEED = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
from rnnshape import probe, reference
from rnnshape.spec import RNNSpec
threads = int(sys.argv[1])
torch.set_num_threads(threads)
spec = RNNSpec(mode="lstm", input_size=256, hidden_size=256, num_layers=2, bidirectional=True, seq_len=100, batch_size=32)
ran = probe.run(spec)
params = dict(ran.module.named_parameters())
def best(f):
    times = []
    for _ in range(5):
        start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
    return min(times)
with torch.no_grad():
    module = best(lambda: ran.module(ran.input, ran.state_0))
    ref = best(lambda: reference.forward(spec, params, ran.input, ran.h_0, ran.c_0))
print(json.dumps({"threads": threads, "module": module, "reference": ref}))
"""
REFERENCE_GOAL = 1.5
MISSING = ("no such command", "no such option")  # what the CLI says for an unknown name


def run_once(argv: list[str], stderr=subprocess.DEVNULL) -> tuple[float, int, int]:
    """Run one process; return (wall seconds, exit code, peak RSS in KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=ENV, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr)
    # wait4 on this pid gives the rusage of this one child; getrusage(RUSAGE_CHILDREN)
    # would give the maximum over every child so far, i.e. the largest of all commands.
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
    return wall, code, usage.ru_maxrss  # ru_maxrss is in KiB on Linux


def warm_up(argv: list[str]) -> tuple[int, str]:
    """Untimed run that fills the file cache; returns (exit code, stderr)."""
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: no deadlock on big output
        _, code, _ = run_once(argv, stderr=err)
        err.seek(0)
        return code, err.read()


def fail(bench: Bench, argv: list[str], want: int, got: int, stderr: str = "") -> None:
    tail = "\n".join(stderr.strip().splitlines()[-5:])
    sys.exit(f"benchmark {bench.name!r}: `{' '.join(argv)}` exited {got}, expected {want}; "
             f"timing a command that fails is meaningless.\n{tail}")


def measure(bench: Bench, runs: int, skip_missing: bool) -> dict | None:
    """Medians for one benchmark, or None when the command does not exist (--skip-missing)."""
    cmd = RNNSHAPE + bench.args.split()
    code, err = warm_up(cmd)
    if code != bench.exit:
        if skip_missing and code == 2 and any(m in err.lower() for m in MISSING):
            return None
        fail(bench, cmd, bench.exit, code, err)
    code, err = warm_up(bench.baseline)
    if code != bench.baseline_exit:
        fail(bench, bench.baseline, bench.baseline_exit, code, err)
    times, base_times, rss, base_rss = [], [], [], []
    # Alternate baseline and command so that drift in machine load (other processes,
    # CPU frequency, cache) hits both equally; each ratio compares neighbouring runs.
    for _ in range(bench.runs or runs):
        for argv, want, t, m in ((bench.baseline, bench.baseline_exit, base_times, base_rss),
                                 (cmd, bench.exit, times, rss)):
            wall, code, kib = run_once(argv)
            if code != want:
                fail(bench, argv, want, code)
            t.append(wall)
            m.append(kib / 1024)
    return {
        "time": statistics.median(times),
        "base": statistics.median(base_times),
        "ratio": statistics.median(c / b for c, b in zip(times, base_times)),
        "rss": statistics.median(rss),
        "base_rss": statistics.median(base_rss),
    }


def goal_and_met(bench: Bench, r: dict) -> tuple[str, str]:
    goals, met = [], []
    if bench.goal_note:
        goals.append(bench.goal_note)  # the exit code was checked on every run
    if bench.max_ratio is not None:
        goals.append(f"ratio <= {bench.max_ratio:g}")
        met.append(r["ratio"] <= bench.max_ratio)
    if bench.max_extra_s is not None:
        goals.append(f"time <= baseline + {bench.max_extra_s:g} s "
                     f"(is +{r['time'] - r['base']:.2f} s)")
        met.append(r["time"] - r["base"] <= bench.max_extra_s)
    if bench.max_s is not None:
        goals.append(f"time <= {bench.max_s:g} s")
        met.append(r["time"] <= bench.max_s)
    if not goals:
        return "-", "-"
    return ", ".join(goals), "yes" if all(met) else "**no**"


def child_versions() -> str:
    code = "import platform, torch; print(platform.python_version(), torch.__version__)"
    out = subprocess.run([PY, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    py, torch = out.stdout.split()
    return f"Python {py}, torch {torch}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def reference_speed() -> list[dict]:
    import json

    rows = []
    for threads in (1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1):
        out = subprocess.run([PY, "-c", REFERENCE_SPEED, str(threads)], env=ENV, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def reference_table(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## verify's reference, in one process",
        "",
        "`rnnshape.reference.forward` (float64, every step by its equations) against torch's own float32 "
        "forward of the same module, LSTM(256, 256, num_layers=2, bidirectional=True) on (100, 32, 256), "
        "the best of 5 calls each, at the same thread count.",
        "",
        "| Threads | torch float32 (ms) | reference float64 (ms) | Ratio | Goal | Met |",
        "|--:|--:|--:|--:|---|---|",
    ]
    for r in rows:
        ratio = r["reference"] / r["module"]
        met = "yes" if ratio <= REFERENCE_GOAL else "**no**"
        lines.append(f"| {r['threads']} | {r['module'] * 1000:.1f} | {r['reference'] * 1000:.1f} | {ratio:.2f} "
                     f"| ratio <= {REFERENCE_GOAL:g} | {met} |")
    return lines


def report(results: list[tuple[Bench, dict | None]], runs: int, reference_rows: list[dict] | None = None) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "<!-- generated by benchmarks/bench.py; do not edit by hand -->",
        "# Performance",
        "",
        "Each row times whole processes, start to exit, of the installed `rnnshape` command "
        f"against a baseline process measured in the same run: {runs} runs of each "
        "(fewer for the sweep of 10,200 and the relu stacks, a minute or seconds each), "
        "alternating baseline and command after one untimed warm-up of each. Times are "
        "medians; the ratio is the median of the per-pair ratios (command / the baseline run "
        "just before it), not the ratio of the medians. Peak RSS is the median of `ru_maxrss` "
        "of each child, from `wait4`. The exit code of every run was checked. rnnshape's "
        "bytecode is compiled first, as pip does on a normal install (this machine sets "
        "PYTHONDONTWRITEBYTECODE, so an editable install would otherwise recompile its sources "
        "on every run, about 20 ms). "
        f"Machine: {cpus} CPUs, {cpu_model()}, {platform.system()} {platform.release()}; "
        f"{child_versions()}; {datetime.date.today().isoformat()}.",
        "",
        "| Benchmark | Command | Median (s) | Baseline | Baseline (s) | Ratio | Goal | Met "
        "| Peak RSS (MiB) | Baseline RSS (MiB) |",
        "|---|---|--:|---|--:|--:|---|---|--:|--:|",
    ]
    for bench, r in results:
        shown = ["rnnshape", *bench.baseline[len(RNNSHAPE):]] if bench.baseline[: len(RNNSHAPE)] == RNNSHAPE else ["python", *bench.baseline[1:]]
        base = f"`{shlex.join(shown)}`"
        cmd = f"`rnnshape {bench.args}`"
        if r is None:
            lines.append(f"| {bench.name} | {cmd} | not available | {base} | | | | | | |")
            continue
        goal, met = goal_and_met(bench, r)
        lines.append(
            f"| {bench.name} | {cmd} | {r['time']:.3f} | {base} | {r['base']:.3f} "
            f"| {r['ratio']:.2f} | {goal} | {met} | {r['rss']:.0f} | {r['base_rss']:.0f} |")
    if reference_rows:
        lines += reference_table(reference_rows)
    lines += ["", "Regenerate with: `python benchmarks/bench.py --write docs/performance.md`", ""]
    return "\n".join(lines)


def main() -> None:
    names = [b.name for b in BENCHES]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs of each (>= 5)")
    ap.add_argument("--write", metavar="PATH", help="write the markdown here (default: stdout)")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=[*names, "reference"],
                    help="run only these: " + ", ".join(names) + ", reference (verify's reference in one process)")
    ap.add_argument("--skip-missing", action="store_true",
                    help="mark commands/options the CLI does not have yet 'not available'")
    args = ap.parse_args()
    if args.runs < 5:  # a median of fewer runs is mostly noise
        ap.error("--runs must be at least 5")
    # What a pip install does: rnnshape's .pyc files exist before the first run.
    subprocess.run([PY, "-m", "compileall", "-q", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rnnshape")],
                   check=True, stdout=subprocess.DEVNULL)
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    if any(b.args.startswith("checkpoint") for b in chosen) and not os.path.exists(BIG + ".safetensors"):
        print(f"making {FIXTURES} ...", file=sys.stderr, flush=True)
        subprocess.run([PY, "-c", MAKE_FIXTURES], check=True, env=ENV)
    results = []
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        print(f"{bench.name} ...", file=sys.stderr, flush=True)
        results.append((bench, measure(bench, args.runs, args.skip_missing)))
    reference_rows = None
    if not args.only or "reference" in args.only:
        print("reference ...", file=sys.stderr, flush=True)
        reference_rows = reference_speed()
    text = report(results, args.runs, reference_rows)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
