"""The command line: flags -> RNNSpec, call the core, print, map errors to exit codes.

No arithmetic about shapes lives here, and nothing here imports torch: a
refused flag is answered in the time it takes to import Typer.

Numeric flags are read as text and converted by spec.py, so that Typer's parser
and rnnshape's own validation refuse bad values in the same words:
`error: --hidden-size must be a positive integer (got 0)`.
"""

import functools
import inspect as pyinspect
import os
import shutil
import sys
from typing import Annotated, Any, Callable, Optional

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.2x vendors click privately; older typer depends on click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from rnnshape import __version__
from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
from rnnshape.render import FORMATS, check_format
from rnnshape.spec import DEVICE_SPELLINGS, DTYPES, MODES, NONLINEARITIES, RNNSpec, parse_float, parse_int

_LAYER = "Layer"
_RUN = "Dummy run"
_OUTPUT = "Output"


def _error(message: str) -> None:
    """The one format for every rejection: one line on stderr."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")


class _TextAsIs:
    """Coercion for text and flag options: click already delivers a str or bool (or None), keep it.

    typer >= 0.2x coerces every value through a pydantic TypeAdapter, and
    importing pydantic to turn a str into the same str costs about 50 ms of every
    run, a third of a refused flag's whole time. rnnshape parses its own text
    (spec.py), so these options skip that step.
    """

    def coerce(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        return value


def _skip_coercion(param: Any) -> Any:
    descriptor = getattr(param, "type_descriptor", None)
    if (
        getattr(param, "_runtime_param", False) is None  # older typer: no such step
        and getattr(descriptor, "annotation", None) in (str, Optional[str], bool)
        and param.nargs == 1
        and not getattr(param, "multiple", False)
    ):
        param._runtime_param = _TextAsIs()
    return param


def _skip_text_coercion(group: Any) -> None:
    for command in getattr(group, "commands", {}).values():
        for param in command.params:
            _skip_coercion(param)


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
            formatter.write_dl(rows, col_max=36)  # `--bidirectional / --unidirectional` on one line


class RnnshapeCommand(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        # click makes --help per call, outside `params`: it gets the same shortcut.
        return _skip_coercion(super().get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)


class RnnshapeGroup(TyperGroup):
    """Typer's group, with click's usage errors reworded as one `error:` line and exit 2."""

    def get_help_option(self, ctx: Any) -> Any:
        return _skip_coercion(super().get_help_option(ctx))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options_by_panel(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's whole first sentence, not click's 45-character cut.
        rows = [(name, command.get_short_help_str(limit=200)) for name, command in self.commands.items() if not command.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        _skip_text_coercion(self)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:
            # Bare `rnnshape`: the help, on stdout, and no error.
            sys.stdout.write(exc.ctx.get_help() + "\n")
            code = ExitStatus.OK
        except click_exceptions.UsageError as exc:
            message = exc.format_message().rstrip(".")
            _error(message[:1].lower() + message[1:])
            code = ExitStatus.BAD_INPUT
        except typer.Abort:
            code = 130
        except BrokenPipeError:
            # `rnnshape inspect | head`: the reader left; say nothing more, as cat does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 1
        code = int(code or 0)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=RnnshapeGroup,
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="What PyTorch's nn.RNN, nn.LSTM and nn.GRU really take, produce and hold.",
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"rnnshape {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """What PyTorch's nn.RNN, nn.LSTM and nn.GRU really take, produce and hold."""


# Every RNNSpec flag, declared once and given to each command by @spec_command.
# Numbers arrive as text (see the module docstring); metavars say what is expected.
def _opt(*names: str, help: str, panel: str, metavar: Optional[str] = None) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=panel, metavar=metavar, show_default=True)


_SPEC_OPTIONS: list[tuple[str, Any, Any]] = [
    ("mode", str, _opt("--mode", help="Which layer: nn.RNN, nn.LSTM or nn.GRU.", panel=_LAYER, metavar="[" + "|".join(MODES) + "]")),
    ("input_size", str, _opt("--input-size", help="H_in: features per time step.", panel=_LAYER, metavar="INT")),
    ("hidden_size", str, _opt("--hidden-size", help="H: hidden state size (H_cell for lstm).", panel=_LAYER, metavar="INT")),
    ("num_layers", str, _opt("--layers", "--num-layers", help="num_layers: stacked layers.", panel=_LAYER, metavar="INT")),
    ("bidirectional", bool, _opt("--bidirectional/--unidirectional", help="D = 2 or 1.", panel=_LAYER)),
    ("batch_first", bool, _opt("--batch-first/--seq-first", help="Layout of input and output (never of h_0/h_n).", panel=_LAYER)),
    ("bias", bool, _opt("--bias/--no-bias", help="Whether the layer has bias_ih and bias_hh.", panel=_LAYER)),
    ("nonlinearity", str, _opt("--nonlinearity", help="rnn only.", panel=_LAYER, metavar="[" + "|".join(NONLINEARITIES) + "]")),
    ("dropout", str, _opt("--dropout", help="Dropout between layers, 0 <= p <= 1.", panel=_LAYER, metavar="P")),
    ("proj_size", str, _opt("--proj-size", help="lstm only: project h to P < H features.", panel=_LAYER, metavar="INT")),
    ("seq_len", str, _opt("--seq-len", help="L of the dummy input.", panel=_RUN, metavar="INT")),
    ("batch_size", str, _opt("--batch-size", help="N of the dummy input (0 allowed).", panel=_RUN, metavar="INT")),
    ("unbatched", bool, _opt("--unbatched", help="Feed 2-D input (L, H_in).", panel=_RUN)),
    ("device", str, _opt("--device", help=f"Where to run: {DEVICE_SPELLINGS}.", panel=_RUN, metavar="DEVICE")),
    ("dtype", str, _opt("--dtype", help="Parameter and input dtype.", panel=_RUN, metavar="[" + "|".join(DTYPES) + "]")),
    ("seed", str, _opt("--seed", help="Seeds the initial weights and the dummy input.", panel=_RUN, metavar="INT")),
]
_INT_FIELDS = {"input_size", "hidden_size", "num_layers", "proj_size", "seq_len", "batch_size", "seed"}
_DEFAULTS = RNNSpec()


def spec_from_flags(flags: dict[str, Any]) -> RNNSpec:
    """The flags' text as a validated RNNSpec; raises SpecError naming the flag."""
    values: dict[str, Any] = {}
    for name, value in flags.items():
        if name in _INT_FIELDS:
            value = parse_int(name, value)
        elif name == "dropout":
            value = parse_float(name, value)
        values[name] = value
    return RNNSpec(**values)


def spec_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command every RNNSpec flag; it is called with the validated `spec`.

    Errors become exit codes here, once for every command: SpecError -> 2,
    EnvironmentProblem -> 3.
    """
    own = [p for name, p in pyinspect.signature(func).parameters.items() if name != "spec"]
    spec_params = [
        pyinspect.Parameter(
            name,
            pyinspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[kind, option],
            default=(str(getattr(_DEFAULTS, name)) if kind is str else getattr(_DEFAULTS, name)),
        )
        for name, kind, option in _SPEC_OPTIONS
    ]

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        flags = {name: kwargs.pop(name) for name, _, _ in _SPEC_OPTIONS}
        try:
            code = func(spec=spec_from_flags(flags), **kwargs)
        except SpecError as exc:
            _error(exc.cli_message())
            raise typer.Exit(ExitStatus.BAD_INPUT) from None
        except EnvironmentProblem as exc:
            _error(str(exc))
            raise typer.Exit(ExitStatus.ENVIRONMENT) from None
        raise typer.Exit(int(code or 0))

    command.__signature__ = pyinspect.Signature(spec_params + [p.replace(kind=pyinspect.Parameter.KEYWORD_ONLY) for p in own])  # type: ignore[attr-defined]
    command.__annotations__ = {}
    return command


FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help="Output format.", metavar="[" + "|".join(FORMATS) + "]", rich_help_panel=_OUTPUT),
]


SvgOption = Annotated[
    Optional[str],
    typer.Option("--svg", help="Also save the picture as an SVG file (for docs).", metavar="FILE", rich_help_panel=_OUTPUT),
]


def check_svg_path(path: Optional[str]) -> None:
    """Refuse an unwritable --svg before any work is done."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK) or os.path.isdir(path):
        raise SpecError("svg", f"cannot write {path!r} (its folder must exist and be writable)")


@app.command(cls=RnnshapeCommand)
@spec_command
def inspect(spec: RNNSpec, format: FormatOption = "table", svg: SvgOption = None) -> int:
    """Build the layer, run a dummy input, and show every shape, parameter and count torch produced.

    \b
    Example: rnnshape inspect --mode lstm --layers 2 --bidirectional
    """
    fmt = check_format(format)  # before torch: a bad --format costs nothing
    check_svg_path(svg)
    from rnnshape.core import inspect as run_inspect
    from rnnshape.render import render

    report = run_inspect(spec)
    sys.stdout.write(render(report, fmt, width=_width(), color=_color()))
    if svg:
        from rnnshape.render import sections_of, table

        table.save_svg(sections_of(report), svg, title=f"rnnshape inspect: {report.observation.module_repr}")
    if not report.ok:
        failed = report.failed_checks
        sys.stderr.write(f"failed: {len(failed)} of {len(report.checks)} checks ({failed[0].name}, ...)\n")
    return report.exit_status


ToleranceOption = Optional[str]


def _tolerance(field: str, text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise SpecError(field, f"must be a number >= 0 (got {text!r})") from None


@app.command(cls=RnnshapeCommand)
@spec_command
def verify(
    spec: RNNSpec,
    atol: Annotated[ToleranceOption, typer.Option("--atol", metavar="A", help="Absolute tolerance [default: by dtype].", rich_help_panel=_OUTPUT)] = None,
    rtol: Annotated[ToleranceOption, typer.Option("--rtol", metavar="R", help="Relative tolerance [default: by dtype].", rich_help_panel=_OUTPUT)] = None,
    format: FormatOption = "table",
    svg: SvgOption = None,
) -> int:
    """Check that the textbook equations, looped by hand on the module's own weights, give what torch gives.

    \b
    Example: rnnshape verify --mode lstm --layers 2 --bidirectional --proj-size 5
    """
    fmt = check_format(format)
    check_svg_path(svg)
    atol_value, rtol_value = _tolerance("atol", atol), _tolerance("rtol", rtol)
    from rnnshape.render import render, sections_of
    from rnnshape.verify import verify as run_verify

    report = run_verify(spec, atol=atol_value, rtol=rtol_value)
    sys.stdout.write(render(report, fmt, width=_width(), color=_color()))
    if svg:
        from rnnshape.render import table

        table.save_svg(sections_of(report), svg, title=f"rnnshape verify: nn.{spec.module_name}")
    if not report.ok:
        d = report.first_divergence
        where = f" first at layer {d.layer}, {d.direction}, time step {d.time_step}" if d else ""
        sys.stderr.write(f"failed: nn.{spec.module_name} differs from its equations beyond atol={report.atol:g}, rtol={report.rtol:g};{where}\n")
    return report.exit_status


@app.command(cls=RnnshapeCommand)
@spec_command
def code(spec: RNNSpec) -> int:
    """Print a standalone Python script for this config: build it, run the explicit loop, compare.

    \b
    Example: rnnshape code --mode gru --layers 2 > gru_by_hand.py && python gru_by_hand.py
    """
    from rnnshape.codegen import script

    sys.stdout.write(script(spec))
    return ExitStatus.OK


@app.command(cls=RnnshapeCommand)
@spec_command
def flow(spec: RNNSpec, svg: SvgOption = None) -> int:
    """Draw the layer unrolled in time: which cells make output, which make h_n (and its rows).

    \b
    Example: rnnshape flow --layers 3 --bidirectional --seq-len 4
    """
    check_svg_path(svg)
    from rnnshape import flow as picture

    width = _width()
    if _color():
        from rich.console import Console

        Console(width=width, highlight=False, emoji=False).print(picture.flow_renderable(spec, width))
    else:
        sys.stdout.write(picture.flow_text(spec, width))
    if svg:
        picture.flow_svg(spec, svg, width=100)
    return ExitStatus.OK


def _color() -> bool:
    # Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _width() -> int:
    # A terminal's own width; a pipe or file gets a fixed 100 so output is reproducible.
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return int(os.environ.get("COLUMNS", "100")) if os.environ.get("COLUMNS", "").isdigit() else 100


def main() -> None:
    app(prog_name="rnnshape")
