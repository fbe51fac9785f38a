"""checkpoint(FILE): every recurrent layer and cell a saved model holds, run on its own weights.

For each layer state_dict.find recognises, the config it infers becomes an
RNNSpec; the module is built from it, the file's tensors are loaded into it
with strict=True (so torch itself confirms the inferred config), and the dummy
input is run as inspect runs it. The report is inspect's Report, with the
saved values' statistics in place of the drawn init's. What the keys cannot
tell (nonlinearity, batch_first, dropout) is assumed, and said so, unless given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rnnshape import checkpoint_file, theory
from rnnshape.checkpoint_file import Contents, StateDict
from rnnshape.errors import FileProblem, SpecError, Verdict
from rnnshape.probe import observe, unobserved
from rnnshape.render.shown import Shown
from rnnshape.report import SCHEMA_VERSION, Report
from rnnshape.spec import CHECKPOINT_FIELDS, DTYPES, UNKNOWN_FROM_KEYS, RNNSpec
from rnnshape.state_dict import Found, find


@dataclass
class LayerReport:
    """One recurrent layer or cell found in the file, and inspect's Report of it on the saved weights."""

    state_dict: StateDict
    found: Found
    report: Report
    assumed: dict[str, str]  # field -> what was assumed and why (fields the user did not give)
    file_dtype: str

    @property
    def prefix(self) -> str:
        """The keys' prefix in their state_dict, without its trailing dot ("" for a module saved on its own)."""
        return self.found.name

    @property
    def name(self) -> str:
        """What --layer takes: the state_dict's place in the file, then the prefix (model.encoder.rnn)."""
        return qualified_name(self.state_dict, self.found)

    @property
    def values_read(self) -> bool:
        return self.report.ran

    @property
    def within_init_bound(self) -> bool | None:
        return self.report.within_init_bound

    @property
    def spread(self) -> tuple[float, float] | None:
        return self.report.spread

    @property
    def init_hint(self) -> str:
        return self.report.init_hint

    def to_dict(self) -> dict[str, Any]:
        whole = self.report.to_dict()
        parameters = []
        for p, entry in zip(self.report.observation.parameters, whole["parameters"]):
            entry = {**entry, "key": self.found.prefix + p.name}
            parameters.append(entry)
        spread = self.spread
        return {
            "name": self.name,
            "prefix": self.prefix,
            "state_dict": list(self.state_dict.path),
            # The constructor call, the same with or without --no-run (torch's repr omits the nn.).
            "module": theory.constructor_text(self.report.spec),
            "config": whole["config"],
            "inferred_from": self.found.evidence,
            "assumed": self.assumed,
            "file_dtype": self.file_dtype,
            "tensors": whole["tensors"],
            "packing": whole["packing"],
            "h_n_rows": whole["h_n_rows"],
            "relations": whole["relations"],
            "parameters": parameters,
            "total_parameters": whole["total_parameters"],
            "predicted_total_parameters": whole["predicted_total_parameters"],
            "count_formula": whole["count_formula"],
            "count_formula_substituted": whole["count_formula_substituted"],
            "within_init_bound": self.within_init_bound,
            "std": None if spread is None else spread[0],
            "init_std": None if spread is None else spread[1],
            "init_hint": self.init_hint,
            "checks": whole["checks"],
            "notes": whole["notes"],
            "ok": whole["ok"],
        }


@dataclass
class Inconsistent:
    """A group of keys that looks recurrent but gives no valid layer: reported, never guessed around."""

    state_dict: StateDict
    found: Found

    @property
    def name(self) -> str:
        return qualified_name(self.state_dict, self.found)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "prefix": self.found.name, "state_dict": list(self.state_dict.path),
                "keys": self.found.keys, "problems": self.found.problems}


@dataclass(repr=False)
class CheckpointReport(Verdict, Shown):
    contents: Contents
    layers: list[LayerReport]
    inconsistent: list[Inconsistent]
    ran: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.inconsistent and all(layer.report.ok for layer in self.layers)

    def headline(self) -> str:
        found = f"{len(self.layers)} recurrent layer{'s' if len(self.layers) != 1 else ''}"
        broken = f", {len(self.inconsistent)} inconsistent" if self.inconsistent else ""
        return f"{self.contents.file}: {found}{broken}, {'every check held' if self.ok else 'checks failed'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "file": self.contents.file,
            "format": self.contents.format,
            "observed": self.ran,
            "state_dicts": [{"path": list(s.path), "tensors": len(s.shapes)} for s in self.contents.state_dicts],
            "layers": [layer.to_dict() for layer in self.layers],
            "inconsistent": [group.to_dict() for group in self.inconsistent],
            # What the file holds, briefly: the answer when there is no recurrent layer.
            "contents": self.contents.outline,
            "notes": self.notes,
            "ok": self.ok,
        }


def shown(name: str) -> str:
    """A layer's name as printed: a module saved on its own has no prefix (torch names its root "")."""
    return name or "(no prefix)"


def qualified_name(state_dict: StateDict, found: Found) -> str:
    return ".".join([*state_dict.path, found.name] if found.name else state_dict.path)


def checkpoint(path: Any, *, layer: str | None = None, run: bool = True, max_memory: int | None = None,
               **overrides: Any) -> CheckpointReport:
    """Every recurrent layer and cell in the checkpoint at `path` (or the one named `layer`).

    `path` is a file (str or os.PathLike), or a state_dict already in memory
    (`checkpoint(model.state_dict())`, or a dict holding one, as a training
    script saves it). `overrides` are RNNSpec fields the keys cannot tell or the
    dummy run needs (CHECKPOINT_FIELDS): nonlinearity, batch_first, dropout,
    seq_len, batch_size, device, dtype, seed, ... `run=False` reads keys and
    shapes only (a safetensors header, without torch) and runs nothing.
    Raises FileProblem for a file that is no checkpoint, SpecError for a bad
    override or an unknown layer, EnvironmentProblem where the machine cannot
    run it, TypeError for anything that is neither a path nor a mapping.
    """
    unknown = set(overrides) - set(CHECKPOINT_FIELDS)
    if unknown:
        raise TypeError(f"checkpoint() takes none of {sorted(unknown)}; it takes {', '.join(CHECKPOINT_FIELDS)}")
    in_memory = isinstance(path, Mapping)
    if not in_memory and not isinstance(path, (str, os.PathLike)):
        hint = "; for a model, checkpoint(model.state_dict()) or summary(model, ...)" if hasattr(path, "state_dict") else ""
        raise TypeError(f"checkpoint() takes a file path or a state_dict (a mapping of names to tensors), not {type(path).__name__}{hint}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    RNNSpec(**overrides)  # a bad value (--seq-len 0, --device gpu) is refused before the file is read, without torch
    contents = checkpoint_file.from_object(path) if in_memory else checkpoint_file.read(os.fspath(path), values=run)
    path = contents.file
    found = [(sd, f) for sd in contents.state_dicts for f in find(sd.shapes)]
    found = _select(found, layer, path)
    good = [(sd, f) for sd, f in found if f.spec is not None]
    _check_overrides_apply(overrides, [f for _, f in good])
    layers = [_layer_report(contents, sd, f, overrides, run, max_memory) for sd, f in good]
    inconsistent = [Inconsistent(sd, f) for sd, f in found if f.spec is None]
    notes = [] if found else [f"no recurrent layer or cell in {path}: no weight_ih_l<k> or weight_ih/weight_hh keys"]
    return CheckpointReport(contents, layers, inconsistent, run, notes)


def _select(found: list[tuple[StateDict, Found]], layer: str | None, path: str) -> list[tuple[StateDict, Found]]:
    """The layer named exactly, or the one whose name ends in these dotted parts (decoder, module.decoder)."""
    if layer is None:
        return found
    wanted = layer.strip().rstrip(".")
    exact = [(sd, f) for sd, f in found if qualified_name(sd, f) == wanted]
    tails = [(sd, f) for sd, f in found if qualified_name(sd, f).endswith("." + wanted)]
    if exact or len(tails) == 1:
        return exact or tails
    names = ", ".join(repr(qualified_name(sd, f)) for sd, f in found) or "none"
    if tails:
        raise SpecError("layer", f"{layer!r} names {len(tails)} layers in {path}; say which: {names}")
    raise SpecError("layer", f"{layer!r} is no recurrent layer in {path}; it holds: {names}")


def _check_overrides_apply(overrides: dict[str, Any], found: list[Found]) -> None:
    """A flag that fits none of the chosen layers is refused rather than ignored."""
    specs = [f.spec for f in found if f.spec is not None]
    for name in overrides:
        if specs and not any(_applies(name, spec) for spec in specs):
            modules = ", ".join(sorted({f"nn.{spec.module_name}" for spec in specs}))
            fits = "nn.RNN and nn.RNNCell" if name == "nonlinearity" else "layers, not cells"
            raise SpecError(name, f"is for {fits}; the chosen ones are {modules}")


def _layer_report(contents: Contents, where: StateDict, found: Found, overrides: dict[str, Any], run: bool,
                  max_memory: int | None) -> LayerReport:
    base = found.spec
    assert base is not None
    first_key = next(k for k in found.keys if "weight_hh" in k)
    file_dtype = where.dtypes.get(first_key, "float32")
    fields = {k: v for k, v in overrides.items() if _applies(k, base)}
    notes = []
    if "dtype" not in fields:
        fields["dtype"] = file_dtype if file_dtype in DTYPES else "float32"
        if file_dtype not in DTYPES:
            notes.append(f"the file holds {file_dtype}; the layer runs in float32 (--dtype picks another)")
    try:
        spec = replace(base, **fields)
    except SpecError as exc:
        raise SpecError(exc.field, f"{exc.message} (layer {qualified_name(where, found)!r}; --layer picks one)") from None
    assumed = {k: text for k, text in UNKNOWN_FROM_KEYS.items() if k not in overrides and _applies(k, base)}
    if run:
        saved = contents.tensors(where, found.keys)
        weights = {key[len(found.prefix):]: tensor for key, tensor in saved.items()}
        try:
            observation = observe(spec, max_memory=max_memory, weights=weights, weights_from=contents.file)
        except SpecError as exc:
            if exc.field != "file":
                raise
            raise FileProblem(contents.file, f"layer {qualified_name(where, found)!r}: {exc.message}") from None
    else:
        observation = unobserved(spec)
    observation.notes = notes + observation.notes
    return LayerReport(where, found, Report(spec, observation), assumed, file_dtype)


# Flags that mean something for layers only: a cell has no sequence, no layout, no stack.
_LAYER_ONLY = ("dropout", "batch_first", "seq_len", "lengths", "enforce_sorted")


def _applies(name: str, spec: RNNSpec) -> bool:
    """Whether a flag means anything for this layer (each flag goes to the chosen layers it fits)."""
    if name == "nonlinearity":
        return spec.base_mode == "rnn"
    if name in _LAYER_ONLY:
        return not spec.is_cell
    return True
