"""How rnnshape's commands sit on Typer: one error format, plain grouped help, and
values passed through untouched (rnnshape parses them itself, in spec.py).

Each piece exists for a measured reason: click's usage errors must read like
rnnshape's own (`error: ...`, exit 2), and `--help` or a refused flag must
answer in the time it takes to import Typer.
"""

import errno
import os
import sys
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.2x vendors click privately; older typer depends on click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions


from rnnshape.errors import ExitStatus


def error(message: str) -> None:
    """The one format for every rejection: one line on stderr, a file name's control characters escaped."""
    from rnnshape.render.text import visible

    sys.stderr.write(f"error: {visible(' '.join(message.split()))}\n")


class _TextAsIs:
    """Coercion for text and flag options: click already delivers a str or bool (or None), keep it.

    typer >= 0.2x coerces every value through a pydantic TypeAdapter, and
    importing pydantic to turn a str into the same str costs about 50 ms of every
    run, a third of a refused flag's whole time. rnnshape parses its own text
    (spec.py), so these options skip that step.
    """

    def coerce(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        return value


_ONE_AS_GIVEN = (str, Optional[str], bool, Optional[bool])
# A repeatable option (--input-shape A --input-shape B): click delivers a tuple of str; keep it.
_MANY_AS_GIVEN = (list[str], Optional[list[str]])


def _skip_coercion(param: Any) -> Any:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    multiple = getattr(param, "multiple", False)
    if getattr(param, "_runtime_param", False) is None and (  # older typer: no such step
        (annotation in _ONE_AS_GIVEN and param.nargs == 1 and not multiple) or (annotation in _MANY_AS_GIVEN and multiple)
    ):
        param._runtime_param = _TextAsIs()
    return param


def _format_options_by_panel(command: Any, ctx: Any, formatter: Any) -> None:
    """Options grouped under their panel (Layer, Dummy run, Output), in click's plain layout.

    Plain, not typer's Rich panels: those import rich's table, panel and
    markdown machinery, doubling the time `--help` takes.
    """
    panels: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record:
            panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
    for title, rows in panels.items():
        with formatter.section(title):
            _write_dl(formatter, rows, col_max=36)  # `--bidirectional / --unidirectional` on one line


def _write_dl(formatter: Any, rows: list[tuple[str, str]], col_max: int = 30, spacing: int = 2) -> None:
    """click's two-column help list, wrapped without breaking a word: click's wrapper splits
    `--input-shape` after its hyphen, which no one can then search for or copy."""
    from rnnshape.render.text import cell_width, wrap

    first = min(max((cell_width(term) for term, _ in rows), default=0), col_max)
    indent = " " * formatter.current_indent
    hang = indent + " " * (first + spacing)
    text_width = max(formatter.width - len(hang), 20)
    for term, text in rows:
        formatter.write(indent + term)
        if not text:
            formatter.write("\n")
            continue
        formatter.write(" " * (first - cell_width(term) + spacing) if cell_width(term) <= first else "\n" + hang)
        lines = wrap(text, text_width)
        formatter.write(lines[0] + "\n" + "".join(hang + line + "\n" for line in lines[1:]))


class _ValuesAsGiven:
    """Every parameter a command parses with, --help included (click makes that one
    per call, outside `params`), keeps click's value: see _TextAsIs."""

    def get_params(self, ctx: Any) -> list[Any]:
        return [_skip_coercion(param) for param in super().get_params(ctx)]  # type: ignore[misc]


class RnnshapeCommand(_ValuesAsGiven, TyperCommand):
    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)


class RnnshapeGroup(_ValuesAsGiven, TyperGroup):
    """Typer's group, with click's usage errors reworded as one `error:` line and exit 2."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's whole first sentence, not click's 45-character cut.
        rows = [(name, command.get_short_help_str(limit=200)) for name, command in self.commands.items() if not command.hidden]
        with formatter.section("Commands"):
            _write_dl(formatter, rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:
            # Bare `rnnshape`: the help, on stdout, and no error.
            sys.stdout.write(exc.ctx.get_help() + "\n")
            code = ExitStatus.OK
        except click_exceptions.UsageError as exc:
            message = exc.format_message().rstrip(".")
            error(message[:1].lower() + message[1:])
            code = ExitStatus.BAD_INPUT
        except (typer.Abort, KeyboardInterrupt):
            code = ExitStatus.INTERRUPTED
        except OSError as exc:
            if not is_output_failure(exc):
                raise
            code = output_failed(exc)
        code = _flushed(int(code or 0))
        if standalone_mode:
            sys.exit(code)
        return code


# A write to stdout that fails: the disk is full (`> /dev/full`), over quota, or the device failed.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def is_output_failure(exc: OSError) -> bool:
    return isinstance(exc, BrokenPipeError) or exc.errno in _OUTPUT_ERRNOS


def output_failed(exc: OSError) -> int:
    """The answer could not be written: a reader that left is told nothing (as cat does); a full disk, one line."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's last flush must not fail again
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(exc, BrokenPipeError):
        return ExitStatus.READER_LEFT
    error(f"cannot write the answer to stdout: {exc.strerror or exc}")
    return ExitStatus.ENVIRONMENT


def _flushed(code: int) -> int:
    """Flush stdout now, where a full disk or a closed pipe can still be told (not in the interpreter's teardown)."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        return output_failed(exc)
    return code

