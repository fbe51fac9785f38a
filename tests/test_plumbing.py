"""A hostile world around the run: bad flags on every command, full disks, closed pipes, Ctrl-C, threads.

Flags are tried in this process (fast), except where the old failure was a hang or
a crash of the process itself: those run in a subprocess with a timeout, so that
a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

import rnnshape
from rnnshape.cli import app
from rnnshape.sweep import Pace

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).parent / "rnnshape")
MODELS = "docs/examples/models.py"


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


def run(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "NO_COLOR": "1", **kwargs.pop("env", {})}, **kwargs)


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout[-300:], result.stderr)
    assert result.stdout == "", result.stdout[:300]
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.save(nn.GRU(3, 4, num_layers=2).state_dict(), path)
    return str(path)


# --- bad flags: every command refuses what inspect refuses ---------------------------------------

# (flags, what the error names): each value a command taking these flags must refuse, exit 2 or 3.
BAD_LAYER_FLAGS = [
    (["--hidden-size", "0"], "--hidden-size"),
    (["--hidden-size", "2.5"], "--hidden-size"),
    (["--layers", "1000000000"], "--layers"),
    (["--layers", "9223372036854775808"], "--layers"),
    (["--layers", "-1"], "--layers"),
    (["--device", "cuda:00"], "--device"),
    (["--device", "cuda:01"], "--device"),
    (["--device", "cuda:٣"], "--device"),
    (["--device", "gpu"], "--device"),
    (["--dtype", "int8"], "--dtype"),
    (["--dropout", "nan"], "--dropout"),
    (["--mode", "lstm", "--proj-size", "20"], "--proj-size"),
    (["--hidden-size", "99999999999999"], "--hidden-size"),  # a weight past int64 elements: torch cannot hold it
]
SPEC_COMMANDS = {
    "inspect": ["inspect"],
    "verify": ["verify"],
    "code": ["code"],
    "check": ["check", "--input-shape", "5,3,10"],
}


@pytest.mark.parametrize("flags,names", BAD_LAYER_FLAGS, ids=[" ".join(f) for f, _ in BAD_LAYER_FLAGS])
@pytest.mark.parametrize("command", SPEC_COMMANDS, ids=SPEC_COMMANDS.keys())
def test_every_command_refuses_what_inspect_refuses(command, flags, names):
    inspect_says = invoke("inspect", *flags)
    result = invoke(*SPEC_COMMANDS[command], *flags)
    assert result.exit_code == inspect_says.exit_code and result.exit_code in (2, 3)
    assert names in one_error_line(result, result.exit_code)


RUN_FLAGS = [
    (["--seq-len", "0"], 2), (["--batch-size", "-1"], 2), (["--seq-len", "9223372036854775808"], 2),
    (["--layers", "5000"], 3),  # torch would take minutes to build it: this machine's limit, not a bad value
]


@pytest.mark.parametrize("flags,code", RUN_FLAGS, ids=[" ".join(f) for f, _ in RUN_FLAGS])
@pytest.mark.parametrize("command", ["inspect", "verify", "code"])
def test_what_no_run_would_answer_is_still_refused_where_torch_runs(command, flags, code):
    one_error_line(invoke(command, *flags), code)


@pytest.mark.parametrize("args", [
    ["inspect", "--layers", "1000000000", "--no-run"],
    ["flow", "--layers", "1000000000"],
    ["sweep", "--layers", "1000000000"],
    ["inspect", "--max-memory", "1e99999999"],
    ["inspect", "--max-memory", "1e400"],
    ["inspect", "--max-memory", "nan"],
    ["checkpoint", "FILE", "--max-memory", "1e400"],
], ids=lambda a: " ".join(a))
def test_flags_that_hung_or_crashed_answer_at_once(args, saved):
    args = [saved if a == "FILE" else a for a in args]
    started = time.monotonic()
    result = run(args, timeout=30)
    assert time.monotonic() - started < 30
    stderr = result.stderr.decode()
    if args[0] == "sweep":  # a sweep reports each refused row, and exits 2 when every one was refused
        assert result.returncode == 2 and "Traceback" not in stderr
        return
    assert result.returncode == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert result.stdout == b""


@pytest.mark.parametrize("args", [["flow", "--seq-len", "1000000000"], ["flow", "--seq-len", "9223372036854775808"],
                                  ["inspect", "--seq-len", "1000000000", "--no-run", "--brief"]], ids=lambda a: " ".join(a))
def test_huge_sequences_are_drawn_without_listing_every_step(args):
    result = run(args, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    assert "elided" in result.stdout.decode() or "1000000000" in result.stdout.decode()


@pytest.mark.parametrize("svg,words", [("", "must name a file"), ("/proc/x.svg", "cannot write"), ("/dev/full", "not a regular file"),
                                       ("/nonexistent/folder/x.svg", "cannot write")])
@pytest.mark.parametrize("command", [["inspect"], ["verify"], ["flow"], ["checkpoint", "FILE"]], ids=lambda c: c[0])
def test_an_svg_that_cannot_be_written_is_refused_before_any_work(command, svg, words, saved):
    args = [saved if a == "FILE" else a for a in command]
    assert words in one_error_line(invoke(*args, "--svg", svg))


def test_an_svg_that_fails_while_written_is_one_line_exit_3(tmp_path, monkeypatch):
    from rnnshape.render import table

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(table, "save_svg", full)
    result = invoke("inspect", "--svg", str(tmp_path / "x.svg"))
    assert result.exit_code == 3 and result.stderr == "error: --svg " + str(tmp_path / "x.svg") + ": cannot write the picture: No space left on device\n"
    assert not (tmp_path / "x.svg").exists()  # the trial file is gone


# --- a long sweep says how long, early -----------------------------------------------------------


def test_pace_is_said_once_and_only_for_a_long_sweep():
    pace = Pace(total=10_000)
    assert pace.step(100.0) is None  # the first configuration paid for torch's import: not measured
    assert pace.step(100.5) is None  # too early to tell
    said = pace.step(102.5)
    assert said == "sweep: 10000 configurations at about 1250.0 ms each (measured on 2): about 3.5 h more; Ctrl-C stops it"
    assert pace.step(110.0) is None  # once
    short = Pace(total=5)
    assert [short.step(t) for t in (0.0, 1.0, 2.5, 3.0)] == [None, None, None, None]  # 2 more at ~1 s: not worth a word


def test_a_long_sweep_says_so_on_stderr(monkeypatch):
    monkeypatch.setattr(Pace, "MEASURE_S", 0.0)
    monkeypatch.setattr(Pace, "LONG_S", 0.0)
    result = invoke("sweep", "--hidden-size", "1..4", "--no-run", "-f", "csv")
    assert result.exit_code == 0
    assert result.stderr.startswith("sweep: 4 configurations at about ") and result.stderr.count("\n") == 1


# --- pipes, full disks, Ctrl-C: real processes -------------------------------------------------------

EVERY_COMMAND = [["--help"], ["--version"], ["inspect"], ["verify"], ["code"], ["flow"], ["sweep", "--mode", "rnn,gru"],
                 ["checkpoint", "FILE"], ["check", "--input-shape", "5,3,10"], ["schema"],
                 ["summary", f"{MODELS}:tagger", "--input-shape", "2,3", "--input-dtype", "int64"]]


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda a: " ".join(a[:2]))
def test_a_full_disk_is_one_error_line_exit_3(args, saved):
    args = [saved if a == "FILE" else a for a in args]
    with open("/dev/full", "wb") as full:
        result = subprocess.run([SCRIPT, *args], stdout=full, stderr=subprocess.PIPE, timeout=120, cwd=REPO,
                                env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 3, result.stderr.decode()
    assert result.stderr.decode() == "error: cannot write the answer to stdout: No space left on device\n"


def test_a_closed_stdout_is_one_error_line_exit_3():
    result = subprocess.run([SCRIPT, "inspect"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
                            pass_fds=(), close_fds=True, preexec_fn=lambda: os.close(1))
    assert result.returncode == 3
    assert result.stderr.decode() == "error: stdout is closed: there is nowhere to write the answer\n"


@pytest.mark.parametrize("args", [["sweep", "--hidden-size", "1..300", "--no-run", "-f", "jsonl"],
                                  ["inspect", "--layers", "3000", "--bidirectional", "--no-run"]], ids=lambda a: a[0])
def test_a_reader_that_leaves_is_not_a_failed_check(args):
    """`... | head -1`: the reader closed the pipe; exit 141, as cat's, and nothing on stderr."""
    process = subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    process.stdout.readline()
    process.stdout.close()  # the reader leaves
    stderr = process.stderr.read().decode()
    # A streaming sweep meets the closed pipe: 141. One large write may be taken whole by the pipe before
    # the reader leaves: then nothing failed (0). Never 1, the code for a failed check, and never a word.
    assert process.wait(timeout=60) in ((141,) if args[0] == "sweep" else (0, 141)), stderr
    assert stderr == ""


# From the first line of rnnshape's own code on (console.py); the interpreter's own start-up before it
# (site, the editable install's path hooks: the first few tens of milliseconds) is Python's.
@pytest.mark.parametrize("delay", [0.15, 0.3, 0.5, 0.8, 1.5])
def test_ctrl_c_at_any_moment_is_exit_130_without_a_traceback(delay):
    process = subprocess.Popen([SCRIPT, "inspect", "--mode", "lstm", "--hidden-size", "256", "--seq-len", "400"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 or (process.returncode == 0 and delay >= 0.8), (process.returncode, stderr.decode())
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr


# --- threads and determinism -------------------------------------------------------------------------

CALLS = [
    dict(mode="lstm", num_layers=2, bidirectional=True, seed=1),
    dict(mode="gru", seed=2, device="meta"),
    dict(mode="rnn", nonlinearity="relu", seed=3, lengths=(4, 2, 3), enforce_sorted=False),
    dict(mode="lstm", proj_size=3, device="meta", num_layers=3),
    dict(mode="grucell", seed=4),
]


def test_the_api_from_eight_threads_gives_what_it_gives_alone():
    alone = [rnnshape.inspect(**kwargs).to_dict() for kwargs in CALLS]
    verified = rnnshape.verify(mode="gru", num_layers=2).to_dict()
    torch.manual_seed(99)
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    results: list[tuple[int, dict]] = []
    failures: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for n in range(25):
                i = (k + n) % len(CALLS)
                results.append((i, rnnshape.inspect(**CALLS[i]).to_dict()))
                if n % 8 == 0:
                    results.append((-1, rnnshape.verify(mode="gru", num_layers=2).to_dict()))
        except BaseException as exc:  # noqa: BLE001 -- every exception is a failure of the test
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures[0]
    assert len(results) == 8 * 25 + 8 * 4
    for i, data in results:
        assert data == (verified if i < 0 else alone[i])
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads


def test_the_weights_do_not_depend_on_the_global_generator():
    torch.manual_seed(0)
    first = rnnshape.inspect(mode="lstm").to_dict()["parameters"]
    torch.manual_seed(12345)
    torch.rand(1000)
    assert rnnshape.inspect(mode="lstm").to_dict()["parameters"] == first
    # and they are torch's own draw: reset_parameters after torch.manual_seed(seed)
    torch.manual_seed(0)
    lstm = nn.LSTM(10, 20)
    assert [p["observed_min"] for p in first] == [p.min().item() for p in lstm.parameters()]


def test_the_same_checkpoint_gives_the_same_bytes_on_any_thread_count(tmp_path):
    path = tmp_path / "big.pt"
    torch.manual_seed(0)
    torch.save(nn.LSTM(300, 300, num_layers=2).state_dict(), path)  # enough values for a parallel sum to differ
    outputs = {threads: run(["checkpoint", str(path), "-f", "json"], env={"OMP_NUM_THREADS": threads}).stdout
               for threads in ("1", "2")}
    assert outputs["1"] == outputs["2"]
    assert json.loads(outputs["1"])["layers"][0]["std"] is not None


# --- what comes from a file is shown as text ------------------------------------------------------------


def test_control_characters_from_a_file_never_reach_the_terminal(tmp_path):
    evil = "enc\x1b[31mRED\x1b]0;title\x07\x00"
    state = {f"{evil}.{k}": v for k, v in nn.GRU(3, 4).state_dict().items()}
    path = tmp_path / "evil\x1b[2J.pt"
    torch.save(state, path)
    for fmt in ("table", "markdown", "csv"):
        result = invoke("checkpoint", str(path), "-f", fmt)
        assert result.exit_code == 0, result.stderr
        for raw in ("\x1b", "\x07", "\x00"):
            assert raw not in result.stdout, (fmt, raw)
        assert "enc\\x1b[31mRED\\x1b]0;title\\x07\\x00" in result.stdout, fmt
    data = json.loads(invoke("checkpoint", str(path), "-f", "json").stdout)
    assert data["layers"][0]["name"] == evil  # JSON keeps the name exact (escaped by JSON itself)
    missing = invoke("checkpoint", str(tmp_path / "gone\x1b[2J.pt"))
    assert "\x1b" not in missing.stderr and "gone\\x1b[2J.pt" in missing.stderr
