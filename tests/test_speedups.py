"""The start-up and exit speed-ups change nothing a user sees: the same bytes and exit status.

`rnnshape` (console.main) pauses the collector during torch's import, freezes what it
made, and leaves without the interpreter's teardown; `rnnshape.cli.main` called plainly
does none of that. Both run here in fresh interpreters and must print the same bytes.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV_KEEP = {"NO_COLOR": "1", "COLUMNS": "100"}

CASES = [
    ["inspect", "--layers", "2", "--bidirectional"],
    ["inspect", "--hidden-size", "0"],
    ["sweep", "--mode", "rnn,lstm", "--device", "meta,cpu", "--hidden-size", "2,3", "-f", "csv"],
]


def _run(entry: str, args: list[str]) -> subprocess.CompletedProcess:
    import os

    code = f"import sys; sys.argv = ['rnnshape', *sys.argv[1:]]; from {entry} import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, cwd=REPO, timeout=120,
                          env={**os.environ, **ENV_KEEP})


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) for a in CASES])
def test_the_fast_entry_point_prints_the_same_bytes(args):
    fast, plain = _run("rnnshape.console", args), _run("rnnshape.cli", args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert fast.stdout or fast.stderr


def test_the_fast_exit_still_runs_atexit_handlers(tmp_path):
    # _leave skips the interpreter's teardown, not what a program registered to run at exit.
    marker = tmp_path / "ran"
    code = ("import atexit, sys; atexit.register(lambda: open(sys.argv.pop(), 'w').write('x')); "
            "sys.argv = ['rnnshape', '--version', sys.argv[1]]; from rnnshape.console import main; main()")
    subprocess.run([sys.executable, "-c", code, str(marker)], capture_output=True, cwd=REPO, timeout=60)
    assert marker.read_text() == "x"
