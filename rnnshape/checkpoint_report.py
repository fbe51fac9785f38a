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
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rnnshape import checkpoint_file, theory
from rnnshape.checkpoint_file import IN_MEMORY, SAFETENSORS, TORCH_LEGACY, TORCH_ZIP, Contents, StateDict
from rnnshape.errors import FileProblem, SpecError, Verdict
from rnnshape.language import speaks, tr
from rnnshape.memory import format_bytes
from rnnshape.probe import observe, unobserved
from rnnshape.render.shown import Shown
from rnnshape.report import SCHEMA_VERSION, Report
from rnnshape.spec import CHECKPOINT_FIELDS, DTYPES, UNKNOWN_FROM_KEYS, RNNSpec
from rnnshape.state_dict import Found, find

# At most this many layers run in one go without --layer: each is a module built and run,
# and a file of 20,000 tiny ones would take minutes to answer what --no-run lists at once.
MAX_RUN_LAYERS = 100
# What reading a layer's values adds whatever their size: the safetensors library, torch's
# zip reader. Measured peaks of one 40 MiB file varied by up to 20 MiB from run to run
# (156-176 MiB, safetensors; 163-179, torch zip), a spread the margin alone would not cover;
# in a venv whose torch was just installed, torch's loading code adds file-backed pages
# too (a legacy file's peak: 188 MiB there against 150 in a warm one).
_READ_FIXED_BYTES = 40 * 2**20
# Names listed in a refusal that would otherwise list thousands.
_NAMES_SHOWN = 10


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

    def to_dict(self, *, _whole: dict[str, Any] | None = None) -> dict[str, Any]:
        whole = self.report.to_dict() if _whole is None else _whole
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
        count = len(self.layers)
        found = tr("1 recurrent layer") if count == 1 else tr("{count} recurrent layers", count=count)
        if self.inconsistent:
            found = tr("{found}, {count} inconsistent", found=found, count=len(self.inconsistent))
        verdict = tr("every check held") if self.ok else tr("checks failed")
        return tr("{file}: {found}, {verdict}", file=self.contents.file, found=found, verdict=verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "file": self.contents.file,
            "format": self.contents.format,
            "observed": self.ran,
            "state_dicts": [{"path": list(s.path), "tensors": len(s.shapes)} for s in self.contents.state_dicts],
            "layers": _layer_dicts(self.layers),
            "inconsistent": [group.to_dict() for group in self.inconsistent],
            # What the file holds, briefly: the answer when there is no recurrent layer.
            "contents": self.contents.outline,
            "notes": self.notes,
            "ok": self.ok,
        }


def _layer_dicts(layers: list[LayerReport]) -> list[dict[str, Any]]:
    """Each layer's dict. Layers that share one Report (alike layers read with --no-run) share its to_dict's
    work, and each gets its own copy of it (pickled once, unpickled at C speed): no two layers' dicts share
    a part that a caller could change."""
    pickled: dict[int, bytes] = {}
    out = []
    for layer in layers:
        whole = pickled.get(id(layer.report))
        if whole is None:
            whole = pickled[id(layer.report)] = pickle.dumps(layer.report.to_dict(), protocol=pickle.HIGHEST_PROTOCOL)
        out.append(layer.to_dict(_whole=pickle.loads(whole)))
    return out


def shown(name: str) -> str:
    """A layer's name as printed: a module saved on its own has no prefix (torch names its root "")."""
    return name or tr("(no prefix)")


def qualified_name(state_dict: StateDict, found: Found) -> str:
    return ".".join([*state_dict.path, found.name] if found.name else state_dict.path)


@speaks
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
    if in_memory:
        contents = checkpoint_file.from_object(path)
    else:
        contents = checkpoint_file.read(os.fspath(path), values=run, max_memory=max_memory)
    try:
        return _checkpoint(contents, layer, run, max_memory, overrides)
    finally:
        contents.close()


def _checkpoint(contents: Contents, layer: str | None, run: bool, max_memory: int | None,
                overrides: dict[str, Any]) -> CheckpointReport:
    path = contents.file
    found = [(sd, f) for sd in contents.state_dicts for f in find(sd.shapes)]
    found = _select(found, layer, path)
    good = [(sd, f) for sd, f in found if f.spec is not None]
    _check_overrides_apply(overrides, [f for _, f in good])
    if run and layer is None and len(good) > MAX_RUN_LAYERS:
        raise FileProblem(path, tr("holds {count} recurrent layers and cells, and rnnshape runs at most {most} "
                                   "in one go: pick one with --layer NAME (the first is {first!r}), "
                                   "or list them all without running with --no-run",
                                   count=len(good), most=MAX_RUN_LAYERS, first=qualified_name(*good[0])))
    plans = [_plan(sd, f, overrides) for sd, f in good]
    if run:
        _refuse_if_too_big(contents, plans, max_memory)  # before any value is read
    reports: dict[Any, Report] = {}  # --no-run: alike layers share one Report (20,000 of them cost one)
    layers = [_layer_report(contents, plan, run, max_memory, reports) for plan in plans]
    inconsistent = [Inconsistent(sd, f) for sd, f in found if f.spec is None]
    notes = list(contents.notes)
    if not found:
        notes.append(tr("no recurrent layer or cell in {file}: no weight_ih_l<k> or weight_ih/weight_hh keys", file=path))
    return CheckpointReport(contents, layers, inconsistent, run, notes)


def _select(found: list[tuple[StateDict, Found]], layer: str | None, path: str) -> list[tuple[StateDict, Found]]:
    """The layer named exactly, or the one whose name ends in these dotted parts (decoder, module.decoder).

    The name as given is tried first, then without surrounding spaces (a prefix may hold any characters).
    """
    if layer is None:
        return found
    for wanted in dict.fromkeys([layer.rstrip("."), layer.strip().rstrip(".")]):
        exact = [(sd, f) for sd, f in found if qualified_name(sd, f) == wanted]
        if exact:
            return exact
    tails = [(sd, f) for sd, f in found if qualified_name(sd, f).endswith("." + wanted)]
    if len(tails) == 1:
        return tails
    if tails:
        raise SpecError("layer", tr("{layer!r} names {count} layers in {file}; say which: {names}",
                                    layer=layer, count=len(tails), file=path, names=_names(tails)))
    raise SpecError("layer", tr("{layer!r} is no recurrent layer in {file}; it holds: {names}",
                                layer=layer, file=path, names=_names(found)))


def _names(found: list[tuple[StateDict, Found]]) -> str:
    names = ", ".join(repr(qualified_name(sd, f)) for sd, f in found[:_NAMES_SHOWN]) or tr("none")
    if len(found) > _NAMES_SHOWN:
        return tr("{names} and {count} more (--no-run lists them all)", names=names, count=len(found) - _NAMES_SHOWN)
    return names


def _check_overrides_apply(overrides: dict[str, Any], found: list[Found]) -> None:
    """A flag that fits none of the chosen layers is refused rather than ignored."""
    specs = [f.spec for f in found if f.spec is not None]
    for name in overrides:
        if specs and not any(_applies(name, spec) for spec in specs):
            modules = ", ".join(sorted({f"nn.{spec.module_name}" for spec in specs}))
            if name == "nonlinearity":
                raise SpecError(name, tr("is for nn.RNN and nn.RNNCell; the chosen ones are {modules}", modules=modules))
            raise SpecError(name, tr("is for layers, not cells; the chosen ones are {modules}", modules=modules))


@dataclass
class _Plan:
    """A found layer, and the spec it will run with (the file's config, the flags that apply to it)."""

    where: StateDict
    found: Found
    spec: RNNSpec
    assumed: dict[str, str]
    notes: list[str]
    file_dtype: str

    @property
    def name(self) -> str:
        return qualified_name(self.where, self.found)


def _plan(where: StateDict, found: Found, overrides: dict[str, Any]) -> _Plan:
    base = found.spec
    assert base is not None
    first_key = next(k for k in found.keys if "weight_hh" in k)
    file_dtype = where.dtypes.get(first_key, "float32")
    fields = {k: v for k, v in overrides.items() if _applies(k, base)}
    notes = []
    if "dtype" not in fields:
        fields["dtype"] = file_dtype if file_dtype in DTYPES else "float32"
        if file_dtype not in DTYPES:
            notes.append(tr("the file holds {dtype}; the layer runs in float32 (--dtype picks another)", dtype=file_dtype))
    try:
        spec = replace(base, **fields)
    except SpecError as exc:
        raise SpecError(exc.field, tr("{reason} (layer {layer!r}; --layer picks one)",
                                      reason=exc.message, layer=qualified_name(where, found))) from None
    assumed = {k: text for k, text in UNKNOWN_FROM_KEYS.items() if k not in overrides and _applies(k, base)}
    return _Plan(where, found, spec, assumed, notes, file_dtype)


def _refuse_if_too_big(contents: Contents, plans: list[_Plan], max_memory: int | None) -> None:
    """Exit 3, before any value is read, when reading and running a chosen layer needs more than the machine has.

    Layers are read and run one after another, so the largest counts: its saved tensors
    as the file stores them (safetensors maps the file and copies each record out of
    the map, and both are resident: twice; a torch zip's are memory-mapped and paged in
    as they are read: once; a legacy file was read whole into memory, all of it
    counts), the statistics of its largest
    tensor (theory.statistics_bytes: a float64 copy and more), and, on the CPU, the
    run: the module that load_state_dict copies the values into, the input and the
    outputs (theory.run_bytes). All with theory's margin. The rest of the file is never
    read, however large.
    """
    worst: tuple[int, _Plan, int] | None = None
    legacy_bytes = os.path.getsize(contents.file) if contents.format == TORCH_LEGACY else 0
    for plan in plans:
        keys = plan.found.keys
        saved = sum(plan.where.nbytes.get(k, 0) for k in keys)
        held = {SAFETENSORS: 2 * saved, TORCH_ZIP: saved, IN_MEMORY: 0}.get(contents.format, legacy_bytes)
        on_cpu = not plan.spec.device.startswith(("cuda", "meta"))
        needed = theory.with_margin(_READ_FIXED_BYTES + held + theory.statistics_bytes(plan.spec)) \
            + (theory.run_bytes(plan.spec) if on_cpu else 0)
        if worst is None or needed > worst[0]:
            worst = (needed, plan, saved)
    if worst is None:
        return
    needed, plan, saved = worst
    checkpoint_file.refuse_if_too_big(
        contents.file, needed, max_memory,
        tr("reading layer {layer!r} ({size} of saved tensors) and running it", layer=plan.name, size=format_bytes(saved)),
        hint=tr("--no-run answers from the keys and shapes alone, and --layer picks one layer"),
    )


def _layer_report(contents: Contents, plan: _Plan, run: bool, max_memory: int | None,
                  reports: dict[Any, Report]) -> LayerReport:
    where, found, spec = plan.where, plan.found, plan.spec
    if run:
        saved = contents.tensors(where, found.keys)
        weights = {key[len(found.prefix):]: tensor for key, tensor in saved.items()}
        try:
            observation = observe(spec, max_memory=max_memory, weights=weights, weights_from=contents.file)
        except SpecError as exc:
            if exc.field != "file":
                raise
            raise FileProblem(contents.file, tr("layer {layer!r}: {reason}", layer=qualified_name(where, found), reason=exc.message)) from None
        observation.notes = plan.notes + observation.notes
        report = Report(spec, observation)
    else:
        report = reports.get((spec, tuple(plan.notes)))
        if report is None:
            observation = unobserved(spec)
            observation.notes = plan.notes + observation.notes
            report = reports[(spec, tuple(plan.notes))] = Report(spec, observation)
    return LayerReport(where, found, report, plan.assumed, plan.file_dtype)


# Flags that mean something for layers only: a cell has no sequence, no layout, no stack.
_LAYER_ONLY = ("dropout", "batch_first", "seq_len", "lengths", "enforce_sorted")


def _applies(name: str, spec: RNNSpec) -> bool:
    """Whether a flag means anything for this layer (each flag goes to the chosen layers it fits)."""
    if name == "nonlinearity":
        return spec.base_mode == "rnn"
    if name in _LAYER_ONLY:
        return not spec.is_cell
    return True
