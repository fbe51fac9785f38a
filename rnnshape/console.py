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
            from rnnshape.language import LanguageProblem, lang_in, parse, said, speaking

            given = lang_in(sys.argv[1:])
            try:
                lang = parse(given) if given is not None else None  # None: RNNSHAPE_LANG, else the locale
            except LanguageProblem:  # --lang names no language: that error can wait, this one cannot
                lang = None
            with speaking(lang):
                sys.stderr.write("error: " + said("stdout is closed: there is nowhere to write the answer") + "\n")
        sys.exit(3)
    from rnnshape import probe
    from rnnshape.cli import main as cli_main

    probe.FREEZE_AFTER_IMPORT = True  # one answer, then exit: see probe.import_torch
    try:
        cli_main()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def _leave(code: object) -> None:
    """Exit now, without the interpreter's teardown.

    Tearing down a process that imported torch frees its million objects one by one
    (a fifth of `python -c "import torch"`, measured); the answer is written and the
    OS takes the memory back at once. What teardown would do that matters is done
    here: the output flushed (a failure to write it is still told, as clikit tells
    it), and the atexit handlers run.
    """
    import atexit

    if isinstance(code, str):  # sys.exit("message"): Python prints it and exits 1
        sys.stderr.write(code + "\n")
        code = 1
    status = 0 if code is None else code if isinstance(code, int) else 1
    try:
        sys.stdout.flush()
    except OSError as exc:
        from rnnshape.clikit import is_output_failure, output_failed

        if not is_output_failure(exc):
            raise
        status = output_failed(exc)
    except ValueError:  # stdout closed by the command itself: nothing is left to flush
        pass
    atexit._run_exitfuncs()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status)
