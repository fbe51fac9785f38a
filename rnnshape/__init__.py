"""rnnshape: what PyTorch's recurrent layers really take, produce and hold.

    from rnnshape import RNNSpec, inspect, verify, checkpoint, summary, watch
    report = inspect(RNNSpec(mode="lstm", hidden_size=20, num_layers=2, proj_size=5))
    report.to_dict()
    inspect(my_lstm, x)              # a live module, on real inputs
    summary(model, tokens)           # a whole model, every module and recurrent call

Importing rnnshape does not import torch; inspect() does, when it runs.
The names below are loaded on first use (PEP 562), so `rnnshape --version`
and `--help` do not pay for modules they never touch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RNNSpec", "inspect", "verify", "checkpoint", "summary", "watch", "Report", "Summary",
           "SpecError", "EnvironmentProblem", "ExitStatus", "__version__"]

# Where each public name lives. No submodule shares a public function's name: importing
# a submodule sets it as an attribute of the package, and would shadow the function.
_HOME = {
    "RNNSpec": "rnnshape.spec",
    "inspect": "rnnshape.core",
    "verify": "rnnshape.verification",
    "checkpoint": "rnnshape.checkpoint_report",
    "summary": "rnnshape.model.summary",
    "watch": "rnnshape.model.hooks",
    "Summary": "rnnshape.model.summary",
    "Report": "rnnshape.report",
    "SpecError": "rnnshape.errors",
    "EnvironmentProblem": "rnnshape.errors",
    "ExitStatus": "rnnshape.errors",
}

if TYPE_CHECKING:
    from rnnshape.checkpoint_report import checkpoint
    from rnnshape.core import inspect
    from rnnshape.model.hooks import watch
    from rnnshape.model.summary import Summary, summary
    from rnnshape.verification import verify
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
