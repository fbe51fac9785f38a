"""Which torch modules rnnshape reads, and the RNNSpec a live one holds.

The config comes from the module's own attributes (every constructor argument),
its device and dtype from its parameters: nothing is drawn or assumed.
"""

from __future__ import annotations

import sys
from typing import Any

from rnnshape.errors import SpecError
from rnnshape.language import tr
from rnnshape.model.given import device_name
from rnnshape.spec import DTYPES, RNNSpec

ACCEPTED = tr("nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell or nn.GRUCell (or a subclass)")
# nn.RNNBase.mode -> (rnnshape's mode, nonlinearity)
_LAYER_MODES = {"RNN_TANH": ("rnn", "tanh"), "RNN_RELU": ("rnn", "relu"), "LSTM": ("lstm", "tanh"), "GRU": ("gru", "tanh")}
# The fields a live module's dummy run may still be given: its config and weights are its own.
DUMMY_FIELDS = ("seq_len", "batch_size", "unbatched", "lengths", "enforce_sorted", "seed")


def _nn() -> Any:
    torch = sys.modules.get("torch")  # a live module means torch is loaded; never import it for a refusal
    return None if torch is None else torch.nn


def recurrent_mode(module: Any) -> str | None:
    """rnn, lstm, gru, rnncell, lstmcell or grucell for a recurrent module (or a subclass), else None."""
    nn = _nn()
    if nn is None or not isinstance(module, nn.Module):
        return None
    if isinstance(module, nn.RNNBase):
        return _LAYER_MODES.get(getattr(module, "mode", None), (None, None))[0]
    for cls, mode in ((nn.LSTMCell, "lstmcell"), (nn.GRUCell, "grucell"), (nn.RNNCell, "rnncell")):
        if isinstance(module, cls):
            return mode
    return None


def is_recurrent(module: Any) -> bool:
    return recurrent_mode(module) is not None


def type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    if module.startswith("torch.nn.modules"):
        return f"nn.{cls.__qualname__}"
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def short_type_name(value: Any) -> str:
    """nn.LSTM for torch's modules, the class's own name for the user's (Tagger)."""
    name = type_name(value)
    return name if name.startswith("nn.") else type(value).__qualname__


def refuse(value: Any) -> TypeError:
    nn = _nn()
    hint = tr("; for a whole model, summary(model, *inputs)") if nn is not None and isinstance(value, nn.Module) else ""
    return TypeError(tr("rnnshape takes an RNNSpec or a live {accepted}; got {type}{hint}", accepted=ACCEPTED,
                        type=type_name(value), hint=hint))


def spec_of(module: Any, **dummy_fields: Any) -> RNNSpec:
    """The RNNSpec `module` holds: its constructor arguments, device and dtype; then the dummy run's fields.

    Raises TypeError for anything but a recurrent module, SpecError for a dtype
    or device rnnshape does not run.
    """
    mode = recurrent_mode(module)
    if mode is None:
        raise refuse(module)
    unknown = sorted(set(dummy_fields) - set(DUMMY_FIELDS))
    if unknown:
        raise TypeError(tr("a live module's config is its own; the dummy run takes only {fields} (got {unknown})",
                           fields=", ".join(DUMMY_FIELDS), unknown=", ".join(unknown)))
    first = next(module.parameters(), None)
    if first is None:
        raise SpecError("module", tr("{type} holds no parameters (were they deleted?)", type=type_name(module)))
    dtype = str(first.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise SpecError("dtype", tr("must be one of {choices}: the module holds {dtype}", choices=", ".join(DTYPES), dtype=dtype))
    device = device_name(first.device)
    fields: dict[str, Any] = dict(mode=mode, input_size=module.input_size, hidden_size=module.hidden_size,
                                  bias=bool(module.bias), device=device, dtype=dtype)
    if mode in ("rnn", "lstm", "gru"):
        fields.update(num_layers=module.num_layers, batch_first=bool(module.batch_first), dropout=float(module.dropout),
                      bidirectional=bool(module.bidirectional), proj_size=int(getattr(module, "proj_size", 0)),
                      nonlinearity=_LAYER_MODES[module.mode][1])
    elif mode == "rnncell":
        fields["nonlinearity"] = module.nonlinearity
    return RNNSpec(**fields, **{k: v for k, v in dummy_fields.items() if v is not None})
