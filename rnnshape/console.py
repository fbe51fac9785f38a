"""The `rnnshape` console script: what must hold before anything else is imported.

Ctrl-C ends rnnshape at once, at any moment, with exit status 130 and no
traceback: while typer or torch is being imported too (torch's import can
swallow a KeyboardInterrupt, and a traceback there helps no one). A closed
stdout (`rnnshape ... >&-`) is one `error:` line. Then the CLI (cli.py) runs.
"""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a process Ctrl-C ended


def _interrupted(signum: int, frame: object) -> None:
    # os._exit: nothing after Ctrl-C may print a traceback or keep running (not even an
    # `except BaseException` in an imported library); the answer was not finished anyway.
    os._exit(INTERRUPTED)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    if sys.stdout is None:  # started with stdout closed: there is nowhere to write the answer
        if sys.stderr is not None:
            sys.stderr.write("error: stdout is closed: there is nowhere to write the answer\n")
        sys.exit(3)
    from rnnshape import probe
    from rnnshape.cli import main as cli_main

    probe.FREEZE_AFTER_IMPORT = True  # one answer, then exit: see probe.import_torch

    cli_main()
