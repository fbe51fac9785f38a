"""`rnnshape verify`'s report laid out as titled tables, for the table and markdown formats."""

from __future__ import annotations

from rnnshape.language import fill, tr
from rnnshape.render.sections import FAILED, HELD, Section, note_line

# Every sentence of `verify --against`'s report, in one place (for translation).
AGAINST = {
    "title": tr("{function}() vs nn.{module}: atol={atol:g}, rtol={rtol:g} ({where})"),
    "arguments": tr("what {function}() was given"),
    "held": tr("{mark} {function}() gives what nn.{module} gives: largest error {error:.3g}"),
    "differ": tr("{mark} {function}() and nn.{module} differ{first}"),
    "raised": tr("{mark} {function}() raised {kind}{where}: {message}"),
    "at": tr(" at {where}"),
    "shape": tr("{mark} {tensor} has shape {shape}; nn.{module}'s is {expected}"),
    "diagnosis": tr("diagnosis, from {evidence}: {which}"),
    "one": tr("this known mistake fits"),
    "several": tr("each of these known mistakes fits"),
    "partly": tr("these known mistakes fit in part"),
    "mistake": tr("{mark} {title} ({name}): {detail}"),
    "explains": tr("{mistake} [explains {explains}; the rest does not fit it]"),
    "means": tr("  what it means: {means}"),
    "spot": tr("  how to spot it: {spot}"),
    "fix": tr("  fix: {fix}"),
    "no_guess": tr("diagnosis: no known mistake fits these numbers; the rows above say where they differ"),
    "how": tr("{function}() ran on copies of the module's own weights, the same input and {states}, without grad; "
              "torch's values are the truth: it holds where |torch - yours| <= atol + rtol * |torch|"),
    "and": tr("{one} and {other}"),
}
_EVIDENCE = {"numbers": tr("the numbers"), "probe": tr("a second call"), "exception": tr("the exception")}


def _where(report) -> str:
    """Whose tolerance: the dtype's default, or the one given."""
    return tr("default for {dtype}", dtype=report.dtype) if report.default_tolerance else tr("given")


def sections(report) -> list[Section]:  # report: rnnshape.verification.VerifyReport
    if report.against is not None:
        return _against_sections(report)
    spec = report.spec
    where = _where(report)
    # A cell is one step: there is no loop over t to compare, only the step's equations.
    if spec.is_cell:
        title = tr("nn.{module} vs one step of its equations: atol={atol:g}, rtol={rtol:g} ({where})",
                   module=spec.module_name, atol=report.atol, rtol=report.rtol, where=where)
    else:
        title = tr("nn.{module} vs the explicit loop: atol={atol:g}, rtol={rtol:g} ({where})",
                   module=spec.module_name, atol=report.atol, rtol=report.rtol, where=where)
    table = _comparisons(report, title)
    if report.ok:
        summary = tr("{mark} the equations give what nn.{module} gives: largest error {error:.3g}", mark=HELD,
                     module=spec.module_name, error=report.max_abs_error)
    else:
        summary = tr("{mark} nn.{module} and the equations differ{first}", mark=FAILED, module=spec.module_name,
                     first=_first(report))
    if spec.is_cell:
        how = tr("the step runs in float64 on the cell's own weights, the same input and h_0 (and c_0): h_1 (and c_1) compared")
    else:
        how = tr("the loop runs in float64 on the module's own weights, the same input and h_0 (and c_0), in eval mode")
    lines = [summary, note_line(how)] + [note_line(n) for n in report.notes]
    return [table, Section(tr("result"), [], [], lines=lines, name="result")]


def _comparisons(report, title: str) -> Section:
    rows = [
        [c.tensor, str(c.layer), c.direction, f"{c.max_abs_error:.3g}", f"{c.max_rel_error:.3g}", HELD if c.ok else FAILED]
        for c in report.comparisons
    ]
    columns = [tr("tensor"), tr("layer"), tr("direction"), tr("max abs error"), tr("max rel error"), tr("within")]
    return Section(title, columns, rows, numeric={1, 3, 4},
                   code={0}, optional=(4,), name="comparisons")


def _first(report) -> str:
    d = report.first_divergence
    if d is None:
        return ""
    return tr("; first at layer {layer}, {direction}, time step {t} ({tensor})", layer=d.layer, direction=d.direction,
              t=d.time_step, tensor=d.tensor)


def _against_sections(report) -> list[Section]:
    """Your function in the reference's place: what it was given, the comparisons, and the mistakes its numbers fit."""
    spec, against = report.spec, report.against
    names = {"function": against.function, "module": spec.module_name}
    where = _where(report)
    parts = []
    if report.comparisons:
        parts.append(_comparisons(report, fill(AGAINST["title"], **names, atol=report.atol, rtol=report.rtol, where=where)))
    given = [[p, g, "" if s is None else _shape(s)] for p, g, s in against.arguments]
    parts.append(Section(fill(AGAINST["arguments"], **names), [tr("parameter"), tr("given"), tr("shape")], given, code={0},
                         prose={1}, name="arguments"))
    lines = []
    if against.raised is not None:
        r = against.raised
        at = fill(AGAINST["at"], where=r.where) if r.where else ""
        lines.append(fill(AGAINST["raised"], mark=FAILED, **names, kind=r.kind, where=at, message=r.message))
    elif report.ok:
        lines.append(fill(AGAINST["held"], mark=HELD, **names, error=report.max_abs_error))
    else:
        lines.append(fill(AGAINST["differ"], mark=FAILED, **names, first=_first(report)))
    for m in against.shape_mismatches:
        lines.append(fill(AGAINST["shape"], mark=FAILED, tensor=m.tensor, shape=_shape(m.shape), module=spec.module_name,
                          expected=_shape(m.expected)))
    lines += _diagnosis_lines(report)
    states = tr("h_0 and c_0") if spec.lstm else "h_0"
    lines += [note_line(fill(AGAINST["how"], **names, states=states))] + [note_line(n) for n in report.notes]
    return parts + [Section(tr("result"), [], [], lines=lines, name="result")]


def _diagnosis_lines(report) -> list[str]:
    against = report.against
    if not against.diagnoses:
        return [] if report.ok or against.raised is not None else [AGAINST["no_guess"]]
    complete = [d for d in against.diagnoses if d.complete or d.evidence == "probe"]
    which = AGAINST["one"] if len(against.diagnoses) == 1 else AGAINST["several"] if complete else AGAINST["partly"]
    kinds = list(dict.fromkeys(d.evidence for d in against.diagnoses))
    evidence = _EVIDENCE[kinds[0]]
    for kind in kinds[1:]:
        evidence = fill(AGAINST["and"], one=evidence, other=_EVIDENCE[kind])
    lines = [fill(AGAINST["diagnosis"], evidence=evidence, which=which)]
    for d in against.diagnoses:
        line = fill(AGAINST["mistake"], mark=FAILED, title=d.title, name=d.name, detail=d.detail)
        if not d.complete and d.evidence == "numbers":
            line = fill(AGAINST["explains"], mistake=line, explains=", ".join(d.explains))
        lines += [line, fill(AGAINST["means"], means=d.means), fill(AGAINST["spot"], spot=d.spot),
                  fill(AGAINST["fix"], fix=d.fix)]
    return lines


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
