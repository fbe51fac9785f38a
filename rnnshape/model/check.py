"""`rnnshape check`: will torch take tensors of these shapes? The layer from flags, fed exactly them.

The layer is built from inspect's flags (seeded); tensors of the given shapes
(--input-shape, --h0-shape, --c0-shape, in --input-dtype) are drawn and fed to
it as a live module is fed (inspect(module, input, hx)), packed first with
--lengths. Accepted: inspect's Report on those shapes. Refused: torch's
message, explained (diagnose.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from rnnshape import theory
from rnnshape.errors import Verdict
from rnnshape.language import tr
from rnnshape.memory import available_bytes, refuse_if_too_big
from rnnshape.model.call import explanation_of
from rnnshape.model.diagnose import Explanation, Situation, explain
from rnnshape.model.given import Given
from rnnshape.model.shapes import ITEM_BYTES, refuse_inapplicable
from rnnshape.render.shown import Shown
from rnnshape.report import SCHEMA_VERSION, Report
from rnnshape.spec import RNNSpec

@dataclass(repr=False)
class CheckReport(Verdict, Shown):
    """What torch made of tensors of the given shapes: inspect's Report, or its refusal explained."""

    spec: RNNSpec  # the layer as the flags built it
    given: Given
    report: Report | None  # torch accepted them
    explanation: Explanation | None  # torch refused them

    @property
    def accepted(self) -> bool:
        return self.report is not None

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok

    def headline(self) -> str:
        module = theory.constructor_text(self.spec)
        if self.explanation is not None:
            return tr("{module}: torch refused them ({message})", module=module, message=self.explanation.message)
        return tr("{module}: torch took them, {verdict}", module=module,
                  verdict=tr("every check held") if self.ok else tr("checks failed"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "module": theory.constructor_text(self.spec),
            "config": self.spec.to_dict(),
            "given": self.given.to_dict(),
            "accepted": self.accepted,
            "report": None if self.report is None else self.report.to_dict(),
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
            "ok": self.ok,
        }


def check(spec: RNNSpec, input_shape: tuple[int, ...], *, h0_shape: tuple[int, ...] | None = None,
          c0_shape: tuple[int, ...] | None = None, input_dtype: str | None = None,
          lengths: tuple[int, ...] | None = None, enforce_sorted: bool = True, max_memory: int | None = None) -> CheckReport:
    """Feed the layer `spec` describes tensors of these shapes; raises SpecError for flags that cannot apply."""
    refuse_inapplicable(spec, h0_shape=h0_shape, c0_shape=c0_shape, lengths=lengths)
    from rnnshape.probe import check_size

    check_size(spec)  # what torch cannot hold is a bad value (exit 2) before it is a lack of memory (3)
    input_dtype = input_dtype or spec.dtype
    elements = math.prod(input_shape) * ITEM_BYTES[input_dtype]
    elements += sum(math.prod(s) * ITEM_BYTES[spec.dtype] for s in (h0_shape, c0_shape) if s is not None)
    refuse_if_too_big(theory.check_bytes(spec, input_shape, given_bytes=elements, lengths=lengths, enforce_sorted=enforce_sorted),
                      device=spec.device,
                      available=available_bytes() if spec.device in ("cpu", "mps") else None, max_memory=max_memory,
                      what=tr("a run on tensors of these shapes"), hint=tr("give smaller shapes"))

    from rnnshape import probe
    from rnnshape.model.live import inspect_module

    module = probe.build(spec)
    torch = probe.import_torch()
    x, h_0, c_0 = _draw(torch, spec, input_shape, input_dtype, h0_shape, c0_shape)
    hx = h_0 if c_0 is None else (h_0, c_0)
    given = Given.of(x, hx)
    if lengths is not None:
        _zero_padding(x, lengths, spec.batch_first)
        try:
            x = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=spec.batch_first,
                                                        enforce_sorted=enforce_sorted)
        except Exception as exc:  # torch's refusal of the lengths: explained like any other
            packing = f"pack_padded_sequence(input, lengths={list(lengths)}, enforce_sorted={enforce_sorted})"
            explanation = explain(Situation("", packing, exc, arguments=[("input", given.input)]))
            return CheckReport(spec, given, None, explanation)
        given = Given.of(x, hx)
    try:
        report = inspect_module(module, (x,) if hx is None else (x, hx), max_memory=max_memory)
    except Exception as exc:
        explanation = explanation_of(exc)
        if explanation is None:
            raise
        return CheckReport(spec, given, None, explanation)
    return CheckReport(replace(spec, **_run_fields(report.spec)), given, report, None)


def _zero_padding(x: Any, lengths: tuple[int, ...], batch_first: bool) -> None:
    """Zeros after each sequence's length, as a real padded batch holds (where the lengths fit the batch)."""
    if x.dim() != 3 or x.device.type == "meta":
        return
    steps = x.transpose(0, 1) if batch_first else x  # a view: (L, N, H_in)
    for i, n in enumerate(lengths[: steps.shape[1]]):
        steps[n:, i] = 0


def _run_fields(spec: RNNSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in ("seq_len", "batch_size", "unbatched", "lengths", "enforce_sorted")}


def _draw(torch: Any, spec: RNNSpec, input_shape: tuple[int, ...], input_dtype: str,
          h0_shape: tuple[int, ...] | None, c0_shape: tuple[int, ...] | None) -> tuple[Any, Any, Any]:
    """Tensors of exactly these shapes on the layer's device, drawn from --seed (token ids in [0, 10))."""
    generator = torch.Generator().manual_seed(spec.seed)
    device = torch.device(spec.device)

    def draw(shape: tuple[int, ...] | None, dtype: str) -> Any:
        if shape is None:
            return None
        if dtype.startswith("int"):
            values = torch.randint(0, 10, shape, generator=generator, dtype=getattr(torch, dtype))
        else:
            values = torch.randn(shape, generator=generator, dtype=torch.float32).to(getattr(torch, dtype))
        return values.to(device)

    return draw(input_shape, input_dtype), draw(h0_shape, spec.dtype), draw(c0_shape, spec.dtype)

