"""RNNSpec: every knob of a recurrent layer and of the dummy run, validated.

Validation lives here, not in the CLI, so that the Python API and every flag
share one set of rules and one wording, and so that a bad value is refused
before torch is imported.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from rnnshape.errors import SpecError, option_for
from rnnshape.language import tr

LAYER_MODES = ("rnn", "lstm", "gru")
# The single-step cells: nn.RNNCell, nn.LSTMCell, nn.GRUCell. A cell is one time
# step of one layer in one direction; the caller writes the loop over t.
CELL_MODES = ("rnncell", "lstmcell", "grucell")
MODES = LAYER_MODES + CELL_MODES
# The documented example's dummy input, nn.RNN(10, 20) fed (5, 3, 10): the
# defaults of seq_len and batch_size where neither they nor --lengths are given.
DEFAULT_SEQ_LEN, DEFAULT_BATCH_SIZE = 5, 3
NONLINEARITIES = ("tanh", "relu")
DTYPES = ("float32", "float64", "float16", "bfloat16")
# What the dummy run feeds as h_0 (and c_0): drawn from the seed (randn, the default), or
# all zeros (what torch uses when h_0 is left out), or all ones (as learners' notes feed it).
STATE_INITS = ("randn", "zeros", "ones")
DEVICE_SPELLINGS = "cpu, cuda, cuda:N, mps, meta"

# torch's own aliases for the dtypes, so `--dtype half` means what torch means.
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16"}
# ASCII digits without leading zeros: torch refuses cuda:00, and \d would let in any script's digits.
_DEVICE_RE = re.compile(r"^(cpu|meta|mps|cuda(:(0|[1-9][0-9]*))?)$")
# Rows of the stacked gate weights, per mode: torch stacks G blocks of H rows.
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
# Flags that describe a stack of layers over a sequence, which a cell is not:
# field -> the value a cell has implicitly (seq_len: none, a cell takes one step).
_LAYER_ONLY = {"num_layers": 1, "bidirectional": False, "proj_size": 0, "batch_first": False, "dropout": 0.0}
# What a saved layer's keys cannot tell (state_dict.find), and the value assumed for its dummy run.
UNKNOWN_FROM_KEYS = {"nonlinearity": tr("tanh (relu has the same keys)"),
                     "batch_first": tr("False (a constructor argument that no key holds)"),
                     "dropout": tr("0.0 (no parameter; and a dummy run in eval mode drops nothing)")}
# The RNNSpec fields a found layer's run may still be given: what the keys cannot
# tell, then the dummy input's own (the checkpoint command's flags). Here, not in
# state_dict.py, so that declaring those flags costs the CLI's start-up nothing.
CHECKPOINT_FIELDS = tuple(UNKNOWN_FROM_KEYS) + ("seq_len", "batch_size", "unbatched", "lengths", "enforce_sorted", "device", "dtype", "seed")
# torch.manual_seed accepts any 64-bit pattern; negative seeds only alias positive ones.
_MAX_SEED = 2**64 - 1
MAX_LAYERS = 10_000
_MAX_DEVICE_INDEX = 127


@dataclass(frozen=True)
class RNNSpec:
    """One recurrent layer and the dummy input it is fed.

    Field names follow the constructor of `torch.nn.RNN` (then the dummy run);
    the field order is the order of the JSON `config` object.
    """

    mode: str = "rnn"
    input_size: int = 10
    hidden_size: int = 20
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    nonlinearity: str = "tanh"
    seq_len: int | None = None  # None: 5, or the longest of lengths; stays None for a cell
    batch_size: int | None = None  # None: 3, or how many lengths
    unbatched: bool = False
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0
    # Packed input, after the design's original keys so that their order stays a prefix.
    lengths: tuple[int, ...] | None = None  # packed input: one length per sequence
    enforce_sorted: bool = True  # pack_padded_sequence's argument
    h0: str = "randn"  # the dummy h_0 (a cell's hx): one of STATE_INITS
    c0: str = "randn"  # the dummy c_0 (lstm, lstmcell)

    def __post_init__(self) -> None:
        # Normalise spellings first (frozen, hence object.__setattr__), then check.
        for name in ("mode", "nonlinearity", "device", "dtype", "h0", "c0"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise SpecError(name, tr("must be a string (got {value!r})", value=value))
            object.__setattr__(self, name, value.strip().lower())
        object.__setattr__(self, "dtype", _DTYPE_ALIASES.get(self.dtype, self.dtype))
        if isinstance(self.lengths, list):  # JSON and RNNSpec(**to_dict()) give a list
            object.__setattr__(self, "lengths", tuple(self.lengths))
        _validate(self)
        object.__setattr__(self, "dropout", float(self.dropout))  # dropout=1 or 1.0: to_dict() (the JSON) holds 1.0 either way
        _resolve_dummy_sizes(self)

    # Derived quantities, named as in PyTorch's docs.
    @property
    def is_cell(self) -> bool:
        return self.mode in CELL_MODES

    @property
    def base_mode(self) -> str:
        """rnn, lstm or gru: the layer whose one step this is (the mode itself for a layer)."""
        return self.mode.removesuffix("cell")

    @property
    def lstm(self) -> bool:
        """Whether there is a cell state c (nn.LSTM and nn.LSTMCell)."""
        return self.base_mode == "lstm"

    @property
    def packed(self) -> bool:
        return self.lengths is not None

    @property
    def steps(self) -> int:
        """Time steps one forward computes per sequence: L for a layer, 1 for a cell."""
        return 1 if self.is_cell else self.seq_len  # type: ignore[return-value]

    @property
    def batch(self) -> int:
        """N as the module sees it: 1 for unbatched input, whatever batch_size says."""
        return 1 if self.unbatched else self.batch_size  # type: ignore[return-value]

    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def gate_multiple(self) -> int:
        """G: how many blocks of hidden_size rows the stacked weights hold."""
        return {"rnn": 1, "gru": 3, "lstm": 4}[self.base_mode]

    @property
    def h_out(self) -> int:
        """H_out: proj_size when the LSTM projects, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def module_name(self) -> str:
        return {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[self.base_mode] + ("Cell" if self.is_cell else "")

    @classmethod
    def from_module(cls, module: Any, **dummy_fields: Any) -> RNNSpec:
        """The spec a live nn.RNN/nn.LSTM/nn.GRU (or cell) holds: every constructor argument, its device and dtype.

        `dummy_fields` set the dummy run (seq_len, batch_size, unbatched, lengths,
        enforce_sorted, seed). TypeError for anything but a recurrent module.
        """
        from rnnshape.model.module import spec_of

        return spec_of(module, **dummy_fields)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lengths"] = None if self.lengths is None else list(self.lengths)
        return out

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def spec_or_module(spec: Any, args: tuple[Any, ...], fields: dict[str, Any], verb: str) -> tuple[Any, RNNSpec | None]:
    """What the API's verbs (inspect, verify) were given: (a live module, None), or (None, the RNNSpec).

    An RNNSpec comes as itself or as its fields; real inputs (`args`) go with a live
    module only. Whether the module really is one is module.spec_of's to say.
    """
    if spec is not None and not isinstance(spec, RNNSpec):
        return spec, None
    if args:
        raise TypeError(f"real inputs go with a live module, {verb}(module, input, hx); an RNNSpec runs its own dummy input")
    if spec is None:
        return None, RNNSpec(**fields)
    if fields:
        raise TypeError("pass either an RNNSpec or its fields as keywords, not both")
    return None, spec


def _validate(spec: RNNSpec) -> None:
    _choice(spec, "mode", MODES)
    _choice(spec, "nonlinearity", NONLINEARITIES)
    _choice(spec, "h0", STATE_INITS)
    _choice(spec, "c0", STATE_INITS)
    if spec.c0 != "randn" and spec.base_mode != "lstm":
        raise SpecError("c0", tr("is for --mode lstm or lstmcell only; {mode} has no cell state (got --c0 {c0})",
                                 mode=spec.mode, c0=spec.c0))
    _choice(spec, "dtype", DTYPES + tuple(_DTYPE_ALIASES))
    if not _DEVICE_RE.match(spec.device):
        raise SpecError("device", tr("must be one of {choices} (got {value!r})", choices=DEVICE_SPELLINGS, value=spec.device))
    if ":" in spec.device and int(spec.device.split(":")[1]) > _MAX_DEVICE_INDEX:
        # torch keeps the index in an int8: cuda:128 would silently become cuda:-128.
        raise SpecError("device", tr("index must be 0..{most} (got {value!r})", most=_MAX_DEVICE_INDEX, value=spec.device))

    for name in ("bias", "batch_first", "bidirectional", "unbatched", "enforce_sorted"):
        if not isinstance(getattr(spec, name), bool):
            raise SpecError(name, tr("must be true or false (got {value!r})", value=getattr(spec, name)))

    for name in ("input_size", "hidden_size", "num_layers"):
        _integer(spec, name, minimum=1)
    if spec.num_layers > MAX_LAYERS:
        # Every layer is a block of rows in every answer (and a module torch builds in Python): past this,
        # even the formulas-only answer takes minutes, and no real stack comes near it.
        raise SpecError("num_layers", tr("must be at most {most} (got {value})", most=MAX_LAYERS, value=spec.num_layers))
    if spec.seq_len is not None:
        _integer(spec, "seq_len", minimum=1)
    if spec.batch_size is not None:
        _integer(spec, "batch_size", minimum=0)  # torch runs an empty batch
    _integer(spec, "proj_size", minimum=0)
    _integer(spec, "seed", minimum=0)
    if spec.seed > _MAX_SEED:
        raise SpecError("seed", tr("must be at most {most} (got {value})", most="2**64-1", value=spec.seed))

    dropout = spec.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise SpecError("dropout", tr("must be a number between 0 and 1 (got {value!r})", value=dropout))
    if not (math.isfinite(dropout) and 0 <= dropout <= 1):
        raise SpecError("dropout", tr("must be a number between 0 and 1 (got {value})", value=dropout))

    if spec.is_cell:
        _validate_cell(spec)
    _validate_lengths(spec)

    # Combinations torch refuses, or silently does something else with.
    if spec.proj_size and spec.mode != "lstm":
        raise SpecError(
            "proj_size", tr("is for --mode lstm only (got --proj-size {proj_size} with --mode {mode})",
                            proj_size=spec.proj_size, mode=spec.mode)
        )
    if spec.proj_size >= spec.hidden_size:
        raise SpecError(
            "proj_size",
            tr("must be smaller than --hidden-size {hidden_size} (got {proj_size})",
               hidden_size=spec.hidden_size, proj_size=spec.proj_size),
        )
    if spec.nonlinearity != "tanh" and spec.base_mode != "rnn":
        # nn.LSTM/nn.GRU (and their cells) have no nonlinearity argument: their gates are fixed.
        raise SpecError(
            "nonlinearity",
            tr("is for --mode rnn or rnncell only; {mode} gates are fixed (got --nonlinearity {nonlinearity})",
               mode=spec.mode, nonlinearity=spec.nonlinearity),
        )


def _validate_cell(spec: RNNSpec) -> None:
    """torch's cells take none of these arguments; a value other than the layer default would be silently meaningless."""
    for name, implicit in _LAYER_ONLY.items():
        value = getattr(spec, name)
        if value != implicit:  # types were checked above: bools are bools, numbers numbers
            shown = option_for(name) if value is True else f"{option_for(name)} {value}"
            raise SpecError(name, tr("is for layers, not cells: nn.{module} is one step of one layer in one direction "
                                     "(got {shown} with --mode {mode})", module=spec.module_name, shown=shown, mode=spec.mode))
    if spec.seq_len is not None:
        raise SpecError("seq_len", tr("is for layers, not cells: nn.{module} takes one time step, (N, H_in), not a sequence "
                                      "(got --seq-len {seq_len} with --mode {mode})",
                                      module=spec.module_name, seq_len=spec.seq_len, mode=spec.mode))
    if spec.lengths is not None:
        raise SpecError("lengths", tr("is for layers, not cells: nn.{module} takes one time step, not a packed sequence "
                                      "(got --mode {mode})", module=spec.module_name, mode=spec.mode))


def _validate_lengths(spec: RNNSpec) -> None:
    """Packed input: the lengths define the batch, so seq_len and batch_size follow from them."""
    if spec.lengths is None:
        if not spec.enforce_sorted:
            raise SpecError("enforce_sorted", tr("applies only to packed input: give --lengths too "
                                                 "(got --no-enforce-sorted without --lengths)"))
        return
    lengths = spec.lengths
    if not isinstance(lengths, tuple) or not lengths:
        raise SpecError("lengths", tr("must be a list of positive integers, one per sequence (got {value!r})", value=lengths))
    for n in lengths:
        if isinstance(n, bool) or not isinstance(n, int):
            raise SpecError("lengths", tr("must be positive integers, one per sequence (got {value!r})", value=n))
        if n < 1:
            raise SpecError("lengths", tr("must be positive integers: pack_padded_sequence refuses a sequence of length {n} "
                                          "(got {lengths})", n=n, lengths=lengths_text(lengths)))
    if spec.unbatched:
        raise SpecError("unbatched", tr("cannot be combined with --lengths: packing needs a batch, one sequence per length "
                                        "(got --lengths {lengths})", lengths=lengths_text(lengths)))
    longest = max(lengths)
    if spec.seq_len is not None and spec.seq_len != longest:
        raise SpecError("seq_len", tr("must equal the longest of --lengths {lengths}, {longest} "
                                      "(got {seq_len}; leave --seq-len out to take it from --lengths)",
                                      lengths=lengths_text(lengths), longest=longest, seq_len=spec.seq_len))
    if spec.batch_size is not None and spec.batch_size != len(lengths):
        raise SpecError("batch_size", tr("must be the number of --lengths, one sequence each: {count} "
                                         "(got {batch_size}; leave --batch-size out to take it from --lengths)",
                                         count=len(lengths), batch_size=spec.batch_size))
    if spec.enforce_sorted and list(lengths) != sorted(lengths, reverse=True):
        raise SpecError("lengths", tr("must be in decreasing order with --enforce-sorted, as pack_padded_sequence requires "
                                      "(got {lengths}); pass --no-enforce-sorted to let torch sort them",
                                      lengths=lengths_text(lengths)))


def _resolve_dummy_sizes(spec: RNNSpec) -> None:
    """Fill in seq_len and batch_size that were left out (validation already checked the given ones)."""
    if spec.lengths is not None:
        object.__setattr__(spec, "seq_len", max(spec.lengths))
        object.__setattr__(spec, "batch_size", len(spec.lengths))
        return
    if spec.seq_len is None and not spec.is_cell:
        object.__setattr__(spec, "seq_len", DEFAULT_SEQ_LEN)
    if spec.batch_size is None:
        object.__setattr__(spec, "batch_size", DEFAULT_BATCH_SIZE)


def lengths_text(lengths: tuple[int, ...]) -> str:
    return ",".join(str(n) for n in lengths)


def _choice(spec: RNNSpec, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(spec, name)
    if value not in allowed:
        shown = ", ".join(a for a in allowed if a not in _DTYPE_ALIASES)
        raise SpecError(name, tr("must be one of {choices} (got {value!r})", choices=shown, value=value))


def _integer(spec: RNNSpec, name: str, *, minimum: int) -> None:
    value = getattr(spec, name)
    kind = tr("a positive integer") if minimum == 1 else tr("an integer >= 0")
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, tr("must be {kind} (got {value!r})", kind=kind, value=value))
    if value < minimum:
        raise SpecError(name, tr("must be {kind} (got {value})", kind=kind, value=value))


def parse_int(field: str, text: str) -> int:
    """A flag's text as an int, refused in the same words as RNNSpec's checks."""
    try:
        return int(text)
    except ValueError:
        raise SpecError(field, tr("must be an integer (got {value!r})", value=text)) from None


INT_FIELDS = ("input_size", "hidden_size", "num_layers", "proj_size", "seq_len", "batch_size", "seed")


def parse_field(name: str, value: Any) -> Any:
    """One flag's text as its field's type (bools and choices pass as they are); raises SpecError.

    None means the flag was not given: RNNSpec then chooses (seq_len and batch_size
    from --lengths, say).
    """
    if value is None or not isinstance(value, str):
        return value
    if name in INT_FIELDS:
        return parse_int(name, value)
    if name == "dropout":
        return parse_float(name, value)
    if name == "lengths":
        return parse_lengths(value)
    return value


def from_flags(flags: dict[str, Any]) -> RNNSpec:
    """The flags' text as a validated RNNSpec; raises SpecError naming the flag."""
    return RNNSpec(**{name: parse_field(name, value) for name, value in flags.items() if value is not None})


def parse_lengths(text: str) -> tuple[int, ...]:
    """'5,3,2' -> (5, 3, 2); the values themselves are checked by RNNSpec."""
    try:
        return tuple(int(item) for item in str(text).split(","))
    except ValueError:
        raise SpecError("lengths", tr("must be a comma list of positive integers, one per sequence (got {value!r})",
                                      value=text)) from None


def parse_float(field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(field, tr("must be a number between 0 and 1 (got {value!r})", value=text)) from None
    return value
