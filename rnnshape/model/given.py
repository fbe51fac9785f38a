"""What one call of a recurrent module was given: the facts, no tensors.

A call's arguments are described by shape, dtype and device (a PackedSequence
by its data, batch_sizes and the lengths they imply), so that they can be
shown, compared, grouped (a decoder cell stepping 20 times gives 20 equal
facts) and kept without holding the tensors. From the facts and the module's
config follow the dummy-run fields of an RNNSpec: L, N, unbatched, lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Union

from rnnshape.errors import SpecError
from rnnshape.language import tr
from rnnshape.spec import RNNSpec
from rnnshape.theory import shape_text


@dataclass(frozen=True)
class TensorFacts:
    shape: tuple[int, ...]
    dtype: str  # float32, int64, ... (torch's name without "torch.")
    device: str

    def text(self) -> str:
        return f"{shape_text(self.shape)} {self.dtype} {self.device}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "tensor", "shape": list(self.shape), "dtype": self.dtype, "device": self.device}


@dataclass(frozen=True)
class PackedFacts:
    """A PackedSequence: its .data, batch_sizes, and sorted_indices (None: the batch was sorted already)."""

    data: TensorFacts
    batch_sizes: tuple[int, ...]
    sorted_indices: tuple[int, ...] | None

    @property
    def lengths(self) -> tuple[int, ...]:
        """Each sequence's length, in the batch's original order (what pack_padded_sequence was given)."""
        by_rank = [sum(1 for b in self.batch_sizes if b > rank) for rank in range(self.batch_sizes[0] if self.batch_sizes else 0)]
        if self.sorted_indices is None:
            return tuple(by_rank)
        lengths = [0] * len(by_rank)
        for rank, original in enumerate(self.sorted_indices):
            lengths[original] = by_rank[rank]
        return tuple(lengths)

    @property
    def dtype(self) -> str:
        return self.data.dtype

    @property
    def device(self) -> str:
        return self.data.device

    def text(self) -> str:
        return f"PackedSequence(data {shape_text(self.data.shape)}, lengths {list(self.lengths)}) {self.dtype} {self.device}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "packed", "shape": list(self.data.shape), "dtype": self.dtype, "device": self.device,
                "batch_sizes": list(self.batch_sizes), "lengths": list(self.lengths),
                "sorted_indices": None if self.sorted_indices is None else list(self.sorted_indices)}


@dataclass(frozen=True)
class OtherFacts:
    """An argument that is no tensor (a list, a number, a tuple where a tensor belongs)."""

    type: str

    def text(self) -> str:
        return tr("a {type}, not a tensor", type=self.type)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "other", "type": self.type}


Facts = Union[TensorFacts, PackedFacts, OtherFacts]


def facts_of(value: Any) -> Facts | None:
    """The facts of one argument; None for None (not given)."""
    if value is None:
        return None
    if _is_packed(value):
        return PackedFacts(_tensor(value.data), tuple(value.batch_sizes.tolist()),
                           None if value.sorted_indices is None else tuple(value.sorted_indices.tolist()))
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "device"):
        return _tensor(value)
    return OtherFacts(type(value).__qualname__)


def _tensor(t: Any) -> TensorFacts:
    return TensorFacts(tuple(t.shape), str(t.dtype).removeprefix("torch."), device_name(t.device))


def device_name(device: Any) -> str:
    """As RNNSpec spells a device: cpu, meta and mps without an index, cuda:N with one."""
    return device.type if device.type in ("cpu", "meta", "mps") else str(device)


def _is_packed(value: Any) -> bool:
    return type(value).__name__ == "PackedSequence" and hasattr(value, "batch_sizes")


# How the state argument came: left out, one tensor, or a tuple of n (an LSTM wants (h_0, c_0)).
STATE_OMITTED, STATE_TENSOR = "omitted", "tensor"


@dataclass(frozen=True)
class Given:
    """input, h_0 and c_0 as one call of a recurrent module got them (None: not given)."""

    input: Facts | None
    h_0: Facts | None
    c_0: Facts | None
    state_form: str  # STATE_OMITTED, STATE_TENSOR, or "tuple of n"

    @classmethod
    def of(cls, input: Any, hx: Any) -> Given:
        if hx is None:
            return cls(facts_of(input), None, None, STATE_OMITTED)
        if isinstance(hx, (tuple, list)):
            parts = list(hx) + [None, None]
            return cls(facts_of(input), facts_of(parts[0]), facts_of(parts[1]), tr("tuple of {n}", n=len(hx)))
        return cls(facts_of(input), facts_of(hx), None, STATE_TENSOR)

    def items(self) -> list[tuple[str, Facts | None]]:
        return [("input", self.input), ("h_0", self.h_0), ("c_0", self.c_0)]

    def spec_for(self, module_spec: RNNSpec) -> RNNSpec | None:
        """module_spec with L, N, unbatched and lengths read from the input; None if the input makes none."""
        fields = self._run_fields(module_spec)
        if fields is None:
            return None
        try:
            return replace(module_spec, **fields)
        except SpecError:  # seq_len 0, say: torch refuses it too, and says so itself
            return None

    def _run_fields(self, spec: RNNSpec) -> dict[str, Any] | None:
        # The state in the form the module takes: an LSTM's as the tuple (h_0, c_0), any other's as one tensor.
        form = "tuple of 2" if spec.lstm else STATE_TENSOR
        if self.state_form not in (STATE_OMITTED, form) or any(isinstance(s, OtherFacts) for s in (self.h_0, self.c_0)):
            return None
        x = self.input
        if isinstance(x, PackedFacts):
            if spec.is_cell or not x.batch_sizes:
                return None
            return dict(lengths=x.lengths, enforce_sorted=x.sorted_indices is None, seq_len=None, batch_size=None, unbatched=False)
        if not isinstance(x, TensorFacts):
            return None
        # A layer takes (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in);
        # a cell (N, H_in) or unbatched (H_in,).
        batched, unbatched = (2, 1) if spec.is_cell else (3, 2)
        common = dict(lengths=None, enforce_sorted=True)
        if len(x.shape) == unbatched:
            return dict(common, unbatched=True, batch_size=1, seq_len=None if spec.is_cell else x.shape[0])
        if len(x.shape) != batched:
            return None
        if spec.is_cell:
            return dict(common, unbatched=False, batch_size=x.shape[0])
        L, N = (x.shape[1], x.shape[0]) if spec.batch_first else (x.shape[0], x.shape[1])
        return dict(common, unbatched=False, batch_size=N, seq_len=L)

    def signature(self) -> tuple[Any, ...]:
        """Equal for calls given the same shapes, dtypes and devices: one group of a module's calls."""
        return (self.input, self.h_0, self.c_0, self.state_form)

    def to_dict(self) -> dict[str, Any]:
        return {name: None if facts is None else facts.to_dict() for name, facts in self.items()}
