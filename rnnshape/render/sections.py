"""The report laid out as titled tables of text, shared by the table and markdown formats.

Deciding here what each section says keeps the two formats from drifting apart:
they differ only in how a table is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnnshape import cost, theory
from rnnshape.language import fill, join, tr
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
    failed_lines: set[int] = field(default_factory=set)  # indexes of `lines` that report a failure (drawn red)


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
        nonlinearity = tr("sigmoid gates, tanh candidate (fixed)")
    D = spec.num_directions
    rows = [] if report.ran else [[tr("answer"), tr("predicted from the formulas (--no-run): nothing was run or observed")]]
    rows += [["nonlinearity", nonlinearity]]
    if spec.is_cell:
        rows += [
            [tr("step"), tr("one time step: you write the loop over t, feeding h_1 back as h_0")],
            [tr("layout"), tr("unbatched (H_in)") if spec.unbatched else tr("batched (N, H_in)")],
        ]
    else:
        layout = tr("unbatched") if spec.unbatched else ("batch_first" if spec.batch_first else "seq-first")
        if spec.packed:
            layout = tr("{layout}, packed: lengths {lengths}", layout=layout, lengths=",".join(map(str, spec.lengths or ())))
        rows += [
            ["dropout", tr("{p:g} (between layers, training only)", p=spec.dropout) if spec.dropout else f"{spec.dropout:g}"],
            ["D", tr("{D} (bidirectional)", D=D) if D == 2 else tr("{D} (unidirectional)", D=D)],
            [tr("layout"), layout],
        ]
    rows += [
        ["device", report.observation.device],
        ["dtype", spec.dtype],
        ["seed", str(spec.seed)],
    ]
    # What the module's repr (the tensors' title) hides.
    return Section(tr("settings"), [tr("setting"), tr("value")], rows, prose={1}, name="settings")


def tensors_section(report: Report) -> Section:
    observed = report.observation.tensors
    rows = []
    unavailable = report.observation.unavailable
    for t in report.tensors:
        seen = observed.get(t.name)
        check = HELD if seen == t.shape else tr("{mark} predicted {shape}", mark=FAILED, shape=shape_text(t.shape))
        if not report.ran:
            check = tr("{mark} not run", mark=SKIPPED)
        shown = shape_text(seen)
        if unavailable.get(t.name) == NOT_GIVEN:  # a real call that left h_0 out
            # torch started from zeros
            shown, check = tr("not given"), tr("{mark} zeros {shape}", mark=SKIPPED, shape=shape_text(t.shape))
        elif t.name in unavailable:
            shown, check = tr("unavailable"), tr("{mark} predicted {shape}", mark=SKIPPED, shape=shape_text(t.shape))
        rows.append([t.name, shown, "(" + ", ".join(t.dims) + ")", t.meaning, check])
    columns = [tr("tensor"), tr("shape"), tr("dims"), tr("meaning"), tr("predicted")]
    return Section(tr("tensors"), columns, rows, code={0, 1, 2}, prose={3},
                   optional=(3, 2), name="tensors")


def packing_section(report: Report) -> Section:
    """pack_padded_sequence's bookkeeping: which sequences are still running at each step."""
    spec, packing = report.spec, report.observation.packing or {}
    unavailable = report.observation.unavailable
    sorted_indices = packing.get("sorted_indices")
    if "sorted_indices" in unavailable:
        order = tr("unavailable: {why}", why=unavailable["sorted_indices"])
    elif sorted_indices is None:
        order = tr("None: --enforce-sorted, the batch is already longest first")
    else:
        order = tr("{indices}: the batch reordered longest first; h_n comes back in the original order",
                   indices=sorted_indices)
    rows = [
        ["lengths", tr("{lengths}: sum(lengths) = {total} real steps", lengths=list(spec.lengths or ()),
                       total=sum(spec.lengths or ()))],
        ["batch_sizes", tr("{batch_sizes}: sequences still running at t = 0, 1, ...", batch_sizes=packing.get("batch_sizes"))],
        ["sorted_indices", order],
    ]
    return Section(tr("packing: pack_padded_sequence(input, lengths)"), ["", ""], rows, code={1}, prose={1}, name="packing")


def h_n_rows_section(report: Report) -> Section:
    last = "lengths[i] - 1" if report.spec.packed else report.spec.seq_len - 1
    rows = [
        [str(r.row), str(r.layer), r.direction, f"t = {last if r.direction == 'forward' else 0}"]
        for r in report.h_n_rows
    ]
    columns = [tr("row"), tr("layer"), tr("direction"), tr("last step it saw")]
    if report.spec.lstm:
        title = tr("h_n and c_n rows: row = layer * D + direction")
    else:
        title = tr("h_n rows: row = layer * D + direction")
    return Section(title, columns, rows, numeric={0, 1}, name="h_n_rows")


def relations_section(report: Report) -> Section:
    held = report.observation.relations
    rows = [[r.text, r.why, mark(held.get(r.name))] for r in report.relations]
    output = "padded_output" if report.spec.packed else "output"
    if report.ran:
        title = tr("{output} and h_n, checked on the real tensors", output=output)
    else:
        title = tr("{output} and h_n (not checked: --no-run)", output=output)
    return Section(title, [tr("identity"), tr("why"), tr("held")], rows, code={0}, prose={1}, optional=(1,), name="relations")


def parameters_section(report: Report) -> Section:
    if report.observation.weights_from is not None:  # a live module's or a checkpoint's values: not a draw
        if report.observation.weights_from == "module":
            return given_parameters_section(report, tr("parameters, the module's own"))
        return given_parameters_section(report, tr("parameters, as saved"))
    H = report.spec.hidden_size
    rows = []
    for p in report.observation.parameters:
        predicted = report.predicted_parameter(p.name)
        gates = "|".join(predicted.gates) if predicted else ""
        if predicted and predicted.kind == "weight_hr":
            gates = "proj"
        shape = shape_text(p.shape)
        if predicted is None or predicted.shape != p.shape:
            shape = join(" ", [shape, tr("{mark} predicted {shape}", mark=FAILED,
                                         shape=shape_text(predicted.shape if predicted else None))])
        where = f"{predicted.layer} {predicted.direction}" if predicted else "?"
        if report.spec.is_cell:
            where = tr("cell")  # one step of one layer in one direction: no _l0 suffix
        rows.append([p.name, where, shape, str(math.prod(p.shape)), gates, _number(p.min), _number(p.max), mark(p.within_bound)])
    bound = theory.init_bound(report.spec)  # one formula, in theory.py
    if report.spec.base_mode == "rnn":
        title = tr("parameters, drawn from U(-{bound:.4f}, {bound:.4f}): bound = 1/sqrt(hidden_size) = 1/sqrt({H})",
                   bound=bound, H=H)
    else:
        title = tr("parameters, drawn from U(-{bound:.4f}, {bound:.4f}): bound = 1/sqrt(hidden_size) = 1/sqrt({H}); "
                   "each gate is a block of {H} rows", bound=bound, H=H)
    columns = [tr("parameter"), tr("layer dir"), tr("shape"), "numel", tr("gates"), tr("min"), tr("max"), tr("in bound")]
    return Section(title, columns, rows, numeric={3, 5, 6}, code={0, 2}, optional=(3, 4, 1), name="parameters")


def given_parameters_section(report: Report, heading: str) -> Section:
    """Weights that were given, not drawn: their statistics, and whether they still look like PyTorch's init."""
    rows = []
    for p in report.observation.parameters:
        predicted = report.predicted_parameter(p.name)
        where = tr("cell") if report.spec.is_cell else (f"{predicted.layer} {predicted.direction}" if predicted else "?")
        stats = [_number(p.min), _number(p.max), _number(p.mean), _number(p.std)]
        within = mark(p.within_bound) if report.ran else SKIPPED
        if p.non_finite:
            within = f"{FAILED} {p.non_finite} NaN/inf"
        rows.append([p.name, where, shape_text(p.shape), str(math.prod(p.shape)), *stats, within])
    bound = theory.init_bound(report.spec)
    title = tr("{heading}; PyTorch's init draws U(-{bound:.4f}, {bound:.4f}), 1/sqrt(hidden_size) = 1/sqrt({H})",
               heading=heading, bound=bound, H=report.spec.hidden_size)
    columns = [tr("parameter"), tr("layer dir"), tr("shape"), "numel", tr("min"), tr("max"), tr("mean"), tr("std"),
               tr("in bound")]
    return Section(title, columns, rows, numeric={3, 4, 5, 6, 7}, code={0, 2}, lines=[report.init_hint],
                   optional=(3, 6, 7, 1), name="parameters")


def totals_section(report: Report) -> Section:
    symbols, substituted = report.count_formula
    size = report.parameter_bytes
    total = report.observed_total
    check = HELD if total == report.predicted_total else tr("{mark} formula gives {total}", mark=FAILED,
                                                             total=report.predicted_total)
    if not report.ran:
        check = tr("(formula; not run)")
    rows = [
        [tr("parameters"), join(" ", [str(total), check])],
        [tr("formula"), symbols],
        ["", substituted],
        [tr("bytes"), tr("{size} ({readable}) in {dtype}", size=size, readable=format_bytes(size), dtype=report.spec.dtype)],
    ]
    return Section(tr("totals"), ["", ""], rows, code={1}, prose={1}, name="totals")


def cost_section(report: Report) -> Section:
    """One forward's work and memory, each with its formula; what is counted is in the JSON and docs/costs.md."""
    items = cost.costs(report.spec)
    rows = [[item.name, f"{item.value:,}", item.unit, item.formula] for item in items]
    lines = []
    note = cost.fused_kernel_note(report.spec)
    if note:
        lines.append(tr("note: {note}", note=note))
    return Section(tr("cost of one forward: {macs:,} MACs", macs=cost.macs_of(items)), ["", tr("count"), tr("unit"), tr("formula")], rows,
                   numeric={1}, code={3}, lines=lines, prose={3}, optional=(2,), name="cost")


# inspect --train's words, together (to be translated together).
_TRAINING = {
    "gradients": tr("training: one forward and backward in train mode, loss = {loss}"),
    "gradient_columns": [tr("tensor"), tr("shape"), "requires_grad", tr("grad shape"), tr("same shape")],
    "no_grad": tr("none"),
    "dropout": tr("dropout p = {p:g}: train mode against eval mode, the same weights and inputs, bit for bit"),
    "cell_modes": tr("train mode against eval mode (a cell has no dropout), the same weights and inputs, bit for bit"),
    "dropout_columns": [tr("tensor"), tr("layer dir"), tr("train vs eval"), tr("predicted")],
    "top": tr("{layer} (top)"),
    "changed": tr("changed: {differing} of {numel} elements"),
    "untouched": tr("untouched"),
    "predicted_changed": tr("changed"),
    "not_compared": tr("not compared"),
    "saved": tr("bytes autograd saved for backward in the layer's forward (parameters excluded, each storage once)"),
    "saved_columns": ["", tr("bytes"), tr("what")],
    "measured": tr("measured"),
    "measured_what": tr("{size} in {storages} storages, saved_tensors_hooks on this run; torch's path: {path}"),
    "estimated": tr("estimated"),
    "estimated_what": tr("{size}: the cost table's activation bytes (training), the decomposed path's"),
    "ratio": tr("measured / estimated"),
    "same": tr("the same"),
    "differ": tr("they differ: both shown"),
    "no_estimate": tr("n/a (the estimate is 0)"),
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
    return Section(fill(t["gradients"], loss=training.loss), list(t["gradient_columns"]), rows, code={0, 1, 3},
                   lines=[training.grad_note], name="training")


def dropout_section(report: Report, training: Training) -> Section:
    t = _TRAINING
    rows = []
    for d in training.dropout:
        where = fill(t["top"], layer=d.layer) if d.direction is None else f"{d.layer} {d.direction}"
        if report.spec.is_cell:
            where = tr("cell")
        if d.changed is None:
            seen = t["not_compared"]
        else:
            seen = fill(t["changed"], differing=d.differing, numel=d.numel) if d.changed else t["untouched"]
        expected = t["predicted_changed"] if d.predicted else t["untouched"]
        rows.append([d.label, where, seen, join(" ", [mark(d.held), expected])])
    title = t["cell_modes"] if report.spec.is_cell else fill(t["dropout"], p=report.spec.dropout)
    return Section(title, list(t["dropout_columns"]), rows, code={0},
                   lines=[training.dropout_note], name="training")


def saved_bytes_section(training: Training) -> Section:
    t, saved = _TRAINING, training.saved
    ratio = saved.ratio
    verdict = t["same"] if saved.measured == saved.estimated else t["differ"]
    rows = [
        [t["measured"], f"{saved.measured:,}", fill(t["measured_what"], size=format_bytes(saved.measured),
                                                     storages=saved.storages, path=saved.path_name)],
        [t["estimated"], f"{saved.estimated:,}", fill(t["estimated_what"], size=format_bytes(saved.estimated))],
        [t["ratio"], t["no_estimate"] if ratio is None else f"{ratio:.3g}", verdict],
    ]
    return Section(t["saved"], list(t["saved_columns"]), rows, numeric={1}, prose={2}, lines=list(training.saved_notes),
                   name="training")


def notes_section(report: Report) -> Section:
    failed = report.failed_checks
    counted = len(report.checks)
    skipped = sum(c.ok is None for c in report.checks)
    if not report.ran:
        summary = tr("{mark} nothing checked: --no-run answers from the formulas alone", mark=SKIPPED)
    elif failed:
        summary = tr("{mark} {failed} of {counted} checks failed", mark=FAILED, failed=len(failed), counted=counted)
    elif skipped:
        summary = tr("{mark} all {held} checks held, {skipped} not checkable here", mark=HELD, held=counted - skipped,
                     skipped=skipped)
    else:
        summary = tr("{mark} all {held} checks held", mark=HELD, held=counted)
    lines = [summary] + [failed_line(c) for c in failed]
    lines += [note_line(n) for n in report.notes]
    return Section(tr("checks and notes"), [], [], lines=lines, name="checks")


def failed_line(check, where: str | None = None) -> str:
    """A failed check as the lines under a table say it (`where`: the call it belongs to, in a model)."""
    if where is None:
        return tr("{mark} {name}: predicted {predicted}, torch gave {observed}", mark=FAILED, name=check.name,
                  predicted=check.predicted, observed=check.observed)
    return tr("{mark} {where}: {name}: predicted {predicted}, torch gave {observed}", mark=FAILED, where=where,
              name=check.name, predicted=check.predicted, observed=check.observed)


def note_line(note: str) -> str:
    return tr("note: {note}", note=note)


def _number(value: float | None) -> str:
    return tr("n/a") if value is None else f"{value:.4f}"
