"""rnnshape: what PyTorch's recurrent layers really take, produce and hold.

    from rnnshape import RNNSpec, inspect
    report = inspect(RNNSpec(mode="lstm", hidden_size=20, num_layers=2, proj_size=5))
    report.to_dict()

Importing rnnshape does not import torch; inspect() does, when it runs.
"""

from rnnshape.core import inspect
from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
from rnnshape.report import Report
from rnnshape.spec import RNNSpec

__version__ = "0.1.0"
__all__ = ["RNNSpec", "inspect", "Report", "SpecError", "EnvironmentProblem", "ExitStatus", "__version__"]
