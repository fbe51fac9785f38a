"""rnnshape: what PyTorch's recurrent layers really take, produce and hold.

    from rnnshape import RNNSpec, inspect
    report = inspect(RNNSpec(mode="lstm", hidden_size=20, num_layers=2, proj_size=5))
    report.to_dict()

Importing rnnshape does not import torch; inspect() does, when it runs.
The names below are loaded on first use (PEP 562), so `rnnshape --version`
and `--help` do not pay for modules they never touch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RNNSpec", "inspect", "Report", "SpecError", "EnvironmentProblem", "ExitStatus", "__version__"]

_HOME = {
    "RNNSpec": "rnnshape.spec",
    "inspect": "rnnshape.core",
    "Report": "rnnshape.report",
    "SpecError": "rnnshape.errors",
    "EnvironmentProblem": "rnnshape.errors",
    "ExitStatus": "rnnshape.errors",
}

if TYPE_CHECKING:
    from rnnshape.core import inspect
    from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
    from rnnshape.report import Report
    from rnnshape.spec import RNNSpec


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnnshape' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
