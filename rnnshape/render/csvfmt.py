"""The spreadsheet format: each report's main table, one row per record, with a header."""

from __future__ import annotations

import csv
import io
from typing import Any

from rnnshape.render.text import visible
from rnnshape.report import Report

COLUMNS = [
    "name", "layer", "direction", "shape", "numel", "gates",
    "init_bound", "observed_min", "observed_max", "within_bound",
    "bytes", "macs", "adds",  # per forward: what this parameter takes part in (rnnshape.cost)
    "observed",  # false under --no-run: the row is the formulas' alone
]
# inspect --train adds each parameter's grad after the backward (training.py); without it the columns stay as they were.
TRAINING_COLUMNS = ["requires_grad", "grad_shape"]


# checkpoint: one row per saved parameter, every layer's, keyed as in the file.
CHECKPOINT_COLUMNS = ["layer", "key", "mode", "shape", "numel", "init_bound", "min", "max", "mean", "std", "within_bound", "non_finite"]


# summary: one row per module, in tree order; check: one row per tensor given or produced.
SUMMARY_COLUMNS = ["path", "type", "depth", "parameters", "calls", "outputs"]
CHECK_COLUMNS = ["tensor", "given", "shape", "dtype", "device", "predicted_shape"]


def render(report: Any) -> str:
    """One table per kind: inspect's parameters; verify's comparisons; checkpoint's saved parameters;
    summary's modules; check's tensors; a sweep's rows."""
    kind = type(report).__name__
    if kind == "Report":
        return _parameters(report)
    if kind in ("Sweep", "Row"):
        from rnnshape.render.rows import csv_text

        return csv_text(report.rows if kind == "Sweep" else [report])
    data = report.to_dict()
    records = {
        "VerifyReport": lambda: data["comparisons"],
        "CheckpointReport": lambda: _checkpoint_records(data),
        "Summary": lambda: [_module_record(row) for row in data["modules"]],
        "CheckReport": lambda: _check_records(data),
    }[kind]()
    columns = {"CheckpointReport": CHECKPOINT_COLUMNS, "Summary": SUMMARY_COLUMNS, "CheckReport": CHECK_COLUMNS}.get(kind)
    return _rows(records, columns)


def _parameters(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    data = report.to_dict()
    grads = {g["name"]: g for g in data["training"]["gradients"]} if data["training"] else None
    writer.writerow(COLUMNS + (TRAINING_COLUMNS if grads is not None else []))
    for p in data["parameters"]:
        trained = [] if grads is None else _grad_cells(grads.get(p["name"]))
        writer.writerow(visible_row(
            [
                p["name"], p["layer"], p["direction"],
                "x".join(str(s) for s in p["shape"]),  # 80x10: one cell, no quoting needed
                p["numel"], "|".join(p["gates"]), repr(p["init_bound"]),
                _cell(p["observed_min"]), _cell(p["observed_max"]), _cell(p["within_bound"]),
                p["bytes"], _cell(p["macs"]), _cell(p["adds"]), _cell(report.ran), *trained,
            ]
        ))
    return buffer.getvalue()


def _grad_cells(grad: dict | None) -> list:
    if grad is None:
        return ["", ""]
    return [_cell(grad["requires_grad"]), "" if grad["grad_shape"] is None else "x".join(map(str, grad["grad_shape"]))]


def _module_record(row: dict) -> dict:
    outputs = "; ".join(o["text"] + (f" x{o['calls']}" if o["calls"] > 1 else "") for o in row["outputs"])
    return {**{k: row[k] for k in SUMMARY_COLUMNS[:-1]}, "outputs": outputs}


def _check_records(data: dict) -> list[dict]:
    """What was given, then (where torch took it) what it produced, each with the formulas' shape."""
    records = [{"tensor": name, "given": True, "shape": _shape(facts["shape"]), "dtype": facts["dtype"] if "dtype" in facts else None,
                "device": facts.get("device"), "predicted_shape": None}
               for name, facts in data["given"].items() if facts is not None and "shape" in facts]
    report = data["report"]
    if report is not None:
        predicted = {name: t["predicted_shape"] for name, t in report["tensors"].items()}
        for record in records:
            record["predicted_shape"] = _shape(predicted.get(record["tensor"]))
        given = {r["tensor"] for r in records}
        records += [{"tensor": name, "given": False, "shape": _shape(t["shape"]), "dtype": report["config"]["dtype"],
                     "device": report["config"]["device"], "predicted_shape": _shape(t["predicted_shape"])}
                    for name, t in report["tensors"].items() if name not in given and t["shape"] is not None]
    return records


def _shape(shape: list[int] | None) -> str | None:
    return None if shape is None else "x".join(map(str, shape))


def _checkpoint_records(data: dict) -> list[dict]:
    return [
        {"layer": layer["name"], "key": p["key"], "mode": layer["config"]["mode"], "shape": "x".join(map(str, p["shape"])),
         "numel": p["numel"], "init_bound": p["init_bound"], "min": p["observed_min"], "max": p["observed_max"],
         "mean": p["mean"], "std": p["std"], "within_bound": p["within_bound"], "non_finite": p["non_finite"]}
        for layer in data["layers"] for p in layer["parameters"]
    ]


def visible_row(values: list) -> list:
    """A CSV row with every string's control characters escaped: a NUL or an ESC from a file stays text."""
    return [visible(v) if isinstance(v, str) else v for v in values]


def _cell(value: object) -> str:
    if value is None:
        return ""  # unavailable (meta device): empty, never a made-up number
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)  # a float's every digit; an int as itself


def _rows(records: list[dict], columns: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or (list(records[0]) if records else []), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: visible(v) if isinstance(v, str) else v if isinstance(v, int) and not isinstance(v, bool) else _cell(v)
                      for k, v in r.items()} for r in records)
    return buffer.getvalue()
