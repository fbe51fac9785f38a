"""Hypothesis strategies for cells and packed input, shared by the test files.

Each test picks the sizes it can afford: a flow picture takes sizes in the
billions (nothing runs), a verify run wants a few units.
"""

from __future__ import annotations

from hypothesis import strategies as st

from rnnshape import RNNSpec

CELL_MODES = ("rnncell", "lstmcell", "grucell")
LAYER_MODES = ("rnn", "lstm", "gru")


@st.composite
def cell_specs(draw, *, max_size: int = 12, max_batch: int = 4, dtypes=("float32",), max_seed: int = 1000) -> RNNSpec:
    mode = draw(st.sampled_from(CELL_MODES))
    return RNNSpec(
        mode=mode,
        input_size=draw(st.integers(1, max_size)),
        hidden_size=draw(st.integers(1, max_size)),
        bias=draw(st.booleans()),
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if mode == "rnncell" else "tanh",
        batch_size=draw(st.integers(0, max_batch)),
        unbatched=draw(st.booleans()),
        dtype=draw(st.sampled_from(dtypes)),
        seed=draw(st.integers(0, max_seed)),
    )


def layer_fields(draw, *, max_size: int, max_layers: int = 3, dropouts=(0.0,)) -> dict:
    """The constructor's half of a random layer: mode, sizes, layers, flags, proj_size, nonlinearity."""
    mode = draw(st.sampled_from(LAYER_MODES))
    hidden_size = draw(st.integers(1, max_size))
    return dict(
        mode=mode,
        input_size=draw(st.integers(1, max_size)),
        hidden_size=hidden_size,
        num_layers=draw(st.integers(1, max_layers)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        dropout=draw(st.sampled_from(dropouts)),
        bidirectional=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden_size - 1)) if mode == "lstm" else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if mode == "rnn" else "tanh",
    )


@st.composite
def layer_specs(draw, *, max_size: int = 8, max_layers: int = 3, max_seq_len: int = 4, max_batch: int = 3,
                dtypes=("float32",), dropouts=(0.0,), devices=("cpu",), max_seed: int = 0) -> RNNSpec:
    """A random layer and its dummy input (batched or not, either layout)."""
    return RNNSpec(
        **layer_fields(draw, max_size=max_size, max_layers=max_layers, dropouts=dropouts),
        seq_len=draw(st.integers(1, max_seq_len)),
        batch_size=draw(st.integers(0, max_batch)),
        unbatched=draw(st.booleans()),
        device=draw(st.sampled_from(devices)),
        dtype=draw(st.sampled_from(dtypes)),
        seed=draw(st.integers(0, max_seed)),
    )


@st.composite
def packed_specs(draw, *, max_size: int = 8, max_length: int = 7, max_sequences: int = 5, max_layers: int = 3,
                 dtypes=("float32",), dropouts=(0.0,), max_seed: int = 1000) -> RNNSpec:
    """Random lengths, in decreasing order when enforce_sorted (as pack_padded_sequence requires)."""
    fields = layer_fields(draw, max_size=max_size, max_layers=max_layers, dropouts=dropouts)
    lengths = draw(st.lists(st.integers(1, max_length), min_size=1, max_size=max_sequences))
    enforce_sorted = draw(st.booleans())
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    return RNNSpec(
        **fields,
        lengths=tuple(lengths),
        enforce_sorted=enforce_sorted,
        dtype=draw(st.sampled_from(dtypes)),
        seed=draw(st.integers(0, max_seed)),
    )
