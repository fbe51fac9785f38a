"""The command line: each command parses nothing itself (options.py does), calls
the core, prints, and returns an exit code.

No arithmetic about shapes lives here, and nothing here imports torch: a
refused flag is answered in the time it takes to import Typer.
"""

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Annotated, Callable

import typer

from rnnshape import __version__
from rnnshape.clikit import RnnshapeCommand, RnnshapeGroup, helps
from rnnshape.language import join, said, say, tr
from rnnshape.errors import ExitStatus
from rnnshape.options import (
    AgainstOption,
    AtolOption,
    BriefOption,
    SectionsOption,
    StyleOption,
    C0ShapeOption,
    CheckEnforceSortedOption,
    CheckLengthsOption,
    H0ShapeOption,
    InputDtypeOption,
    InputDtypesOption,
    InputHighOption,
    InputSeedOption,
    InputShapeOption,
    InputShapesOption,
    LangOption,
    TargetArgument,
    layer_command,
    optional_shape,
    saving_svg,
    CheckpointNoRunOption,
    FileArgument,
    FormatOption,
    LayerOption,
    MaxMemoryOption,
    NoRunOption,
    RtolOption,
    SchemaKindArgument,
    SvgOption,
    SweepFormatOption,
    TrainOption,
    check_svg_path,
    checkpoint_command,
    max_memory_bytes,
    plain_command,
    shape_command,
    spec_command,
    sweep_command,
    tolerance,
)
from rnnshape.render import SWEEP_FORMATS, check_format, chosen_sections
from rnnshape.spec import RNNSpec


def _command_help(text: str, *examples: str) -> str:
    """A command's --help text: its sentences, then each example as written (click's \\b keeps them unwrapped)."""
    return helps(join("", [text, "\n\n\b\n", join("\n", [tr("Example: {command}", command=e) for e in examples])]))


# What each command says of itself in --help (clikit says it in the chosen language): its sentences,
# then its examples, which are never translated but for the word "Example".
HELP = {
    "inspect": _command_help(
        tr(
            'Build the layer, run a dummy input, and show every shape, parameter and count torch produced.'
        ),
        'rnnshape inspect --mode lstm --layers 2 --bidirectional',
    ),
    "verify": _command_help(
        tr(
            "Check that the textbook equations, looped by hand on the module's own weights, give what torch gives.\n"
            '\n'
            "With --against FILE.py:FUNCTION, your own forward function takes the equations' place: this\n"
            'imports FILE and runs its code, and names the known mistakes its numbers fit.'
        ),
        'rnnshape verify --mode lstm --layers 2 --bidirectional --proj-size 5', 'rnnshape verify --batch-first --against my_rnn.py:rnn_forward',
    ),
    "code": _command_help(
        tr(
            'Print a standalone Python script for this config: build it, run the explicit loop, compare.'
        ),
        'rnnshape code --mode gru --layers 2 > gru_by_hand.py && python gru_by_hand.py', 'rnnshape code --mode lstm --layers 2 --style docs | python',
    ),
    "flow": _command_help(
        tr(
            'Draw the layer unrolled in time: which cells make output, which make h_n (and its rows).\n'
            '\n'
            "A cell (--mode lstmcell) is drawn as its one step; with --lengths, each sequence's\n"
            'own last step is marked, where its h_n leaves.'
        ),
        'rnnshape flow --layers 3 --bidirectional --seq-len 4',
    ),
    "sweep": _command_help(
        tr(
            'Inspect many configurations in one process: any flag takes a list (16,32,64) or a range (1..4).\n'
            '\n'
            'The cartesian product runs, one row per configuration. A flag and its opposite\n'
            'given together (--bidirectional --unidirectional) sweep both. A combination\n'
            'torch would refuse is reported in its row; the rest still run.'
        ),
        'rnnshape sweep --mode rnn,lstm,gru --hidden-size 16,32,64 --layers 1..4 -f csv',
    ),
    "checkpoint": _command_help(
        tr(
            'Find every recurrent layer and cell in a saved model, infer its config, and run it on its own weights.\n'
            '\n'
            'Reads state_dicts (also inside a dict, under "model" or "state_dict", and with\n'
            "DataParallel's module. prefix) safely: torch.load(weights_only=True) runs no\n"
            'code from the file, and a safetensors file is read tensor by tensor.'
        ),
        'rnnshape checkpoint model.pt --layer encoder.rnn --seq-len 7',
    ),
    "check": _command_help(
        tr(
            'Will torch take tensors of these shapes? Feed the layer exactly them; exit 1, explained, if it refuses.\n'
            '\n'
            'The layer comes from the flags as in inspect; --input-shape (and --h0-shape, --c0-shape,\n'
            "--input-dtype) give what you have. Accepted: the shapes torch produced. Refused: torch's\n"
            'message, what differs, the likely cause and the fix.'
        ),
        'rnnshape check --mode lstm --input-size 256 --hidden-size 256 --input-shape 8,8,256 --h0-shape 1,32,256 --c0-shape 1,32,256',
    ),
    "summary": _command_help(
        tr(
            'Run your model once on inputs of the shapes you give; show every module, and every recurrent call in full.\n'
            '\n'
            "This imports TARGET and runs its code: the factory, then the model's forward (without\n"
            'grad). TARGET is path/to/file.py:factory or package.module:factory, where factory\n'
            'returns the model (a class counts), or is the model itself.'
        ),
        'rnnshape summary models.py:Tagger --input-shape 32,20 --input-dtype int64',
    ),
    "schema": _command_help(
        tr(
            'Print the JSON Schema of what -f json writes: one kind (inspect, verify, sweep, checkpoint, summary, check), or all.\n'
            '\n'
            "sweep's is one row: -f json writes an array of rows, -f jsonl one row per line."
        ),
        'rnnshape schema inspect > inspect.schema.json',
    ),
}

app = typer.Typer(
    cls=RnnshapeGroup,
    add_completion=True,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=helps(tr("What PyTorch's nn.RNN, nn.LSTM and nn.GRU really take, produce and hold.")),
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"rnnshape {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=helps(tr("Print the version and exit.")))
    ] = False,
    lang: LangOption = None,  # read before click parses (clikit.choose_language): `rnnshape --lang zh inspect`
) -> None:
    """What PyTorch's nn.RNN, nn.LSTM and nn.GRU really take, produce and hold."""



@app.command(cls=RnnshapeCommand, help=HELP["inspect"])
@spec_command
def inspect(
    spec: RNNSpec,
    no_run: NoRunOption = False,
    train: TrainOption = False,
    max_memory: MaxMemoryOption = None,
    format: FormatOption = "table",
    brief: BriefOption = False,
    sections: SectionsOption = None,
    svg: SvgOption = None,
) -> int:
    fmt = check_format(format)  # before torch: a bad --format costs nothing
    if train:
        from rnnshape.training import check_run

        check_run(train, run=not no_run)  # --train --no-run: refused before torch
    only = chosen_sections("inspect", fmt, brief=brief, names=sections)
    check_svg_path(svg)
    limit = max_memory_bytes(max_memory)
    from rnnshape.core import inspect as run_inspect

    report = run_inspect(spec, run=not no_run, max_memory=limit, train=train)
    _emit(report, fmt, only)
    if svg:
        from rnnshape.render import readable_sections, table

        what = report.observation.module_repr if report.ran else said("{module}, predicted", module=report.observation.module_repr)
        saving_svg(svg, lambda path: table.save_svg(readable_sections(report), path, title=f"rnnshape inspect: {what}"))
    if not report.ok:
        failed = report.failed_checks
        _failed(tr("{n} of {total} checks ({first}, ...)", n=len(failed), total=len(report.checks), first=failed[0].name))
    return report.exit_status



@app.command(cls=RnnshapeCommand, help=HELP["verify"])
@spec_command
def verify(
    spec: RNNSpec,
    atol: AtolOption = None,
    rtol: RtolOption = None,
    against: AgainstOption = None,
    max_memory: MaxMemoryOption = None,
    format: FormatOption = "table",
    brief: BriefOption = False,
    sections: SectionsOption = None,
    svg: SvgOption = None,
) -> int:
    fmt = check_format(format)
    only = chosen_sections("verify", fmt, brief=brief, names=sections)
    check_svg_path(svg)
    atol_value, rtol_value = tolerance("atol", atol), tolerance("rtol", rtol)
    limit = max_memory_bytes(max_memory)
    if against is not None:
        from rnnshape.learner.loading import check_target

        check_target(against)  # a malformed FILE.py:FUNCTION is refused before torch is imported
    from rnnshape.verification import verify as run_verify

    report = run_verify(spec, atol=atol_value, rtol=rtol_value, max_memory=limit, against=against)
    _emit(report, fmt, only)
    if svg:
        from rnnshape.render import readable_sections, table

        saving_svg(svg, lambda path: table.save_svg(readable_sections(report), path, title=f"rnnshape verify: nn.{spec.module_name}"))
    if not report.ok:
        _failed(report.failure_line())
    return report.exit_status


@app.command(cls=RnnshapeCommand, help=HELP["code"])
@spec_command
def code(spec: RNNSpec, style: StyleOption = "layers") -> int:
    from rnnshape.codegen import check_style, script

    chosen = check_style(style)  # a bad --style is refused before probe (and torch) is imported
    from rnnshape.probe import check_size

    check_size(spec)  # the script builds the layer in torch: what inspect would refuse to run, refused here too
    sys.stdout.write(script(spec, chosen))
    return ExitStatus.OK


@app.command(cls=RnnshapeCommand, help=HELP["flow"])
@shape_command
def flow(spec: RNNSpec, svg: SvgOption = None) -> int:
    check_svg_path(svg)
    from rnnshape import flow as picture

    width = _width()
    if _color():
        from rich.console import Console

        Console(width=width, highlight=False, emoji=False).print(picture.flow_renderable(spec, width))
    else:
        text = picture.flow_text(spec, width)
        if _ascii():  # a picture's stand-ins are one character each: the grid still lines up
            from rnnshape.render.symbols import to_ascii

            text = to_ascii(text)
        sys.stdout.write(text)
    if svg:
        saving_svg(svg, lambda path: picture.flow_svg(spec, path, width=100))
    return ExitStatus.OK


@app.command(cls=RnnshapeCommand, help=HELP["sweep"])
@sweep_command
def sweep(
    choices: dict,
    no_run: NoRunOption = False,
    max_memory: MaxMemoryOption = None,
    format: SweepFormatOption = "table",
) -> int:
    import time

    from rnnshape.render.rows import jsonl
    from rnnshape.sweep import Pace, Sweep, answer, check_count, configurations, held_for, varying

    fmt = check_format(format, SWEEP_FORMATS)
    total = check_count(choices)
    limit = max_memory_bytes(max_memory)
    rows = []
    stream = fmt == "jsonl"  # one object a line: each row goes out as soon as it is answered
    pace = Pace(total)
    with _progress(total) as advance, held_for(choices, run=not no_run):
        for flags in configurations(choices):
            row = answer(flags, run=not no_run, max_memory=limit)
            rows.append(row)
            if stream:
                sys.stdout.write(jsonl([row]))
                sys.stdout.flush()
            advance()
            told = pace.step(time.monotonic())
            if told:
                sys.stderr.write(say(told) + "\n")
                sys.stderr.flush()
    if not stream:
        _emit(Sweep(rows, varying(choices)), fmt)
    refused = [r for r in rows if r.error]
    failed = [r for r in rows if r.ok is False]
    if refused:
        sys.stderr.write("sweep: " + said("{n} of {total} configurations refused (the reason is in each row)", n=len(refused), total=total) + "\n")
    if failed:
        _failed(tr("checks failed for {n} of {total} configurations", n=len(failed), total=total))
        return ExitStatus.CHECK_FAILED
    if len(refused) == total:
        return max(r.exit_code for r in refused)  # nothing could be answered: 2, or 3 if the machine refused
    return ExitStatus.OK


@app.command(cls=RnnshapeCommand, help=HELP["checkpoint"])
@checkpoint_command
def checkpoint(
    file: FileArgument,
    overrides: dict,
    layer: LayerOption = None,
    no_run: CheckpointNoRunOption = False,
    max_memory: MaxMemoryOption = None,
    format: FormatOption = "table",
    brief: BriefOption = False,
    sections: SectionsOption = None,
    svg: SvgOption = None,
) -> int:
    fmt = check_format(format)
    only = chosen_sections("checkpoint", fmt, brief=brief, names=sections)
    check_svg_path(svg)
    limit = max_memory_bytes(max_memory)
    from rnnshape.checkpoint_report import checkpoint as read_checkpoint, shown

    report = read_checkpoint(file, layer=layer, run=not no_run, max_memory=limit, **overrides)
    _emit(report, fmt, only)
    if svg:
        from rnnshape.render import readable_sections, table

        saving_svg(svg, lambda path: table.save_svg(readable_sections(report), path, title=f"rnnshape checkpoint {os.path.basename(file)}"))
    if report.inconsistent:
        names = ", ".join(shown(group.name) for group in report.inconsistent)
        _failed(tr("{n} group(s) of keys give no valid layer ({names}); see the report", n=len(report.inconsistent), names=names))
    failed = [shown(layer.name) for layer in report.layers if not layer.report.ok]
    if failed:
        _failed(tr("checks failed for {names}", names=", ".join(failed)))
    return report.exit_status


@app.command(cls=RnnshapeCommand, help=HELP["check"])
@layer_command
def check(
    spec: RNNSpec,
    input_shape: InputShapeOption = ...,
    h0_shape: H0ShapeOption = None,
    c0_shape: C0ShapeOption = None,
    input_dtype: InputDtypeOption = None,
    lengths: CheckLengthsOption = None,
    enforce_sorted: CheckEnforceSortedOption = True,
    max_memory: MaxMemoryOption = None,
    format: FormatOption = "table",
    brief: BriefOption = False,
    sections: SectionsOption = None,
) -> int:
    from rnnshape.model.shapes import parse_dtype, parse_given_lengths, parse_shape, refuse_inapplicable

    fmt = check_format(format)
    only = chosen_sections("check", fmt, brief=brief, names=sections)
    shapes = parse_shape("input_shape", input_shape), optional_shape("h0_shape", h0_shape), optional_shape("c0_shape", c0_shape)
    dtype = None if input_dtype is None else parse_dtype("input_dtype", input_dtype)
    packed = None if lengths is None else parse_given_lengths(lengths)
    refuse_inapplicable(spec, h0_shape=shapes[1], c0_shape=shapes[2], lengths=packed)
    limit = max_memory_bytes(max_memory)
    from rnnshape.model.check import check as run_check

    report = run_check(spec, shapes[0], h0_shape=shapes[1], c0_shape=shapes[2], input_dtype=dtype, lengths=packed,
                       enforce_sorted=enforce_sorted, max_memory=limit)
    _emit(report, fmt, only)
    if report.explanation is not None:
        e = report.explanation
        fix = tr("; fix: {fix}", fix=e.causes[0][2]) if e.causes else ""
        _failed(tr("torch refused these shapes: {message}{fix}", message=e.message, fix=fix))
    elif not report.ok:
        _failed(tr("{n} checks failed", n=len(report.report.failed_checks)))
    return report.exit_status


@app.command(cls=RnnshapeCommand, help=HELP["summary"])
@plain_command
def summary(
    target: TargetArgument,
    input_shape: InputShapesOption = None,
    input_dtype: InputDtypesOption = None,
    input_high: InputHighOption = None,
    seed: InputSeedOption = "0",
    max_memory: MaxMemoryOption = None,
    format: FormatOption = "table",
    brief: BriefOption = False,
    sections: SectionsOption = None,
) -> int:
    from rnnshape.model.target import parse_inputs, parse_target
    from rnnshape.spec import parse_int

    fmt = check_format(format)
    only = chosen_sections("summary", fmt, brief=brief, names=sections)
    parse_target(target)
    inputs, high = parse_inputs(list(input_shape or ()), list(input_dtype or ()), input_high)
    seed_value = parse_int("seed", seed)
    RNNSpec(seed=seed_value)  # the same bounds as every --seed
    limit = max_memory_bytes(max_memory)
    from rnnshape.model.summary import run_model
    from rnnshape.model.target import forward_inputs, load_model, make_inputs

    model = load_model(target)
    needed = forward_inputs(model)
    if len(inputs) < len(needed):
        from rnnshape.errors import SpecError

        raise SpecError("input_shape", tr("is needed once per input: {model}.forward takes {names} ({n}), and {given} --input-shape "
                                          "were given", model=type(model).__name__, names=", ".join(needed), n=len(needed),
                                          given=len(inputs)))
    result = run_model(model, make_inputs(model, inputs, high, seed_value, limit), {}, keep_error=True)
    _emit(result, fmt, only)
    if result.error is not None:
        e = result.error
        fix = tr("; fix: {fix}", fix=e.causes[0][2]) if e.causes else ""
        _failed(tr("{place} raised {error}: {message}{fix}", place=e.place, error=e.error_type, message=e.message, fix=fix))
    elif not result.ok:
        _failed(tr("checks failed for {names}", names=", ".join(g.where for g in result.failed)))
    return result.exit_status


@app.command(cls=RnnshapeCommand, help=HELP["schema"])
@plain_command
def schema(kind: SchemaKindArgument = None) -> int:
    import json

    from rnnshape.schema import schema as json_schema

    document = json_schema(kind)
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return ExitStatus.OK


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; silence in a pipe or a file."""
    if total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("sweep", total=total)
        yield lambda: progress.advance(task)


def _failed(message: str) -> None:
    """The line on stderr that says why the exit status is 1: `failed:` as a script greps for it, the rest said."""
    sys.stderr.write("failed: " + say(message) + "\n")


def _emit(report: object, fmt: str, only: tuple[str, ...] | None = None) -> None:
    """Any report, in the chosen format (its sections `only`), on stdout: the one place every command prints its answer."""
    from rnnshape.render import render

    sys.stdout.write(render(report, fmt, width=_width(), color=_color(), only=only, ascii=_ascii()))


def _color() -> bool:
    # Colour only on a terminal that can show it, never when NO_COLOR is set (https://no-color.org).
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _ascii() -> bool:
    """Whether stdout gets ASCII stand-ins for rnnshape's symbols (its encoding is not UTF's)."""
    from rnnshape.render.symbols import shows_symbols

    return not shows_symbols(getattr(sys.stdout, "encoding", None))


# A pipe or a file gets a fixed width, so that output is reproducible; COLUMNS sets another.
_PIPE_WIDTH, _MIN_WIDTH, _MAX_WIDTH = 100, 40, 500


def _width() -> int:
    """COLUMNS where it is a positive number, else a terminal's own width, else 100; held to 40..500."""
    text = os.environ.get("COLUMNS", "").strip()
    if text.isascii() and text.isdigit() and int(text) > 0:
        columns = int(text)
    elif sys.stdout.isatty():
        columns = shutil.get_terminal_size((_PIPE_WIDTH, 24)).columns or _PIPE_WIDTH
    else:
        columns = _PIPE_WIDTH
    return min(max(columns, _MIN_WIDTH), _MAX_WIDTH)


def main() -> None:
    from rnnshape.render.symbols import guard

    # Whatever the console's encoding, nothing rnnshape writes ends the run (symbols.py).
    guard(sys.stdout)
    guard(sys.stderr)
    app(prog_name="rnnshape")
