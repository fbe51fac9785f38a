"""A whole model's Summary, a check, and a refusal explained, laid out as titled tables.

Each recurrent call reuses inspect's own sections (tensors, packing, h_n rows,
relations) on its Report; only what is new is drawn here: the module tree, the
groups of calls, and what torch refused and why.
"""

from __future__ import annotations

from rnnshape import theory
from rnnshape.model.check import CheckReport
from rnnshape.model.diagnose import Explanation
from rnnshape.model.hooks import Group
from rnnshape.model.summary import NOT_CALLED, Summary
from rnnshape.render.sections import FAILED, HELD, Section, shape_sections


def summary_sections(summary: Summary) -> list[Section]:
    parts = [modules_section(summary)]
    for group in summary.groups:
        parts += group_sections(group)
    parts.append(totals_section(summary))
    if summary.error is not None:
        parts += explanation_sections(summary.error)
    parts.append(summary_notes_section(summary))
    return parts


def modules_section(summary: Summary) -> Section:
    rows = []
    for row in summary.rows:
        name = row.path or summary.model  # the whole path: a tree that reads the same in every format
        shown = [text + (f" ×{count}" if count > 1 else "") for text, count in row.outputs.shown.items()] or [NOT_CALLED]
        rows.append([name, row.type, "; ".join(shown), f"{row.parameters:,}"])
    title = f"summary: {summary.model}, every module in tree order with what each call returned"
    return Section(title, ["module", "type", "output", "parameters"], rows, numeric={3}, code={2}, prose={2}, optional=(1,),
                   name="modules")


def _called(group: Group) -> str:
    return "called once" if group.calls == 1 else f"called {group.calls} times with these shapes"


def group_sections(group: Group) -> list[Section]:
    title = f"{group.where or 'the model'}: {group.module}, {_called(group)}"
    if group.report is None:
        return [Section(title, [], [], lines=[f"{FAILED} {group.problem}"], name="recurrent")]
    first, *rest = shape_sections(group.report)
    first.title = f"{title}: tensors"
    return [first, *rest]


def totals_section(summary: Summary) -> Section:
    rows = [
        ["parameters", f"{summary.total_parameters:,}", "every parameter of the model, each once"],
        ["trainable", f"{summary.trainable_parameters:,}", "requires_grad"],
        ["recurrent", f"{summary.recurrent_parameters:,}", "in nn.RNN, nn.LSTM, nn.GRU and their cells"],
        ["recurrent MACs", f"{summary.recurrent_macs:,}", "every recurrent call on the shapes it got (inspect's cost)"],
    ]
    return Section("totals", ["", "count", "what"], rows, numeric={1}, prose={2}, optional=(2,), name="totals")


def summary_notes_section(summary: Summary) -> Section:
    if summary.error is not None:
        lines = [f"{FAILED} the forward raised: {summary.error.error_type} in {summary.error.place}"]
    elif summary.failed:
        lines = [f"{FAILED} checks failed for {', '.join(g.where or 'the model' for g in summary.failed)}"]
    else:
        calls = sum(g.calls for g in summary.groups)
        lines = [f"{HELD} every recurrent call's shapes are the ones the formulas give ({calls} call{'s' if calls != 1 else ''}"
                 f" in {len(summary.groups)} group{'s' if len(summary.groups) != 1 else ''})"]
    for group in summary.failed:
        lines += [f"{FAILED} {group.where}: {c.name}: predicted {c.predicted}, torch gave {c.observed}" for c in group.report.failed_checks]
    lines += [f"note: {n}" for n in summary.notes]
    return Section("checks and notes", [], [], lines=lines, name="checks")


def check_sections(report: CheckReport) -> list[Section]:
    if report.report is None:
        assert report.explanation is not None
        return explanation_sections(report.explanation)
    given = Section(f"check: {theory.constructor_text(report.spec)} takes these", ["tensor", "given"],
                    [[name, "not given" if facts is None else facts.text()] for name, facts in report.given.items()
                     if facts is not None or name == "h_0" or (name == "c_0" and report.spec.lstm)], code={1}, prose={1},
                    name="given")
    verdict = Section("result", [], [], name="result", lines=[f"{HELD} torch accepted these shapes; the shapes above are what it produced"]
                      + [f"{FAILED} {c.name}: predicted {c.predicted}, torch gave {c.observed}" for c in report.report.failed_checks])
    return [given, *shape_sections(report.report), verdict]


def explanation_sections(explanation: Explanation) -> list[Section]:
    title = f"{FAILED} {explanation.place} refused what it was given"
    if explanation.expected:
        expected = {name: (shape, dims) for name, shape, dims in explanation.expected}
        rows = [[name, facts, expected.get(name, (None, ""))[0] or "", expected.get(name, (None, ""))[1]] for name, facts in explanation.given]
        table = Section(title, ["tensor", "given", "expected", "dims"], rows, code={1, 2, 3}, prose={1}, optional=(3,),
                        name="refused")
    else:  # a module rnnshape has no formulas for: what it got, and torch's word
        table = Section(title, ["argument", "given"], [list(pair) for pair in explanation.given], code={1}, prose={1},
                        name="refused")
    lines = [f"torch said: {explanation.error_type}: {explanation.message}"]
    lines += [f"differs: {d}" for d in explanation.differences]
    for _, says, fix in explanation.causes:
        lines += [f"likely cause: {says}", f"fix: {fix}"]
    if not explanation.causes:
        lines.append(f"cause: {explanation.no_cause}")
    return [table, Section("why", [], [], lines=lines, name="why")]
