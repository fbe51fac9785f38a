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

from rnnshape.errors import SpecError

MODES = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
DTYPES = ("float32", "float64", "float16", "bfloat16")
DEVICE_SPELLINGS = "cpu, cuda, cuda:N, mps, meta"

# torch's own aliases for the dtypes, so `--dtype half` means what torch means.
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16"}
_DEVICE_RE = re.compile(r"^(cpu|meta|mps|cuda(:\d+)?)$")
# Rows of the stacked gate weights, per mode: torch stacks G blocks of H rows.
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
# torch.manual_seed accepts any 64-bit pattern; negative seeds only alias positive ones.
_MAX_SEED = 2**64 - 1
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
    seq_len: int = 5
    batch_size: int = 3
    unbatched: bool = False
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        # Normalise spellings first (frozen, hence object.__setattr__), then check.
        for name in ("mode", "nonlinearity", "device", "dtype"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise SpecError(name, f"must be a string (got {value!r})")
            object.__setattr__(self, name, value.strip().lower())
        object.__setattr__(self, "dtype", _DTYPE_ALIASES.get(self.dtype, self.dtype))
        _validate(self)

    # Derived quantities, named as in PyTorch's docs.
    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def gate_multiple(self) -> int:
        """G: how many blocks of hidden_size rows the stacked weights hold."""
        return {"rnn": 1, "gru": 3, "lstm": 4}[self.mode]

    @property
    def h_out(self) -> int:
        """H_out: proj_size when the LSTM projects, else hidden_size."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def module_name(self) -> str:
        return {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[self.mode]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _validate(spec: RNNSpec) -> None:
    _choice(spec, "mode", MODES)
    _choice(spec, "nonlinearity", NONLINEARITIES)
    _choice(spec, "dtype", DTYPES + tuple(_DTYPE_ALIASES))
    if not _DEVICE_RE.match(spec.device):
        raise SpecError("device", f"must be one of {DEVICE_SPELLINGS} (got {spec.device!r})")
    if ":" in spec.device and int(spec.device.split(":")[1]) > _MAX_DEVICE_INDEX:
        # torch keeps the index in an int8: cuda:128 would silently become cuda:-128.
        raise SpecError("device", f"index must be 0..{_MAX_DEVICE_INDEX} (got {spec.device!r})")

    for name in ("bias", "batch_first", "bidirectional", "unbatched"):
        if not isinstance(getattr(spec, name), bool):
            raise SpecError(name, f"must be true or false (got {getattr(spec, name)!r})")

    for name in ("input_size", "hidden_size", "num_layers", "seq_len"):
        _integer(spec, name, minimum=1)
    _integer(spec, "batch_size", minimum=0)  # torch runs an empty batch
    _integer(spec, "proj_size", minimum=0)
    _integer(spec, "seed", minimum=0)
    if spec.seed > _MAX_SEED:
        raise SpecError("seed", f"must be at most 2**64-1 (got {spec.seed})")

    dropout = spec.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise SpecError("dropout", f"must be a number between 0 and 1 (got {dropout!r})")
    if not (math.isfinite(dropout) and 0 <= dropout <= 1):
        raise SpecError("dropout", f"must be a number between 0 and 1 (got {dropout})")

    # Combinations torch refuses, or silently does something else with.
    if spec.proj_size and spec.mode != "lstm":
        raise SpecError(
            "proj_size", f"is for --mode lstm only (got --proj-size {spec.proj_size} with --mode {spec.mode})"
        )
    if spec.proj_size >= spec.hidden_size:
        raise SpecError(
            "proj_size",
            f"must be smaller than --hidden-size {spec.hidden_size} (got {spec.proj_size})",
        )
    if spec.nonlinearity != "tanh" and spec.mode != "rnn":
        # nn.LSTM/nn.GRU have no nonlinearity argument: their gates are fixed.
        raise SpecError(
            "nonlinearity",
            f"is for --mode rnn only; {spec.mode} gates are fixed (got --nonlinearity {spec.nonlinearity})",
        )


def _choice(spec: RNNSpec, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(spec, name)
    if value not in allowed:
        shown = ", ".join(a for a in allowed if a not in _DTYPE_ALIASES)
        raise SpecError(name, f"must be one of {shown} (got {value!r})")


def _integer(spec: RNNSpec, name: str, *, minimum: int) -> None:
    value = getattr(spec, name)
    kind = "a positive integer" if minimum == 1 else "an integer >= 0"
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, f"must be {kind} (got {value!r})")
    if value < minimum:
        raise SpecError(name, f"must be {kind} (got {value})")


def parse_int(field: str, text: str) -> int:
    """A flag's text as an int, refused in the same words as RNNSpec's checks."""
    try:
        return int(text)
    except ValueError:
        raise SpecError(field, f"must be an integer (got {text!r})") from None


def parse_float(field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(field, f"must be a number between 0 and 1 (got {text!r})") from None
    return value
