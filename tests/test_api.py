"""The Python API: the JSON contract of design.md, validation, and side effects."""

from __future__ import annotations

import math
import warnings

import pytest

with warnings.catch_warnings():
    # A CPU wheel without NumPy warns on import; nothing here needs NumPy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

import rnnshape
from rnnshape import RNNSpec, inspect

CONFIG_KEYS = [
    "mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
    "bidirectional", "proj_size", "nonlinearity", "seq_len", "batch_size", "unbatched",
    "device", "dtype", "seed",
]
PARAMETER_KEYS = {"name", "shape", "numel", "layer", "direction", "init_bound", "observed_min", "observed_max"}


# --- the JSON contract -----------------------------------------------------


def test_design_example_contract():
    d = inspect(RNNSpec(mode="rnn", num_layers=2, bidirectional=True)).to_dict()
    assert d["schema_version"] == 1
    assert list(d["config"])[: len(CONFIG_KEYS)] == CONFIG_KEYS
    assert d["config"] == {
        "mode": "rnn", "input_size": 10, "hidden_size": 20, "num_layers": 2, "bias": True,
        "batch_first": False, "dropout": 0.0, "bidirectional": True, "proj_size": 0,
        "nonlinearity": "tanh", "seq_len": 5, "batch_size": 3, "unbatched": False,
        "device": "cpu", "dtype": "float32", "seed": 0,
        "lengths": None, "enforce_sorted": True,  # packed input, added after the design's keys
        "h0": "randn", "c0": "randn",  # the dummy states' values (--h0, --c0), added after those
    }
    # Numbers from design.md, not from the code.
    assert set(d["tensors"]) >= {"input", "h_0", "output", "h_n"}
    assert "c_0" not in d["tensors"] and "c_n" not in d["tensors"]
    assert d["tensors"]["input"]["shape"] == [5, 3, 10]
    assert d["tensors"]["input"]["dims"] == ["L", "N", "H_in"]
    assert d["tensors"]["h_0"]["shape"] == [4, 3, 20]
    assert d["tensors"]["h_0"]["dims"] == ["D*num_layers", "N", "H_out"]
    assert d["tensors"]["output"]["shape"] == [5, 3, 40]
    assert d["tensors"]["output"]["dims"] == ["L", "N", "D*H_out"]
    assert d["tensors"]["h_n"]["shape"] == [4, 3, 20]
    assert d["tensors"]["h_n"]["dims"] == ["D*num_layers", "N", "H_out"]
    assert d["total_parameters"] == 3760

    params = d["parameters"]
    assert len(params) == 2 * 2 * 4  # layers * directions * (w_ih, w_hh, b_ih, b_hh)
    for p in params:
        assert PARAMETER_KEYS <= set(p), p
        assert p["init_bound"] == 1 / math.sqrt(20)
        assert p["numel"] == math.prod(p["shape"])
    first = params[0]
    assert (first["name"], first["shape"], first["numel"], first["layer"], first["direction"]) == (
        "weight_ih_l0", [20, 10], 200, 0, "forward",
    )
    assert -1 / math.sqrt(20) <= first["observed_min"] <= first["observed_max"] <= 1 / math.sqrt(20)
    reverse = next(p for p in params if p["name"] == "weight_ih_l1_reverse")
    assert (reverse["shape"], reverse["layer"], reverse["direction"]) == ([20, 40], 1, "reverse")
    assert sum(p["numel"] for p in params) == 3760


def test_lstm_contract_adds_cell_states():
    d = inspect(RNNSpec(mode="lstm", hidden_size=20, num_layers=2, proj_size=5)).to_dict()
    assert {"input", "h_0", "c_0", "output", "h_n", "c_n"} <= set(d["tensors"])
    for name in ("c_0", "c_n"):
        assert d["tensors"][name]["shape"] == [2, 3, 20]
        assert "dims" in d["tensors"][name]
    assert d["tensors"]["h_n"]["shape"] == [2, 3, 5]
    assert d["tensors"]["output"]["shape"] == [5, 3, 5]
    names = [p["name"] for p in d["parameters"]]
    assert "weight_hr_l0" in names and "weight_hr_l1" in names


# --- validation ------------------------------------------------------------

INVALID = [
    ("hidden_size", dict(hidden_size=0)),
    ("input_size", dict(input_size=-1)),
    ("num_layers", dict(num_layers=0)),
    ("seq_len", dict(seq_len=0)),
    ("batch_size", dict(batch_size=-1)),
    ("dropout", dict(dropout=1.5)),
    ("dropout", dict(dropout=float("nan"))),
    ("dropout", dict(dropout="x")),
    ("proj_size", dict(mode="rnn", proj_size=5)),
    ("proj_size", dict(mode="gru", proj_size=5)),
    ("proj_size", dict(mode="lstm", hidden_size=20, proj_size=20)),
    ("proj_size", dict(mode="lstm", hidden_size=20, proj_size=25)),
    ("proj_size", dict(mode="lstm", proj_size=-1)),
    ("nonlinearity", dict(mode="lstm", nonlinearity="relu")),
    ("nonlinearity", dict(mode="gru", nonlinearity="relu")),
    ("nonlinearity", dict(nonlinearity="sigmoid")),
    ("mode", dict(mode="transformer")),
    ("dtype", dict(dtype="int8")),
    ("device", dict(device="tpu")),
    ("hidden_size", dict(hidden_size=True)),
    ("hidden_size", dict(hidden_size=2.5)),
]


@pytest.mark.parametrize("field,kwargs", INVALID, ids=[f"{f}-{kw}" for f, kw in INVALID])
def test_invalid_spec_names_the_field(field, kwargs):
    with pytest.raises(rnnshape.SpecError) as info:
        RNNSpec(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("field,kwargs", INVALID[:3], ids=[f for f, _ in INVALID[:3]])
def test_inspect_keywords_validate_too(field, kwargs):
    with pytest.raises(rnnshape.SpecError) as info:
        inspect(**kwargs)
    assert info.value.field == field


def test_batch_size_zero_accepted():
    report = inspect(RNNSpec(batch_size=0, mode="lstm", bidirectional=True))
    assert report.ok
    d = report.to_dict()
    assert d["tensors"]["input"]["shape"] == [5, 0, 10]
    assert d["tensors"]["h_n"]["shape"] == [2, 0, 20]


def test_dropout_one_accepted():
    report = inspect(RNNSpec(dropout=1.0, num_layers=2))
    assert report.ok
    assert report.spec.dropout == 1.0


def test_dropout_with_one_layer_accepted_with_note():
    report = inspect(RNNSpec(dropout=0.5, num_layers=1))
    assert report.ok
    assert any("dropout" in n for n in report.notes)
    assert any("dropout" in n for n in report.to_dict()["notes"])


def test_spellings_normalised():
    assert RNNSpec(mode="LSTM").mode == "lstm"
    assert RNNSpec(dtype="half").dtype == "float16"
    report = inspect(RNNSpec(mode="LSTM", dtype="half", hidden_size=4, input_size=3))
    d = report.to_dict()
    assert d["config"]["mode"] == "lstm"
    assert d["config"]["dtype"] == "float16"
    assert "c_n" in d["tensors"]


# --- side effects and determinism -------------------------------------------


def test_inspect_keeps_global_rng_state():
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    inspect(RNNSpec(mode="gru", seed=7))
    after = torch.get_rng_state()
    assert torch.equal(before, after)


def test_same_spec_same_dict_and_seed_matters():
    spec = RNNSpec(mode="lstm", hidden_size=6, input_size=4, seed=5)
    assert inspect(spec).to_dict() == inspect(spec).to_dict()

    def first_min(seed):
        d = inspect(RNNSpec(mode="lstm", hidden_size=6, input_size=4, seed=seed)).to_dict()
        p = next(p for p in d["parameters"] if p["name"] == "weight_ih_l0")
        return p["observed_min"]

    assert first_min(5) != first_min(6)


# --- warnings never leak ------------------------------------------------------

DROPOUT_WARNING = "non-zero dropout expects num_layers greater than 1"
ONEDNN_NOTE = "LSTM with projections is not supported with oneDNN"


def test_torch_warnings_become_notes_not_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dropout = inspect(RNNSpec(dropout=0.5))
        proj1 = inspect(RNNSpec(mode="lstm", proj_size=5))
        proj2 = inspect(RNNSpec(mode="lstm", proj_size=5))
    assert dropout.ok and proj1.ok and proj2.ok
    assert any(DROPOUT_WARNING in n for n in dropout.notes), dropout.notes
    for report in (proj1, proj2):
        assert any(ONEDNN_NOTE in n for n in report.notes), report.notes
        assert sum(ONEDNN_NOTE in n for n in report.notes) == 1, report.notes
        assert not any("Triggered internally" in n for n in report.notes)


# --- the environment -----------------------------------------------------------


def test_impossible_memory_is_refused_before_allocating(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the module was constructed despite an impossible memory need")

    monkeypatch.setattr(torch.nn, "RNN", forbidden)
    with pytest.raises(rnnshape.EnvironmentProblem) as info:
        inspect(RNNSpec(input_size=10**6, hidden_size=10**6, num_layers=50))
    assert "bytes" in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_unavailable_is_environment_problem():
    with pytest.raises(rnnshape.EnvironmentProblem) as info:
        inspect(RNNSpec(device="cuda"))
    assert "cuda" in str(info.value).lower()
