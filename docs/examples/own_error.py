"""A shape error explained: torch's exception goes on unchanged, with rnnshape's explanation added as a note."""

import sys
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # a CPU wheel without NumPy says so
sys.path.insert(0, "docs/examples")  # models.py, beside this file (the examples run from the repository root)

import torch

from models import Broken
from rnnshape import watch

torch.manual_seed(0)
model = Broken()  # its state comes from init_hidden(32), made once
batches = torch.randint(0, 100, (72, 12)).split(32)  # 72 sentences: batches of 32, 32, then 8

try:
    with watch(model):
        for tokens in batches:
            model(tokens)
except RuntimeError as exc:
    print(f"{type(exc).__name__}: {exc}")  # torch's own exception and message
    for note in exc.__notes__:  # what a traceback prints under it
        print(note)
    explanation = exc.rnnshape_explanation  # the same, as data
    print("the fix, as code:", explanation.causes[0][2])
