"""`rnnshape verify`'s report laid out as titled tables, for the table and markdown formats."""

from __future__ import annotations

from rnnshape.render.sections import FAILED, HELD, Section


def sections(report) -> list[Section]:  # report: rnnshape.verification.VerifyReport
    spec = report.spec
    where = "default for " + report.dtype if report.default_tolerance else "given"
    # A cell is one step: there is no loop over t to compare, only the step's equations.
    against = "one step of its equations" if spec.is_cell else "the explicit loop"
    title = f"nn.{spec.module_name} vs {against}: atol={report.atol:g}, rtol={report.rtol:g} ({where})"
    rows = [
        [c.tensor, str(c.layer), c.direction, f"{c.max_abs_error:.3g}", f"{c.max_rel_error:.3g}", HELD if c.ok else FAILED]
        for c in report.comparisons
    ]
    table = Section(title, ["tensor", "layer", "direction", "max abs error", "max rel error", "within"], rows, numeric={1, 3, 4},
                    code={0}, optional=(4,), name="comparisons")
    if report.ok:
        summary = f"{HELD} the equations give what nn.{spec.module_name} gives: largest error {report.max_abs_error:.3g}"
    else:
        d = report.first_divergence
        summary = f"{FAILED} nn.{spec.module_name} and the equations differ"
        if d is not None:
            summary += f"; first at layer {d.layer}, {d.direction}, time step {d.time_step} ({d.tensor})"
    if spec.is_cell:
        how = "the step runs in float64 on the cell's own weights, the same input and h_0 (and c_0): h_1 (and c_1) compared"
    else:
        how = "the loop runs in float64 on the module's own weights, the same input and h_0 (and c_0), in eval mode"
    lines = [summary, f"note: {how}"] + [f"note: {n}" for n in report.notes]
    return [table, Section("result", [], [], lines=lines, name="result")]
