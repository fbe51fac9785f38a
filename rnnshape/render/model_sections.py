"""A whole model's Summary, a check, and a refusal explained, laid out as titled tables.

Each recurrent call reuses inspect's own sections (tensors, packing, h_n rows,
relations) on its Report; only what is new is drawn here: the module tree, the
groups of calls, and what torch refused and why.
"""

from __future__ import annotations

from rnnshape import theory
from rnnshape.language import join, tr
from rnnshape.model.check import CheckReport
from rnnshape.model.diagnose import Explanation
from rnnshape.model.hooks import Group
from rnnshape.model.summary import NOT_CALLED, Summary
from rnnshape.render.sections import (
    FAILED,
    HELD,
    Section,
    failed_line,
    note_line,
    shape_sections,
)


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
        shown = [tr("{text} ×{count}", text=text, count=count) if count > 1 else text
                 for text, count in row.outputs.shown.items()] or [NOT_CALLED]
        rows.append([name, row.type, join("; ", shown), f"{row.parameters:,}"])
    title = tr("summary: {model}, every module in tree order with what each call returned", model=summary.model)
    return Section(title, [tr("module"), tr("type"), tr("output"), tr("parameters")], rows, numeric={3}, code={2}, prose={2}, optional=(1,),
                   name="modules")


def _called(group: Group) -> str:
    return tr("called once") if group.calls == 1 else tr("called {count} times with these shapes", count=group.calls)


def _where(group: Group) -> str:
    return group.where or tr("the model")


def group_sections(group: Group) -> list[Section]:
    title = tr("{where}: {module}, {called}", where=_where(group), module=group.module, called=_called(group))
    if group.report is None:
        return [Section(title, [], [], lines=[join(" ", [FAILED, group.problem])], name="recurrent")]
    first, *rest = shape_sections(group.report)
    first.title = tr("{title}: tensors", title=title)
    return [first, *rest]


def totals_section(summary: Summary) -> Section:
    rows = [
        [tr("parameters"), f"{summary.total_parameters:,}", tr("every parameter of the model, each once")],
        [tr("trainable"), f"{summary.trainable_parameters:,}", "requires_grad"],
        [tr("recurrent"), f"{summary.recurrent_parameters:,}", tr("in nn.RNN, nn.LSTM, nn.GRU and their cells")],
        [tr("recurrent MACs"), f"{summary.recurrent_macs:,}", tr("every recurrent call on the shapes it got (inspect's cost)")],
    ]
    return Section(tr("totals"), ["", tr("count"), tr("what")], rows, numeric={1}, prose={2}, optional=(2,), name="totals")


def summary_notes_section(summary: Summary) -> Section:
    if summary.error is not None:
        lines = [tr("{mark} the forward raised: {error} in {place}", mark=FAILED, error=summary.error.error_type,
                    place=summary.error.place)]
    elif summary.failed:
        lines = [tr("{mark} checks failed for {where}", mark=FAILED, where=join(", ", [_where(g) for g in summary.failed]))]
    else:
        calls, groups = sum(g.calls for g in summary.groups), len(summary.groups)
        lines = [tr("{mark} every recurrent call's shapes are the ones the formulas give ({calls} in {groups})", mark=HELD,
                    calls=tr("{count} call", count=calls) if calls == 1 else tr("{count} calls", count=calls),
                    groups=tr("{count} group", count=groups) if groups == 1 else tr("{count} groups", count=groups))]
    for group in summary.failed:
        lines += [failed_line(c, where=group.where) for c in group.report.failed_checks]
    lines += [note_line(n) for n in summary.notes]
    return Section(tr("checks and notes"), [], [], lines=lines, name="checks")


def check_sections(report: CheckReport) -> list[Section]:
    if report.report is None:
        assert report.explanation is not None
        return explanation_sections(report.explanation)
    given = Section(tr("check: {constructor} takes these", constructor=theory.constructor_text(report.spec)),
                    [tr("tensor"), tr("given")],
                    [[name, tr("not given") if facts is None else facts.text()] for name, facts in report.given.items()
                     if facts is not None or name == "h_0" or (name == "c_0" and report.spec.lstm)], code={1}, prose={1},
                    name="given")
    verdict = Section(tr("result"), [], [], name="result",
                      lines=[tr("{mark} torch accepted these shapes; the shapes above are what it produced", mark=HELD)]
                      + [failed_line(c) for c in report.report.failed_checks])
    return [given, *shape_sections(report.report), verdict]


def explanation_sections(explanation: Explanation) -> list[Section]:
    title = tr("{mark} {place} refused what it was given", mark=FAILED, place=explanation.place)
    if explanation.expected:
        expected = {name: (shape, dims) for name, shape, dims in explanation.expected}
        rows = [[name, facts, expected.get(name, (None, ""))[0] or "", expected.get(name, (None, ""))[1]] for name, facts in explanation.given]
        table = Section(title, [tr("tensor"), tr("given"), tr("expected"), tr("dims")], rows, code={1, 2, 3}, prose={1}, optional=(3,),
                        name="refused")
    else:  # a module rnnshape has no formulas for: what it got, and torch's word
        table = Section(title, [tr("argument"), tr("given")], [list(pair) for pair in explanation.given], code={1}, prose={1},
                        name="refused")
    lines = [tr("torch said: {kind}: {message}", kind=explanation.error_type, message=explanation.message)]
    lines += [tr("differs: {difference}", difference=d) for d in explanation.differences]
    for _, says, fix in explanation.causes:
        lines += [tr("likely cause: {cause}", cause=says), tr("fix: {fix}", fix=fix)]
    if not explanation.causes:
        lines.append(tr("cause: {cause}", cause=explanation.no_cause))
    return [table, Section(tr("why"), [], [], lines=lines, name="why")]
