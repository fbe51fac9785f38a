"""A sweep's rows: its one section for table, markdown and HTML (only the columns that
tell rows apart), csv (every column) and jsonl (one object a line; json is Sweep.to_dict())."""

from __future__ import annotations

import csv
import io
import json

from rnnshape import theory
from rnnshape.language import join, tr
from rnnshape.render.csvfmt import visible_row
from rnnshape.render.sections import FAILED, HELD, SKIPPED, Section
from rnnshape.spec import RNNSpec
from rnnshape.sweep import COST_KEYS, SHAPES, Row, Sweep


def jsonl(rows: list[Row]) -> str:
    return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rows)


def sweep_sections(sweep: Sweep) -> list[Section]:
    return [section(sweep.rows, sweep.varying)]


def row_sections(row: Row) -> list[Section]:
    return [section([row], [])]


def csv_columns() -> list[str]:
    return [*RNNSpec.field_names(), *SHAPES, "total_parameters", "macs", *COST_KEYS, "observed", "ok", "error"]


def csv_text(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_columns())
    for row in rows:
        record = row.to_dict()
        flat = {**record.pop("config"), **record}
        writer.writerow(visible_row([_cell(flat.get(name), shape=name in SHAPES) for name in csv_columns()]))
    return buffer.getvalue()


def _cell(value: object, *, shape: bool = False) -> str:
    if value is None:
        return ""  # not applicable (c_n of a GRU) or not answered: empty, never a made-up number
    if shape:
        return "x".join(str(s) for s in value)  # type: ignore[union-attr]  # 5x3x20: one cell, no quoting
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # lengths: written as the flag takes it
        return ",".join(map(str, value))
    return str(value)


def section(rows: list[Row], varying: list[str]) -> Section:
    """One table of the answered rows: the varying flags, what torch produced and what it costs.

    Refused rows follow as lines, each with its reason: a reason is a sentence,
    and a sentence squeezed into a table column is unreadable.
    """
    config_columns = varying or ["mode"]
    # Only the shapes some row has: c_n needs an lstm, h_1 a cell.
    shapes = [s for s in SHAPES if any(getattr(r, s) is not None for r in rows)] or ["output", "h_n"]
    columns = [COLUMN_LABELS.get(f, f) for f in config_columns] + list(shapes) + [tr("params"), "MACs", "ok"]
    table_rows, refused = [], []
    for r in rows:
        cells = [_config_cell(r.config.get(f)) for f in config_columns]
        if r.error:
            refused.append(tr("refused: {config}: {reason}", config=join(" ", cells), reason=r.error))
            continue
        cells += [_shape(getattr(r, s)) for s in shapes]
        cells += [f"{r.total_parameters:,}", f"{r.macs:,}"]
        cells.append({True: HELD, False: FAILED, None: SKIPPED}[r.ok])
        table_rows.append(cells)
    first = len(config_columns) + len(shapes)
    if refused:
        title = tr("sweep: {count} configurations, {answered} answered, {refused} refused (reasons below)",
                   count=len(rows), answered=len(table_rows), refused=len(refused))
    else:
        title = tr("sweep: {count} configurations, {answered} answered", count=len(rows), answered=len(table_rows))
    return Section(
        title, columns, table_rows,
        numeric={first, first + 1},
        code=set(range(len(config_columns), first)),
        optional=(first + 1, first),  # MACs, then params: the shapes are what a sweep is for
        lines=refused,
        name="sweep",
    )


# Column headers: the symbols of PyTorch's docs where they are short.
COLUMN_LABELS = {
    "input_size": "H_in", "hidden_size": "H", "num_layers": "layers", "bidirectional": "bidir",
    "proj_size": "proj", "seq_len": "L", "batch_size": "N", "nonlinearity": "nonlin",
}


def _shape(shape: list[int] | None) -> str:
    return "" if shape is None else theory.shape_text(shape)


def _config_cell(value: object) -> str:
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    if value is None:
        return "-"
    return _cell(value)
