"""The scripting format: Report.to_dict() as JSON, the same bytes for the same flags."""

from __future__ import annotations

import json

from rnnshape.report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
