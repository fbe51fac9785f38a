"""How rnnshape's commands sit on Typer: one error format, plain grouped help, and
values passed through untouched (rnnshape parses them itself, in spec.py).

Each piece exists for a measured reason: click's usage errors must read like
rnnshape's own (`error: ...`, exit 2), and `--help` or a refused flag must
answer in the time it takes to import Typer.
"""

import errno
import os
import re
import sys
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.2x vendors click privately; older typer depends on click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions


from rnnshape.errors import ExitStatus
from rnnshape.language import (
    LanguageProblem, Message, current, current_is_chosen, fill, from_environment, lang_in, parse, say, speaking, tr,
)


def error(message: str) -> None:
    """The one format for every rejection: one line on stderr, a file name's control characters escaped.

    Said in the chosen language; `error:` and the flag stay as typed, so a script can still find them.
    """
    from rnnshape.render.text import visible

    sys.stderr.write(f"error: {visible(' '.join(say(message).split()))}\n")


# -- the words of --help ------------------------------------------------------------------------------
# click keeps an option's help only after `inspect.cleandoc`, a plain str: each help text rnnshape
# declares is remembered here by its English, and said in the chosen language when --help is drawn.
_HELP: dict[str, Message] = {}


def helps(text: Message) -> Message:
    """Remember a help text (made with tr()) so that --help can say it in the chosen language."""
    _HELP[str(text)] = text
    return text


# click's and typer's own words in --help and in usage errors (English there, and never translated by them).
_CLICK_HELP = {str(m): m for m in (
    tr("Show this message and exit."),
    tr("Install completion for the current shell."),
    tr("Show completion for the current shell, to copy it or customize the installation."),
    tr("Options"), tr("Commands"), tr("Arguments"),
)}
_USAGE = tr("Usage: ")
_DEFAULT = tr("default")
_REQUIRED = tr("required")


def help_said(text: str) -> str:
    """A help text (or a panel's title) in the chosen language."""
    known = text if isinstance(text, Message) else _HELP.get(text) or _CLICK_HELP.get(text)
    if known is None:
        return text
    return say(known)


def _bracket_words(text: str) -> str:
    """click's `[default: x]` and `[required]` in the chosen language (x as it is)."""
    if "[default: " in text:
        text = text.replace("[default: ", f"[{say(_DEFAULT)}: ")
    return text.replace("[required]", f"[{say(_REQUIRED)}]")


# click's usage errors, reworded in the chosen language: (its English, the template). The names stay as typed.
_CLICK_ERRORS = [(re.compile(pattern), template) for pattern, template in (
    (r"no such option: (?P<name>\S+) \(Possible options: (?P<options>.*)\)$",
     tr("no such option: {name} (Possible options: {options})")),
    (r"no such option: (?P<name>\S+)$", tr("no such option: {name}")),
    (r"option '(?P<name>[^']+)' requires an argument$", tr("option '{name}' requires an argument")),
    (r"option '(?P<name>[^']+)' does not take a value$", tr("option '{name}' does not take a value")),
    (r"got unexpected extra argument\(s\) \((?P<extra>.*)\)$", tr("got unexpected extra argument(s) ({extra})")),
    (r"no such command '(?P<name>.*)'$", tr("no such command '{name}'")),
    (r"missing option '(?P<name>[^']+)'$", tr("missing option '{name}'")),
    (r"missing argument '(?P<name>[^']+)'$", tr("missing argument '{name}'")),
    (r"missing command$", tr("missing command")),
)]


def click_error(message: str) -> str:
    """One of click's usage errors, as a Message where rnnshape knows its words."""
    for pattern, template in _CLICK_ERRORS:
        found = pattern.match(message)
        if found:
            return fill(template, **found.groupdict())
    return message


# -- the language of a run ----------------------------------------------------------------------------

def chosen_language(given: str | None) -> speaking:
    """--lang, else the language already chosen (the group read --lang before click parsed), else
    RNNSHAPE_LANG, else the locale: spoken inside the `with`. A value naming no language is exit 2."""
    try:
        if given is None:
            return speaking(current() if current_is_chosen() else from_environment())
        return speaking(parse(given))
    except LanguageProblem as exc:
        error(fill(_NO_LANGUAGE, where=exc.where, value=exc.value))
        raise typer.Exit(ExitStatus.BAD_INPUT) from None


_NO_LANGUAGE = tr("{where} must be zh or en (got {value!r})")


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
            term, text = record  # the help, then click's `  [default: x]`
            own = (param.help or "").strip()
            said = _bracket_words(help_said(own) + text[len(own):])
            panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append((term, said))
    for title, rows in panels.items():
        with formatter.section(help_said(title)):
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


class _SaidHelp:
    """--help in the chosen language: the usage line's prefix, the command's own text, its first sentence."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=say(_USAGE))

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        if not self.help:  # type: ignore[attr-defined]
            return
        text = help_said(self.help.strip())  # type: ignore[attr-defined]
        formatter.write_paragraph()
        with formatter.indentation():
            if text.isascii():
                formatter.write_text(text)  # click's own wrapping, as English help always had
            else:
                _write_wide_text(formatter, text)

    def get_short_help_str(self, limit: int = 45) -> str:
        text = help_said(self.help.strip()) if self.help else ""  # type: ignore[attr-defined]
        if text.isascii():
            return super().get_short_help_str(limit)  # type: ignore[misc]
        return _first_sentence(text)


def _first_sentence(text: str) -> str:
    """A translated help's first sentence, whole (to its first 。 or the end of its first paragraph)."""
    first = text.split("\n\n", 1)[0].replace("\n", " ")
    end = first.find("。")
    return first[: end + 1] if end >= 0 else first


def _write_wide_text(formatter: Any, text: str) -> None:
    """Help text with wide characters, wrapped by terminal columns (click counts characters).

    Paragraphs as click reads them: blank-line separated; one that starts with \\b is kept as written.
    """
    from rnnshape.render.text import wrap

    indent = " " * formatter.current_indent
    width = max(formatter.width - formatter.current_indent, 20)
    for i, paragraph in enumerate(text.split("\n\n")):
        if i:
            formatter.write("\n")
        if paragraph.startswith("\b"):
            lines = paragraph.split("\n")[1:]
        else:
            lines = wrap(" ".join(paragraph.split()), width)
        formatter.write("".join(indent + line + "\n" for line in lines))


class RnnshapeCommand(_ValuesAsGiven, _SaidHelp, TyperCommand):
    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)


class RnnshapeGroup(_ValuesAsGiven, _SaidHelp, TyperGroup):
    """Typer's group, with click's usage errors reworded as one `error:` line and exit 2."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's whole first sentence, not click's 45-character cut.
        rows = [(name, command.get_short_help_str(limit=200)) for name, command in self.commands.items() if not command.hidden]
        with formatter.section(help_said("Commands")):
            _write_dl(formatter, rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        # The language is chosen before click parses anything: --help and click's own errors
        # come before any command's --lang would be read.
        args = list(sys.argv[1:] if args is None else args)
        only_lang = (len(args) == 2 and args[0] == "--lang") or (len(args) == 1 and args[0].startswith("--lang="))
        try:
            with chosen_language(lang_in(args)):
                # `rnnshape --lang zh` alone is a bare `rnnshape` in Chinese: the help, not "missing command".
                code = self._main([] if only_lang else args, prog_name, complete_var, **extra)
        except typer.Exit as exc:
            code = exc.exit_code
        if standalone_mode:
            sys.exit(code)
        return code

    def _main(self, args: list[str], prog_name: Any, complete_var: Any, **extra: Any) -> int:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:
            # Bare `rnnshape`: the help, on stdout, and no error.
            sys.stdout.write(exc.ctx.get_help() + "\n")
            code = ExitStatus.OK
        except click_exceptions.UsageError as exc:
            message = exc.format_message().rstrip(".")
            error(click_error(message[:1].lower() + message[1:]))
            code = ExitStatus.BAD_INPUT
        except (typer.Abort, KeyboardInterrupt):
            code = ExitStatus.INTERRUPTED
        except OSError as exc:
            if not is_output_failure(exc):
                raise
            code = output_failed(exc)
        return _flushed(int(code or 0))


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
    error(tr("cannot write the answer to stdout: {reason}", reason=exc.strerror or str(exc)))
    return ExitStatus.ENVIRONMENT


def _flushed(code: int) -> int:
    """Flush stdout now, where a full disk or a closed pipe can still be told (not in the interpreter's teardown)."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        return output_failed(exc)
    return code

