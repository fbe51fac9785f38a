"""The spreadsheet format: the parameter table, one row per named parameter, with a header."""

from __future__ import annotations

import csv
import io

from rnnshape.report import Report

COLUMNS = [
    "name", "layer", "direction", "shape", "numel", "gates",
    "init_bound", "observed_min", "observed_max", "within_bound",
    "bytes", "macs", "adds",  # per forward: what this parameter takes part in (rnnshape.cost)
    "observed",  # false under --no-run: the row is the formulas' alone
]


# checkpoint: one row per saved parameter, every layer's, keyed as in the file.
CHECKPOINT_COLUMNS = ["layer", "key", "mode", "shape", "numel", "init_bound", "min", "max", "mean", "std", "within_bound", "non_finite"]


def render(report: Report) -> str:
    from rnnshape.checkpoint import CheckpointReport

    if isinstance(report, CheckpointReport):
        return _checkpoint(report.to_dict())
    if not isinstance(report, Report):  # verify: one row per (tensor, layer, direction)
        return _rows(report.to_dict()["comparisons"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in report.to_dict()["parameters"]:
        writer.writerow(
            [
                p["name"], p["layer"], p["direction"],
                "x".join(str(s) for s in p["shape"]),  # 80x10: one cell, no quoting needed
                p["numel"], "|".join(p["gates"]), repr(p["init_bound"]),
                _cell(p["observed_min"]), _cell(p["observed_max"]), _cell(p["within_bound"]),
                p["bytes"], _cell(p["macs"]), _cell(p["adds"]), _cell(report.ran),
            ]
        )
    return buffer.getvalue()


def _checkpoint(data: dict) -> str:
    records = [
        {"layer": layer["name"], "key": p["key"], "mode": layer["config"]["mode"], "shape": "x".join(map(str, p["shape"])),
         "numel": p["numel"], "init_bound": p["init_bound"], "min": p["observed_min"], "max": p["observed_max"],
         "mean": p["mean"], "std": p["std"], "within_bound": p["within_bound"], "non_finite": p["non_finite"]}
        for layer in data["layers"] for p in layer["parameters"]
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CHECKPOINT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: v if isinstance(v, str) else _cell(v) for k, v in r.items()} for r in records)
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""  # unavailable (meta device): empty, never a made-up number
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)  # a float's every digit; an int as itself


def _rows(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]) if records else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) if not isinstance(v, (str, int)) or isinstance(v, bool) else v for k, v in r.items()} for r in records)
    return buffer.getvalue()
