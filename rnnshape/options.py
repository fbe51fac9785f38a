"""Every option, declared once: the RNNSpec flags (which every command gets from
@spec_command, and sweep as lists from @sweep_command), and the output options.

Numeric flags are read as text and converted by spec.py, so that Typer's parser
and rnnshape's own validation refuse bad values in the same words:
`error: --hidden-size must be a positive integer (got 0)`. Errors become exit
codes here, once for every command: SpecError -> 2, EnvironmentProblem -> 3.
"""

import functools
import inspect as pyinspect
import os
from typing import Annotated, Any, Callable, Optional

import typer

from rnnshape.clikit import chosen_language, error, helps, is_output_failure, output_failed
from rnnshape.language import tr
from rnnshape.codegen import STYLES
from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
from rnnshape.render import FORMATS, SWEEP_FORMATS
from rnnshape.spec import (
    CHECKPOINT_FIELDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_SEQ_LEN,
    DEVICE_SPELLINGS,
    DTYPES,
    MODES,
    NONLINEARITIES,
    STATE_INITS,
    UNKNOWN_FROM_KEYS,
    RNNSpec,
    from_flags,
    parse_field,
)

_LAYER = tr("Layer")
_RUN = tr("Dummy run")
_OUTPUT = tr("Output")

# Every RNNSpec flag, declared once and given to each command by @spec_command.
# Numbers arrive as text (see the module docstring); metavars say what is expected.
def _opt(*names: str, help: str, panel: str, metavar: Optional[str] = None) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=panel, metavar=metavar, show_default=True)


_PACKED = tr("Packed input")
_CHECKPOINT = tr("Checkpoint")
_UNKNOWN_PANEL = tr("What the keys cannot tell")


_SPEC_OPTIONS: list[tuple[str, Any, Any]] = [
    ("mode", str, _opt("--mode", help=helps(tr("Which layer (nn.RNN, nn.LSTM, nn.GRU) or one-step cell (nn.RNNCell, ...).")), panel=_LAYER, metavar="[" + "|".join(MODES) + "]")),
    ("input_size", str, _opt("--input-size", help=helps(tr("H_in: features per time step.")), panel=_LAYER, metavar="INT")),
    ("hidden_size", str, _opt("--hidden-size", help=helps(tr("H: hidden state size (H_cell for lstm).")), panel=_LAYER, metavar="INT")),
    ("num_layers", str, _opt("--layers", "--num-layers", help=helps(tr("num_layers: stacked layers.")), panel=_LAYER, metavar="INT")),
    ("bidirectional", bool, _opt("--bidirectional/--unidirectional", help=helps(tr("D = 2 or 1.")), panel=_LAYER)),
    ("batch_first", bool, _opt("--batch-first/--seq-first", help=helps(tr("Layout of input and output (never of h_0/h_n).")), panel=_LAYER)),
    ("bias", bool, _opt("--bias/--no-bias", help=helps(tr("Whether the layer has bias_ih and bias_hh.")), panel=_LAYER)),
    ("nonlinearity", str, _opt("--nonlinearity", help=helps(tr("rnn only.")), panel=_LAYER, metavar="[" + "|".join(NONLINEARITIES) + "]")),
    ("dropout", str, _opt("--dropout", help=helps(tr("Dropout between layers, 0 <= p <= 1.")), panel=_LAYER, metavar="P")),
    ("proj_size", str, _opt("--proj-size", help=helps(tr("lstm only: project h to P < H features.")), panel=_LAYER, metavar="INT")),
    ("seq_len", str, _opt("--seq-len", help=helps(tr("L of the dummy input [default: {n}; the longest of --lengths; none for a cell].", n=DEFAULT_SEQ_LEN)), panel=_RUN, metavar="INT")),
    ("batch_size", str, _opt("--batch-size", help=helps(tr("N of the dummy input, 0 allowed [default: {n}; how many --lengths].", n=DEFAULT_BATCH_SIZE)), panel=_RUN, metavar="INT")),
    ("unbatched", bool, _opt("--unbatched", help=helps(tr("Feed 2-D input (L, H_in); 1-D (H_in) to a cell.")), panel=_RUN)),
    ("lengths", str, _opt("--lengths", help=helps(tr("Pack the batch: one length per sequence, e.g. 5,3,2 (N and L follow).")), panel=_PACKED, metavar="INT,INT,...")),
    ("enforce_sorted", bool, _opt("--enforce-sorted/--no-enforce-sorted", help=helps(tr("pack_padded_sequence's enforce_sorted: lengths must be decreasing.")), panel=_PACKED)),
    ("device", str, _opt("--device", help=helps(tr("Where to run: {devices}.", devices=DEVICE_SPELLINGS)), panel=_RUN, metavar="DEVICE")),
    ("dtype", str, _opt("--dtype", help=helps(tr("Parameter and input dtype.")), panel=_RUN, metavar="[" + "|".join(DTYPES) + "]")),
    ("seed", str, _opt("--seed", help=helps(tr("Seeds the initial weights and the dummy input.")), panel=_RUN, metavar="INT")),
    ("h0", str, _opt("--h0", help=helps(tr("The dummy h_0: drawn from the seed, or all zeros (torch's own when h_0 is left out), or all ones.")), panel=_RUN, metavar="[" + "|".join(STATE_INITS) + "]")),
    ("c0", str, _opt("--c0", help=helps(tr("The dummy c_0 (lstm): as --h0.")), panel=_RUN, metavar="[" + "|".join(STATE_INITS) + "]")),
]
# The dummy states' values: what a run feeds, nothing a shape or a drawing depends on.
_STATE_VALUES = ("h0", "c0")
_DEFAULTS = RNNSpec()
# Flags whose absence means something (--lengths decides seq_len and batch_size;
# a cell has no seq_len): no default text, so "not given" can be told from "5".
_UNSET = {"seq_len", "batch_size", "lengths"}


def _default(name: str, kind: Any) -> Any:
    if name in _UNSET:
        return None
    return str(getattr(_DEFAULTS, name)) if kind is str else getattr(_DEFAULTS, name)


# --lang, on every command. The group reads it before click parses anything (clikit.choose_language),
# so that --help and click's own errors are said in it too; here it is checked and chosen once more
# for a command called without the group (a test's CliRunner on one command).
LangOption = Annotated[
    Optional[str],
    typer.Option("--lang", metavar="[zh|en]", rich_help_panel=_OUTPUT,
                 help=helps(tr("The language of what people read: zh (中文) or en. JSON and CSV never change. "
                               "[default: RNNSHAPE_LANG, else the locale, else en]"))),
]
_LANG = "lang"


def _lang_param() -> pyinspect.Parameter:
    return pyinspect.Parameter(_LANG, pyinspect.Parameter.KEYWORD_ONLY, annotation=LangOption, default=None)


def _exit_codes(func: Callable[..., Any]) -> Callable[..., Any]:
    """Errors become exit codes here, once for every command: SpecError -> 2, EnvironmentProblem -> 3."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> None:
        try:
            with chosen_language(kwargs.pop(_LANG, None)):
                code = func(**kwargs)
        except SpecError as exc:
            error(exc.cli_message())
            raise typer.Exit(ExitStatus.BAD_INPUT) from None
        except EnvironmentProblem as exc:
            error(str(exc))  # its message itself, a Message where it was made with one (errors.py)
            raise typer.Exit(ExitStatus.ENVIRONMENT) from None
        except OSError as exc:
            if not is_output_failure(exc):
                raise
            # Here, before typer turns a closed pipe into exit 1, the code for a failed check.
            raise typer.Exit(output_failed(exc)) from None
        raise typer.Exit(int(code or 0))

    own = list(pyinspect.signature(func).parameters.values())
    if not any(p.kind is p.VAR_KEYWORD for p in own):  # else _with_signature gives the command its options
        command.__signature__ = pyinspect.Signature(own + [_lang_param()])  # type: ignore[attr-defined]
    return command


def _with_signature(command: Callable[..., Any], func: Callable[..., Any], params: list[pyinspect.Parameter], injected: str) -> Callable[..., Any]:
    """Give `command` the options Typer should see: `params`, then func's own (all but the `injected` one)."""
    functools.update_wrapper(command, func)
    own = [p.replace(kind=pyinspect.Parameter.KEYWORD_ONLY) for name, p in pyinspect.signature(func).parameters.items() if name != injected]
    command.__signature__ = pyinspect.Signature(params + own + [_lang_param()])  # type: ignore[attr-defined]
    command.__annotations__ = {}
    return command


def _fields_command(func: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    """Give a command the RNNSpec flags `names`; it is called with the validated `spec` they make."""
    spec_params = [
        pyinspect.Parameter(
            name,
            pyinspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Optional[kind] if name in _UNSET else kind, option],
            default=_default(name, kind),
        )
        for name, kind, option in _SPEC_OPTIONS if name in names
    ]

    @_exit_codes
    def command(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in names}
        return func(spec=from_flags(flags), **kwargs)

    return _with_signature(command, func, spec_params, injected="spec")


def spec_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command every RNNSpec flag; it is called with the validated `spec`."""
    return _fields_command(func, tuple(name for name, _, _ in _SPEC_OPTIONS))


# check: the layer's flags only; the input's real shape decides L, N and unbatched, and its
# lengths are what the user has (torch, not rnnshape, decides whether it takes them).
_GIVEN_BY_INPUT = ("seq_len", "batch_size", "unbatched", "lengths", "enforce_sorted")


def layer_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the layer's RNNSpec flags and the run's device, dtype and seed; it is called with `spec`."""
    return _fields_command(func, tuple(name for name, _, _ in _SPEC_OPTIONS if name not in _GIVEN_BY_INPUT + _STATE_VALUES))


def shape_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every RNNSpec flag but the dummy states' values (a command that draws or counts, never runs)."""
    return _fields_command(func, tuple(name for name, _, _ in _SPEC_OPTIONS if name not in _STATE_VALUES))


def _spec_option(name: str) -> Any:
    return next(option for field, _, option in _SPEC_OPTIONS if field == name)


def plain_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """A command without RNNSpec flags: only the errors -> exit codes every command shares."""
    return _exit_codes(func)


SchemaKindArgument = Annotated[
    Optional[str],
    typer.Argument(metavar="KIND", show_default=False,
                   help=helps(tr("inspect, verify, sweep (one row), checkpoint, summary or check; all of them when left out."))),
]


# Where a checkpoint's run differs from inspect's: the weights are the file's.
_CHECKPOINT_HELP = {
    "dtype": helps(tr("Run in this dtype [default: the dtype the file holds].")),
    "seed": helps(tr("Seeds the dummy input (the weights are the file's).")),
}


def checkpoint_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags a checkpoint's layers may still be given (spec.CHECKPOINT_FIELDS).

    Every one defaults to unset: the file decides what its keys tell (the dtype
    too), and what they cannot tell is assumed and reported as assumed. The
    command is called with `overrides`: field -> the parsed value, given flags only.
    """
    params = []
    for name, kind, option in _SPEC_OPTIONS:
        if name not in CHECKPOINT_FIELDS:
            continue
        text, panel = _CHECKPOINT_HELP.get(name, option.help), option.rich_help_panel
        if name in UNKNOWN_FROM_KEYS:
            text = helps(tr("{help} Unknown from the keys: assumed {assumed}.", help=option.help, assumed=UNKNOWN_FROM_KEYS[name]))
            panel = _UNKNOWN_PANEL
        if (text, panel) != (option.help, option.rich_help_panel):
            # typer keeps a first positional declaration in `default` (its older calling style).
            option = typer.Option(option.default, *option.param_decls, help=text, rich_help_panel=panel, metavar=option.metavar)
        params.append(pyinspect.Parameter(name, pyinspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Optional[kind], option], default=None))

    @_exit_codes
    def command(**kwargs: Any) -> Any:
        parsed = {name: parse_field(name, kwargs.pop(name)) for name in CHECKPOINT_FIELDS}
        overrides = {k: v for k, v in parsed.items() if v is not None}
        RNNSpec(**overrides)  # values no layer could take are refused now: before the file, torch, or probe load
        return func(overrides=overrides, **kwargs)

    return _with_signature(command, func, params, injected="overrides")


LayerOption = Annotated[
    Optional[str],
    typer.Option("--layer", metavar="PREFIX", rich_help_panel=_CHECKPOINT,
                 help=helps(tr("Only this layer: its name as listed (model.module.encoder), or the end of it, if only one ends so (encoder)."))),
]
FileArgument = Annotated[
    str,
    typer.Argument(metavar="FILE", rich_help_panel=_CHECKPOINT, show_default=False,
                   help=helps(tr("A torch.save file (.pt, .pth, .bin) or .safetensors: what it is is read from its bytes, not its name. "
                                 "A regular file only: a pipe (/dev/stdin) is refused at once, since its tensors are read where they lie."))),
]
CheckpointNoRunOption = Annotated[
    bool,
    typer.Option("--no-run", rich_help_panel=_RUN,
                 help=helps(tr("Keys and shapes only: no values read, nothing run (a safetensors header is read without torch)."))),
]

# In a sweep a flag and its opposite may both be given: both values are swept.
_OPPOSITE_OF = {"unbatched": "--batched"}
_OPPOSITE = "_opposite"


def _sweep_flag_params() -> list[pyinspect.Parameter]:
    params = []
    for name, kind, option in _SPEC_OPTIONS:
        if kind is str:  # text: a comma list, or a range a..b of integers
            annotation, default = Annotated[Optional[str] if name in _UNSET else str, option], _default(name, kind)
            params.append(pyinspect.Parameter(name, pyinspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
            continue
        # typer keeps a first positional declaration in `default` (its older calling style).
        on, _, off = option.default.partition("/")
        off = off or _OPPOSITE_OF[name]
        for pname, flag, text in ((name, on, option.help), (name + _OPPOSITE, off, helps(tr("The opposite of {flag}; give both to sweep both.", flag=on)))):
            opt = typer.Option(flag, help=text, rich_help_panel=option.rich_help_panel)
            params.append(pyinspect.Parameter(pname, pyinspect.Parameter.KEYWORD_ONLY, annotation=Annotated[bool, opt], default=False))
    return params


def sweep_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every RNNSpec flag as a list; the command is called with `choices`: field -> the values to sweep."""

    @_exit_codes
    def command(**kwargs: Any) -> Any:
        from rnnshape.sweep import values

        choices: dict[str, list[Any]] = {}
        for name, kind, _ in _SPEC_OPTIONS:
            if kind is str:
                choices[name] = values(name, kwargs.pop(name))
            else:
                on, off = kwargs.pop(name), kwargs.pop(name + _OPPOSITE)
                choices[name] = [v for v, given in ((False, off), (True, on)) if given] or [getattr(_DEFAULTS, name)]
        return func(choices=choices, **kwargs)

    return _with_signature(command, func, _sweep_flag_params(), injected="choices")


FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help=helps(tr("Output format.")), metavar="[" + "|".join(FORMATS) + "]", rich_help_panel=_OUTPUT),
]


SvgOption = Annotated[
    Optional[str],
    typer.Option("--svg", help=helps(tr("Also save the picture as an SVG file (for docs).")), metavar="FILE", rich_help_panel=_OUTPUT),
]


MaxMemoryOption = Annotated[
    Optional[str],
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help=helps(tr("Refuse (exit 3) a run estimated to need more, e.g. 2GB, 512MiB [default: the free memory].")),
        rich_help_panel=_RUN,
    ),
]

NoRunOption = Annotated[
    bool,
    typer.Option("--no-run", help=helps(tr("Answer from the formulas alone: no torch, nothing observed.")), rich_help_panel=_RUN),
]

TrainOption = Annotated[
    bool,
    typer.Option("--train", rich_help_panel=_RUN,
                 help=helps(tr("Also run one forward and backward in train mode: every grad's shape, what dropout changes, "
                               "the bytes autograd saves for backward."))),
]


def max_memory_bytes(text: Optional[str]) -> Optional[int]:
    from rnnshape.memory import parse_bytes

    return None if text is None else parse_bytes(text)


def check_svg_path(path: Optional[str]) -> None:
    """Refuse an --svg that cannot be written before any work is done, by opening it for writing.

    A file that is not a regular one (/dev/full, a FIFO) is refused too: the picture must
    land in a file. A file created by this trial is removed again.
    """
    if path is None:
        return
    if not path.strip():
        raise SpecError("svg", tr("must name a file (got '')"))
    if os.path.exists(path) and not os.path.isfile(path):
        raise SpecError("svg", tr("cannot write {path!r}: it is not a regular file", path=path))
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise SpecError("svg", tr("cannot write {path!r}: {reason}", path=path, reason=exc.strerror or str(exc))) from None
    if not existed:
        os.remove(path)


def saving_svg(path: str, save: Callable[[str], None]) -> None:
    """Write the picture; a disk that fills up meanwhile is this machine's limit (exit 3), one line."""
    try:
        save(path)
    except OSError as exc:
        raise EnvironmentProblem(tr("--svg {path}: cannot write the picture: {reason}", path=path, reason=exc.strerror or str(exc))) from None



AtolOption = Annotated[
    Optional[str],
    typer.Option("--atol", metavar="A", help=helps(tr("Absolute tolerance [default: by dtype].")), rich_help_panel=_OUTPUT),
]
RtolOption = Annotated[
    Optional[str],
    typer.Option("--rtol", metavar="R", help=helps(tr("Relative tolerance [default: by dtype].")), rich_help_panel=_OUTPUT),
]
AgainstOption = Annotated[
    Optional[str],
    typer.Option("--against", metavar="FILE.py:FUNCTION", rich_help_panel=tr("Your own forward"),
                 help=helps(tr("Check your own forward function instead of the explicit loop: it gets the module's weights and "
                               "the dummy input by its parameters' names (input, h_0, params, weight_ih_l0, ...). This imports "
                               "FILE and runs its code."))),
]


def tolerance(field: str, text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise SpecError(field, tr("must be a number >= 0 (got {text!r})", text=text)) from None



SweepFormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help=helps(tr("Output format.")), metavar="[" + "|".join(SWEEP_FORMATS) + "]", rich_help_panel=_OUTPUT),
]


# --- check and summary: what the user really has ---------------------------------------
_GIVEN = tr("What you have")

InputShapeOption = Annotated[
    str,
    typer.Option("--input-shape", metavar="SHAPE", rich_help_panel=_GIVEN, show_default=False,
                 help=helps(tr("The input's shape, e.g. 8,8,256 (seq-first (L, N, H_in) unless --batch-first)."))),
]
H0ShapeOption = Annotated[
    Optional[str],
    typer.Option("--h0-shape", metavar="SHAPE", rich_help_panel=_GIVEN, help=helps(tr("h_0's shape [default: not given: torch uses zeros]."))),
]
C0ShapeOption = Annotated[
    Optional[str],
    typer.Option("--c0-shape", metavar="SHAPE", rich_help_panel=_GIVEN, help=helps(tr("c_0's shape (lstm; with --h0-shape)."))),
]
InputDtypeOption = Annotated[
    Optional[str],
    typer.Option("--input-dtype", metavar="DTYPE", rich_help_panel=_GIVEN,
                 help=helps(tr("The input's dtype, e.g. int64 for token ids [default: --dtype]."))),
]
CheckLengthsOption = Annotated[
    Optional[str],
    typer.Option("--lengths", metavar="INT,INT,...", rich_help_panel=_GIVEN,
                 help=helps(tr("Pack the input with pack_padded_sequence and these lengths, as given (torch decides)."))),
]
CheckEnforceSortedOption = Annotated[
    bool,
    typer.Option("--enforce-sorted/--no-enforce-sorted", rich_help_panel=_GIVEN, help=helps(tr("pack_padded_sequence's enforce_sorted."))),
]
InputShapesOption = Annotated[
    Optional[list[str]],
    typer.Option("--input-shape", metavar="SHAPE", rich_help_panel=_GIVEN, show_default=False,
                 help=helps(tr("One per positional input of the model's forward, in order, e.g. --input-shape 32,20."))),
]
InputDtypesOption = Annotated[
    Optional[list[str]],
    typer.Option("--input-dtype", metavar="DTYPE", rich_help_panel=_GIVEN, show_default=False,
                 help=helps(tr("Once for all inputs, or once per input: float32 (default), float64, int64 (token ids), ..."))),
]
InputHighOption = Annotated[
    Optional[str],
    typer.Option("--input-high", metavar="N", rich_help_panel=_GIVEN,
                 help=helps(tr("Integer inputs are drawn in [0, N) [default: the smallest num_embeddings of the model's nn.Embedding]."))),
]
InputSeedOption = Annotated[
    str,
    typer.Option("--seed", metavar="INT", rich_help_panel=_GIVEN, help=helps(tr("Seeds the inputs drawn."))),
]
TargetArgument = Annotated[
    str,
    typer.Argument(metavar="TARGET", show_default=False, rich_help_panel=tr("Model"),
                   help=helps(tr("path/to/file.py:factory or package.module:factory: a callable returning the model, or the model itself."))),
]


def optional_shape(field: str, text: Optional[str]) -> Optional[tuple[int, ...]]:
    from rnnshape.model.shapes import parse_shape

    return None if text is None else parse_shape(field, text)


BriefOption = Annotated[
    bool,
    typer.Option("--brief", rich_help_panel=_OUTPUT, help=helps(tr("Only the answer: the first screen's sections (table, markdown)."))),
]
SectionsOption = Annotated[
    Optional[str],
    typer.Option("--sections", metavar="NAME,...", rich_help_panel=_OUTPUT,
                 help=helps(tr("Only these sections, in the report's order (table, markdown); an unknown name lists them."))),
]
StyleOption = Annotated[
    str,
    typer.Option("--style", metavar="[" + "|".join(STYLES) + "]", rich_help_panel=_OUTPUT,
                 help=helps(tr("How the script writes its loop: layer by layer (layers), or as PyTorch's nn.RNN docs do, time outside, layers inside (docs)."))),
]
