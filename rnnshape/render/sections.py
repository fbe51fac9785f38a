"""The report laid out as titled tables of text, shared by the table and markdown formats.

Deciding here what each section says keeps the two formats from drifting apart:
they differ only in how a table is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnnshape import cost, theory
from rnnshape.memory import format_bytes
from rnnshape.probe import NOT_GIVEN
from rnnshape.report import Report, shape_text
from rnnshape.training import Training

HELD, FAILED, SKIPPED = "✓", "✗", "—"


@dataclass
class Section:
    """One titled table (or block of text) of a report, laid out by layout.py and drawn by each format.

    A cell is never split across lines unless its column is prose: names, shapes,
    numbers, gates and dims stay whole; meanings and reasons wrap at spaces.
    """

    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # column indexes to right-align
    code: set[int] = field(default_factory=set)  # column indexes that hold code (markdown `spans`)
    title_is_code: bool = False
    lines: list[str] = field(default_factory=list)  # text after the table
    prose: set[int] = field(default_factory=set)  # column indexes whose text may wrap at spaces
    optional: tuple[int, ...] = ()  # column indexes left out, in this order, where the table does not fit
    name: str = ""  # what --sections calls it


def sections(report: Report) -> list[Section]:
    """The shapes first, under the module as torch prints it: what a reader came for fits the first screen."""
    tensors, *shapes = shape_sections(report)
    tensors.title, tensors.title_is_code = report.observation.module_repr, True
    return [
        tensors,
        *shapes,
        parameters_section(report),
        totals_section(report),
        module_section(report),
        cost_section(report),
        *training_sections(report),
        notes_section(report),
    ]


def shape_sections(report: Report) -> list[Section]:
    """The tensors, the packing (packed input), h_n's rows and the output/h_n identities."""
    # A cell has no h_n rows and no output to relate to them.
    layer_only = [] if report.spec.is_cell else [h_n_rows_section(report), relations_section(report)]
    packing = [packing_section(report)] if report.spec.packed else []
    return [tensors_section(report), *packing, *layer_only]


def mark(ok: bool | None) -> str:
    return {True: HELD, False: FAILED, None: SKIPPED}[ok]


def module_section(report: Report) -> Section:
    spec = report.spec
    if spec.base_mode == "rnn":
        nonlinearity = spec.nonlinearity
    else:
        nonlinearity = "sigmoid gates, tanh candidate (fixed)"
    D = spec.num_directions
    rows = [] if report.ran else [["answer", "predicted from the formulas (--no-run): nothing was run or observed"]]
    rows += [["nonlinearity", nonlinearity]]
    if spec.is_cell:
        rows += [
            ["step", "one time step: you write the loop over t, feeding h_1 back as h_0"],
            ["layout", "unbatched (H_in)" if spec.unbatched else "batched (N, H_in)"],
        ]
    else:
        layout = "unbatched" if spec.unbatched else ("batch_first" if spec.batch_first else "seq-first")
        if spec.packed:
            layout += f", packed: lengths {','.join(map(str, spec.lengths or ()))}"
        rows += [
            ["dropout", f"{spec.dropout:g}" + (" (between layers, training only)" if spec.dropout else "")],
            ["D", f"{D} ({'bidirectional' if D == 2 else 'unidirectional'})"],
            ["layout", layout],
        ]
    rows += [
        ["device", report.observation.device],
        ["dtype", spec.dtype],
        ["seed", str(spec.seed)],
    ]
    # What the module's repr (the tensors' title) hides.
    return Section("settings", ["setting", "value"], rows, prose={1}, name="settings")


def tensors_section(report: Report) -> Section:
    observed = report.observation.tensors
    rows = []
    unavailable = report.observation.unavailable
    for t in report.tensors:
        seen = observed.get(t.name)
        check = HELD if seen == t.shape else f"{FAILED} predicted {shape_text(t.shape)}"
        if not report.ran:
            check = f"{SKIPPED} not run"
        shown = shape_text(seen)
        if unavailable.get(t.name) == NOT_GIVEN:  # a real call that left h_0 out
            shown, check = "not given", f"{SKIPPED} zeros {shape_text(t.shape)}"  # torch started from zeros
        elif t.name in unavailable:
            shown, check = "unavailable", f"{SKIPPED} predicted {shape_text(t.shape)}"
        rows.append([t.name, shown, "(" + ", ".join(t.dims) + ")", t.meaning, check])
    return Section("tensors", ["tensor", "shape", "dims", "meaning", "predicted"], rows, code={0, 1, 2}, prose={3},
                   optional=(3, 2), name="tensors")


def packing_section(report: Report) -> Section:
    """pack_padded_sequence's bookkeeping: which sequences are still running at each step."""
    spec, packing = report.spec, report.observation.packing or {}
    unavailable = report.observation.unavailable
    sorted_indices = packing.get("sorted_indices")
    if "sorted_indices" in unavailable:
        order = f"unavailable: {unavailable['sorted_indices']}"
    elif sorted_indices is None:
        order = "None: --enforce-sorted, the batch is already longest first"
    else:
        order = f"{sorted_indices}: the batch reordered longest first; h_n comes back in the original order"
    rows = [
        ["lengths", f"{list(spec.lengths or ())}: sum(lengths) = {sum(spec.lengths or ())} real steps"],
        ["batch_sizes", f"{packing.get('batch_sizes')}: sequences still running at t = 0, 1, ..."],
        ["sorted_indices", order],
    ]
    return Section("packing: pack_padded_sequence(input, lengths)", ["", ""], rows, code={1}, prose={1}, name="packing")


def h_n_rows_section(report: Report) -> Section:
    states = "h_n and c_n" if report.spec.lstm else "h_n"
    last = "lengths[i] - 1" if report.spec.packed else report.spec.seq_len - 1
    rows = [
        [str(r.row), str(r.layer), r.direction, f"t = {last if r.direction == 'forward' else 0}"]
        for r in report.h_n_rows
    ]
    columns = ["row", "layer", "direction", "last step it saw"]
    return Section(f"{states} rows: row = layer * D + direction", columns, rows, numeric={0, 1}, name="h_n_rows")


def relations_section(report: Report) -> Section:
    held = report.observation.relations
    rows = [[r.text, r.why, mark(held.get(r.name))] for r in report.relations]
    output = "padded_output" if report.spec.packed else "output"
    title = f"{output} and h_n, checked on the real tensors" if report.ran else f"{output} and h_n (not checked: --no-run)"
    return Section(title, ["identity", "why", "held"], rows, code={0}, prose={1}, optional=(1,), name="relations")


def parameters_section(report: Report) -> Section:
    if report.observation.weights_from is not None:  # a live module's or a checkpoint's values: not a draw
        whose = "the module's own" if report.observation.weights_from == "module" else "as saved"
        return given_parameters_section(report, f"parameters, {whose}")
    H = report.spec.hidden_size
    rows = []
    for p in report.observation.parameters:
        predicted = report.predicted_parameter(p.name)
        gates = "|".join(predicted.gates) if predicted else ""
        if predicted and predicted.kind == "weight_hr":
            gates = "proj"
        shape = shape_text(p.shape)
        if predicted is None or predicted.shape != p.shape:
            shape += f" {FAILED} predicted {shape_text(predicted.shape if predicted else None)}"
        where = f"{predicted.layer} {predicted.direction}" if predicted else "?"
        if report.spec.is_cell:
            where = "cell"  # one step of one layer in one direction: no _l0 suffix
        rows.append([p.name, where, shape, str(math.prod(p.shape)), gates, _number(p.min), _number(p.max), mark(p.within_bound)])
    bound = theory.init_bound(report.spec)  # one formula, in theory.py
    title = f"parameters, drawn from U(-{bound:.4f}, {bound:.4f}): bound = 1/sqrt(hidden_size) = 1/sqrt({H})"
    if report.spec.base_mode != "rnn":
        title += f"; each gate is a block of {H} rows"
    columns = ["parameter", "layer dir", "shape", "numel", "gates", "min", "max", "in bound"]
    return Section(title, columns, rows, numeric={3, 5, 6}, code={0, 2}, optional=(3, 4, 1), name="parameters")


def given_parameters_section(report: Report, heading: str) -> Section:
    """Weights that were given, not drawn: their statistics, and whether they still look like PyTorch's init."""
    rows = []
    for p in report.observation.parameters:
        predicted = report.predicted_parameter(p.name)
        where = "cell" if report.spec.is_cell else (f"{predicted.layer} {predicted.direction}" if predicted else "?")
        stats = [_number(p.min), _number(p.max), _number(p.mean), _number(p.std)]
        within = mark(p.within_bound) if report.ran else SKIPPED
        if p.non_finite:
            within = f"{FAILED} {p.non_finite} NaN/inf"
        rows.append([p.name, where, shape_text(p.shape), str(math.prod(p.shape)), *stats, within])
    bound = theory.init_bound(report.spec)
    title = (f"{heading}; PyTorch's init draws U(-{bound:.4f}, {bound:.4f}), "
             f"1/sqrt(hidden_size) = 1/sqrt({report.spec.hidden_size})")
    columns = ["parameter", "layer dir", "shape", "numel", "min", "max", "mean", "std", "in bound"]
    return Section(title, columns, rows, numeric={3, 4, 5, 6, 7}, code={0, 2}, lines=[report.init_hint],
                   optional=(3, 6, 7, 1), name="parameters")


def totals_section(report: Report) -> Section:
    symbols, substituted = report.count_formula
    size = report.parameter_bytes
    total = report.observed_total
    check = HELD if total == report.predicted_total else f"{FAILED} formula gives {report.predicted_total}"
    if not report.ran:
        check = "(formula; not run)"
    rows = [
        ["parameters", f"{total} {check}"],
        ["formula", symbols],
        ["", substituted],
        ["bytes", f"{size} ({format_bytes(size)}) in {report.spec.dtype}"],
    ]
    return Section("totals", ["", ""], rows, code={1}, prose={1}, name="totals")


def cost_section(report: Report) -> Section:
    """One forward's work and memory, each with its formula; what is counted is in the JSON and docs/costs.md."""
    items = cost.costs(report.spec)
    rows = [[item.name, f"{item.value:,}", item.unit, item.formula] for item in items]
    lines = []
    note = cost.fused_kernel_note(report.spec)
    if note:
        lines.append(f"note: {note}")
    return Section(f"cost of one forward: {cost.macs_of(items):,} MACs", ["", "count", "unit", "formula"], rows,
                   numeric={1}, code={3}, lines=lines, prose={3}, optional=(2,), name="cost")


# inspect --train's words, together (to be translated together).
_TRAINING = {
    "gradients": "training: one forward and backward in train mode, loss = {loss}",
    "gradient_columns": ["tensor", "shape", "requires_grad", "grad shape", "same shape"],
    "no_grad": "none",
    "dropout": "dropout p = {p:g}: train mode against eval mode, the same weights and inputs, bit for bit",
    "cell_modes": "train mode against eval mode (a cell has no dropout), the same weights and inputs, bit for bit",
    "dropout_columns": ["tensor", "layer dir", "train vs eval", "predicted"],
    "top": "{layer} (top)",
    "changed": "changed: {differing} of {numel} elements",
    "untouched": "untouched",
    "predicted_changed": "changed",
    "not_compared": "not compared",
    "saved": "bytes autograd saved for backward in the layer's forward (parameters excluded, each storage once)",
    "saved_columns": ["", "bytes", "what"],
    "measured": "measured",
    "measured_what": "{size} in {storages} storages, saved_tensors_hooks on this run; torch's path: {path}",
    "estimated": "estimated",
    "estimated_what": "{size}: the cost table's activation bytes (training), the decomposed path's",
    "ratio": "measured / estimated",
    "ratio_what": "{verdict}",
    "same": "the same",
    "differ": "they differ: both shown",
    "no_estimate": "n/a (the estimate is 0)",
}


def training_sections(report: Report) -> list[Section]:
    """inspect --train: every grad's shape; what dropout changed; the bytes saved for backward (none without --train)."""
    training = report.training
    if training is None:
        return []
    return [gradients_section(training), dropout_section(report, training), saved_bytes_section(training)]


def gradients_section(training: Training) -> Section:
    t = _TRAINING
    rows = [[g.name, shape_text(g.shape), str(g.requires_grad),
             t["no_grad"] if g.grad_shape is None else shape_text(g.grad_shape), mark(g.held)]
            for g in training.gradients]
    return Section(t["gradients"].format(loss=training.loss), list(t["gradient_columns"]), rows, code={0, 1, 3},
                   lines=[training.grad_note], name="training")


def dropout_section(report: Report, training: Training) -> Section:
    t = _TRAINING
    rows = []
    for d in training.dropout:
        where = t["top"].format(layer=d.layer) if d.direction is None else f"{d.layer} {d.direction}"
        if report.spec.is_cell:
            where = "cell"
        if d.changed is None:
            seen = t["not_compared"]
        else:
            seen = t["changed"].format(differing=d.differing, numel=d.numel) if d.changed else t["untouched"]
        expected = t["predicted_changed"] if d.predicted else t["untouched"]
        rows.append([d.label, where, seen, f"{mark(d.held)} {expected}"])
    title = t["cell_modes"] if report.spec.is_cell else t["dropout"].format(p=report.spec.dropout)
    return Section(title, list(t["dropout_columns"]), rows, code={0},
                   lines=[training.dropout_note], name="training")


def saved_bytes_section(training: Training) -> Section:
    t, saved = _TRAINING, training.saved
    ratio = saved.ratio
    verdict = t["same"] if saved.measured == saved.estimated else t["differ"]
    rows = [
        [t["measured"], f"{saved.measured:,}", t["measured_what"].format(size=format_bytes(saved.measured),
                                                                          storages=saved.storages, path=saved.path_name)],
        [t["estimated"], f"{saved.estimated:,}", t["estimated_what"].format(size=format_bytes(saved.estimated))],
        [t["ratio"], t["no_estimate"] if ratio is None else f"{ratio:.3g}", t["ratio_what"].format(verdict=verdict)],
    ]
    return Section(t["saved"], list(t["saved_columns"]), rows, numeric={1}, prose={2}, lines=list(training.saved_notes),
                   name="training")


def notes_section(report: Report) -> Section:
    failed = report.failed_checks
    counted = len(report.checks)
    skipped = sum(c.ok is None for c in report.checks)
    if not report.ran:
        summary = f"{SKIPPED} nothing checked: --no-run answers from the formulas alone"
    elif failed:
        summary = f"{FAILED} {len(failed)} of {counted} checks failed"
    else:
        summary = f"{HELD} all {counted - skipped} checks held" + (f", {skipped} not checkable here" if skipped else "")
    lines = [summary] + [f"{FAILED} {c.name}: predicted {c.predicted}, torch gave {c.observed}" for c in failed]
    lines += [f"note: {n}" for n in report.notes]
    return Section("checks and notes", [], [], lines=lines, name="checks")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
