"""Golden table output for three fixed configs, fixed width, no colour.

The files under tests/golden/ were read line by line against torch when they
were made; they change only on purpose:

    RNNSHAPE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and the diff is then reviewed like any other change.
"""

import os
from pathlib import Path

import pytest

from rnnshape import RNNSpec, inspect
from rnnshape.render import render

GOLDEN = Path(__file__).parent / "golden"
CONFIGS = {
    # The PyTorch docs' own example: nn.RNN(10, 20) fed (5, 3, 10).
    "rnn_default": RNNSpec(),
    # Everything an LSTM can add: stacking, both directions, projection.
    "lstm_2layers_bidirectional_proj5": RNNSpec(mode="lstm", num_layers=2, bidirectional=True, proj_size=5),
    # batch_first without bias, a single step: output == h_n.
    "gru_batch_first_no_bias_seq1": RNNSpec(mode="gru", batch_first=True, bias=False, seq_len=1, hidden_size=8, input_size=4),
    # One step of nn.LSTMCell: h_1/c_1, parameters without _l0.
    "lstmcell_batch2": RNNSpec(mode="lstmcell", input_size=4, hidden_size=6, batch_size=2),
    # Packed, unsorted, both directions: per-sequence h_n and the padding.
    "gru_packed_unsorted_bidirectional": RNNSpec(mode="gru", input_size=4, hidden_size=6, lengths=(2, 4, 1),
                                                 enforce_sorted=False, bidirectional=True),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_table_matches_golden(name):
    text = render(inspect(CONFIGS[name]), "table", width=100, color=False)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("RNNSHAPE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with RNNSHAPE_UPDATE_GOLDEN=1 once, then review it"
    assert text == path.read_text(encoding="utf-8")


def test_golden_files_have_no_colour_and_fit_the_width():
    for path in GOLDEN.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert "\x1b[" not in text
        assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
