"""`rnnshape verify`'s report laid out as titled tables, for the table and markdown formats."""

from __future__ import annotations

from rnnshape.render.sections import FAILED, HELD, Section

# Every sentence of `verify --against`'s report, in one place (for translation).
AGAINST = {
    "title": "{function}() vs nn.{module}: atol={atol:g}, rtol={rtol:g} ({where})",
    "arguments": "what {function}() was given",
    "held": "{function}() gives what nn.{module} gives: largest error {error:.3g}",
    "differ": "{function}() and nn.{module} differ",
    "raised": "{function}() raised {kind}{where}: {message}",
    "at": " at {where}",
    "shape": "{tensor} has shape {shape}; nn.{module}'s is {expected}",
    "diagnosis": "diagnosis, from {evidence}: {which}",
    "one": "this known mistake fits",
    "several": "each of these known mistakes fits",
    "partly": "these known mistakes fit in part",
    "mistake": "{title} ({name}): {detail}",
    "explains": " [explains {explains}; the rest does not fit it]",
    "means": "  what it means: {means}",
    "spot": "  how to spot it: {spot}",
    "fix": "  fix: {fix}",
    "no_guess": "diagnosis: no known mistake fits these numbers; the rows above say where they differ",
    "how": "{function}() ran on copies of the module's own weights, the same input and {states}, without grad; "
           "torch's values are the truth: it holds where |torch - yours| <= atol + rtol * |torch|",
}
_EVIDENCE = {"numbers": "the numbers", "probe": "a second call", "exception": "the exception"}


def sections(report) -> list[Section]:  # report: rnnshape.verification.VerifyReport
    if report.against is not None:
        return _against_sections(report)
    spec = report.spec
    where = "default for " + report.dtype if report.default_tolerance else "given"
    # A cell is one step: there is no loop over t to compare, only the step's equations.
    against = "one step of its equations" if spec.is_cell else "the explicit loop"
    title = f"nn.{spec.module_name} vs {against}: atol={report.atol:g}, rtol={report.rtol:g} ({where})"
    table = _comparisons(report, title)
    if report.ok:
        summary = f"{HELD} the equations give what nn.{spec.module_name} gives: largest error {report.max_abs_error:.3g}"
    else:
        summary = f"{FAILED} nn.{spec.module_name} and the equations differ" + _first(report)
    if spec.is_cell:
        how = "the step runs in float64 on the cell's own weights, the same input and h_0 (and c_0): h_1 (and c_1) compared"
    else:
        how = "the loop runs in float64 on the module's own weights, the same input and h_0 (and c_0), in eval mode"
    lines = [summary, f"note: {how}"] + [f"note: {n}" for n in report.notes]
    return [table, Section("result", [], [], lines=lines, name="result")]


def _comparisons(report, title: str) -> Section:
    rows = [
        [c.tensor, str(c.layer), c.direction, f"{c.max_abs_error:.3g}", f"{c.max_rel_error:.3g}", HELD if c.ok else FAILED]
        for c in report.comparisons
    ]
    return Section(title, ["tensor", "layer", "direction", "max abs error", "max rel error", "within"], rows, numeric={1, 3, 4},
                   code={0}, optional=(4,), name="comparisons")


def _first(report) -> str:
    d = report.first_divergence
    return "" if d is None else f"; first at layer {d.layer}, {d.direction}, time step {d.time_step} ({d.tensor})"


def _against_sections(report) -> list[Section]:
    """Your function in the reference's place: what it was given, the comparisons, and the mistakes its numbers fit."""
    spec, against = report.spec, report.against
    names = {"function": against.function, "module": spec.module_name}
    where = "default for " + report.dtype if report.default_tolerance else "given"
    parts = []
    if report.comparisons:
        parts.append(_comparisons(report, AGAINST["title"].format(**names, atol=report.atol, rtol=report.rtol, where=where)))
    given = [[p, g, "" if s is None else _shape(s)] for p, g, s in against.arguments]
    parts.append(Section(AGAINST["arguments"].format(**names), ["parameter", "given", "shape"], given, code={0},
                         prose={1}, name="arguments"))
    lines = []
    if against.raised is not None:
        r = against.raised
        at = AGAINST["at"].format(where=r.where) if r.where else ""
        lines.append(f"{FAILED} " + AGAINST["raised"].format(**names, kind=r.kind, where=at, message=r.message))
    elif report.ok:
        lines.append(f"{HELD} " + AGAINST["held"].format(**names, error=report.max_abs_error))
    else:
        lines.append(f"{FAILED} " + AGAINST["differ"].format(**names) + _first(report))
    for m in against.shape_mismatches:
        lines.append(f"{FAILED} " + AGAINST["shape"].format(tensor=m.tensor, shape=_shape(m.shape), module=spec.module_name,
                                                          expected=_shape(m.expected)))
    lines += _diagnosis_lines(report)
    states = "h_0 and c_0" if spec.lstm else "h_0"
    lines += ["note: " + AGAINST["how"].format(**names, states=states)] + [f"note: {n}" for n in report.notes]
    return parts + [Section("result", [], [], lines=lines, name="result")]


def _diagnosis_lines(report) -> list[str]:
    against = report.against
    if not against.diagnoses:
        return [] if report.ok or against.raised is not None else [AGAINST["no_guess"]]
    complete = [d for d in against.diagnoses if d.complete or d.evidence == "probe"]
    which = AGAINST["one"] if len(against.diagnoses) == 1 else AGAINST["several"] if complete else AGAINST["partly"]
    evidence = " and ".join(dict.fromkeys(_EVIDENCE[d.evidence] for d in against.diagnoses))
    lines = [AGAINST["diagnosis"].format(evidence=evidence, which=which)]
    for d in against.diagnoses:
        line = f"{FAILED} " + AGAINST["mistake"].format(title=d.title, name=d.name, detail=d.detail)
        if not d.complete and d.evidence == "numbers":
            line += AGAINST["explains"].format(explains=", ".join(d.explains))
        lines += [line, AGAINST["means"].format(means=d.means), AGAINST["spot"].format(spot=d.spot),
                  AGAINST["fix"].format(fix=d.fix)]
    return lines


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
