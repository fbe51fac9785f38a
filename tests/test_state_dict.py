"""rnnshape.state_dict against state_dicts of torch's own modules, built here."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings

from rnnshape.state_dict import find
from strategies import cell_specs
from test_theory_vs_torch import build_torch, configs

CELLS = {"rnncell": torch.nn.RNNCell, "lstmcell": torch.nn.LSTMCell, "grucell": torch.nn.GRUCell}


def shapes_of(module: torch.nn.Module, prefix: str = "") -> dict[str, tuple[int, ...]]:
    return {prefix + key: tuple(t.shape) for key, t in module.state_dict().items()}


class Model(torch.nn.Module):
    """A model with several recurrent parts, nested, beside layers that are not recurrent."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 8)
        self.encoder = torch.nn.Module()
        self.encoder.rnn = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=6)
        self.decoder = torch.nn.GRU(12, 10, bias=False)
        self.step = torch.nn.LSTMCell(10, 7)
        self.head = torch.nn.Linear(10, 3)


LAYER_KEYS = ("mode", "input_size", "hidden_size", "num_layers", "bias", "bidirectional", "proj_size")


def config_of(found) -> dict:
    return {k: v for k, v in found.spec.to_dict().items() if k in LAYER_KEYS}


@pytest.mark.parametrize("wrap", ["", "module."])  # DataParallel saves every key under module.
def test_nested_model_with_layers_and_a_cell(wrap):
    found = find(shapes_of(Model(), wrap))
    assert [f.name for f in found] == [wrap + "encoder.rnn", wrap + "decoder", wrap + "step"]
    assert all(not f.problems for f in found)
    assert config_of(found[0]) == dict(mode="lstm", input_size=8, hidden_size=16, num_layers=2, bias=True, bidirectional=True, proj_size=6)
    assert config_of(found[1]) == dict(mode="gru", input_size=12, hidden_size=10, num_layers=1, bias=False, bidirectional=False, proj_size=0)
    assert config_of(found[2]) == dict(mode="lstmcell", input_size=10, hidden_size=7, num_layers=1, bias=True, bidirectional=False, proj_size=0)


def test_a_layer_saved_on_its_own_has_an_empty_prefix():
    found = find(shapes_of(torch.nn.RNN(4, 5, num_layers=3, nonlinearity="relu")))
    assert [f.prefix for f in found] == [""]
    # relu and tanh have the same keys: the config says the default, tanh
    assert config_of(found[0]) == dict(mode="rnn", input_size=4, hidden_size=5, num_layers=3, bias=True, bidirectional=False, proj_size=0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_size=9))
def test_every_layer_config_is_read_back_from_its_keys(cfg):
    module = build_torch(cfg)
    (found,) = find(shapes_of(module, "net."))
    assert not found.problems
    assert config_of(found) == {k: cfg.get(k, 0) for k in LAYER_KEYS}


@settings(max_examples=60, deadline=None)
@given(spec=cell_specs())
def test_every_cell_config_is_read_back_from_its_keys(spec):
    cell = CELLS[spec.mode](spec.input_size, spec.hidden_size, bias=spec.bias)
    (found,) = find(shapes_of(cell, "cell."))
    assert not found.problems
    assert config_of(found) == {k: spec.to_dict()[k] for k in LAYER_KEYS}


def test_a_missing_key_is_reported_with_its_name_not_guessed():
    shapes = shapes_of(torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True), "lstm.")
    del shapes["lstm.weight_hh_l1_reverse"]
    (found,) = find(shapes)
    assert found.spec is None
    assert found.problems == ["missing lstm.weight_hh_l1_reverse (24, 6), which LSTM with these shapes has"]


def test_contradicting_shapes_are_reported_with_the_keys():
    shapes = shapes_of(torch.nn.GRU(4, 6, num_layers=2), "gru.")
    shapes["gru.weight_ih_l1"] = (18, 5)  # layer 1 reads layer 0's output: 6 features, not 5
    (found,) = find(shapes)
    assert found.spec is None
    assert found.problems == ["gru.weight_ih_l1 has shape (18, 5), but the other keys imply (18, 6)"]


@pytest.mark.parametrize("weight_hh, words", [((10, 5), "not 1, 3 or 4 times"), ((20,), "not (G*H, H_out)")])
def test_weight_hh_that_is_no_recurrent_weight(weight_hh, words):
    shapes = shapes_of(torch.nn.RNN(3, 5), "x.")
    shapes["x.weight_hh_l0"] = weight_hh
    (found,) = find(shapes)
    assert found.spec is None and words in found.problems[0]


def test_projection_that_contradicts_weight_hh():
    shapes = shapes_of(torch.nn.LSTM(3, 8, proj_size=2), "p.")
    shapes["p.weight_hr_l0"] = (2, 7)
    (found,) = find(shapes)
    assert found.spec is None and "weight_hr implies an LSTM with H = 7" in found.problems[0]


def test_nothing_recurrent():
    assert find(shapes_of(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)))) == []
    assert find({"head.bias_ih": (3,)}) == []  # a bias_ih without weights is no cell
