"""inspect(module, *args) and verify(module, *args): a live module, its own weights, the caller's tensors.

Every shape is checked against what the module itself returns when called
directly on the same tensors; the statistics against torch's own reductions;
and the module, its grads, hooks and the random state against a snapshot.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

import rnnshape
from rnnshape import RNNSpec, inspect, verify
from rnnshape.probe import NOT_GIVEN, constructor_kwargs
from strategies import layer_fields

pack = nn.utils.rnn.pack_padded_sequence


def direct(module, *args):
    """What the module returns called directly (eval, no grad): the truth every report is checked against."""
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(*args)
    finally:
        module.train(was)


def shapes_of(result, lstm: bool, cell: bool) -> dict[str, tuple[int, ...]]:
    if cell:
        states = result if lstm else (result,)
        return dict(zip(("h_1", "c_1"), (tuple(s.shape) for s in states)))
    output, state = result
    states = state if lstm else (state,)
    out = {"h_n": tuple(states[0].shape)} | ({"c_n": tuple(states[1].shape)} if lstm else {})
    if isinstance(output, nn.utils.rnn.PackedSequence):
        return out | {"packed_output": tuple(output.data.shape)}
    return out | {"output": tuple(output.shape)}


# --- the front door ---------------------------------------------------------------------


def test_front_door_gives_functions_even_after_every_submodule_is_imported():
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(rnnshape.__path__, "rnnshape."):
        if info.name != "rnnshape.__main__":
            importlib.import_module(info.name)
    from rnnshape import checkpoint, summary, watch
    from rnnshape import inspect as inspect_fn
    from rnnshape import verify as verify_fn

    for fn in (inspect_fn, verify_fn, checkpoint, summary):
        assert callable(fn) and not isinstance(fn, type(rnnshape)), fn
    assert isinstance(watch, type)
    assert rnnshape.verify is verify_fn and rnnshape.checkpoint is checkpoint
    # the cause of the old bug, kept from coming back: no submodule named like a public function
    submodules = {info.name.rsplit(".", 1)[-1] for info in pkgutil.iter_modules(rnnshape.__path__)}
    assert not submodules & set(rnnshape.__all__)


def test_anything_else_is_a_type_error_naming_what_is_accepted():
    for value in (nn.Linear(2, 3), "lstm", 3, nn.Sequential(nn.LSTM(2, 3))):
        with pytest.raises(TypeError, match=r"nn\.RNN, nn\.LSTM, nn\.GRU, nn\.RNNCell, nn\.LSTMCell or nn\.GRUCell"):
            inspect(value)
        with pytest.raises(TypeError, match="nn.LSTM"):
            verify(value)
        with pytest.raises(TypeError):
            RNNSpec.from_module(value)
    with pytest.raises(TypeError, match=r"for a whole model, summary\(model, \*inputs\)"):
        inspect(nn.Sequential(nn.Embedding(3, 2), nn.LSTM(2, 3)))
    with pytest.raises(TypeError, match="live module"):
        inspect(RNNSpec(), torch.zeros(5, 3, 10))
    with pytest.raises(TypeError, match="live module"):
        verify(RNNSpec(), torch.zeros(5, 3, 10))
    lstm = nn.LSTM(2, 3)
    with pytest.raises(TypeError, match="hidden_size"):
        inspect(lstm, hidden_size=4)  # the config is the module's own
    with pytest.raises(TypeError, match="seq_len"):
        inspect(lstm, torch.zeros(4, 1, 2), seq_len=7)  # real inputs decide L


# --- the config is the module's own -----------------------------------------------------

MODULES = {
    "rnn relu, no bias, 3 layers": nn.RNN(5, 7, num_layers=3, nonlinearity="relu", bias=False),
    "lstm proj, bidirectional, batch_first, dropout": nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True, proj_size=3, dropout=0.25),
    "gru bidirectional": nn.GRU(4, 6, bidirectional=True),
    "rnncell relu": nn.RNNCell(4, 6, nonlinearity="relu"),
    "lstmcell no bias": nn.LSTMCell(4, 6, bias=False),
    "grucell": nn.GRUCell(3, 5),
    "float64 lstm": nn.LSTM(3, 4, dtype=torch.float64),
}


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES.keys())
def test_from_module_reads_every_constructor_argument(module):
    spec = RNNSpec.from_module(module)
    rebuilt = getattr(nn, spec.module_name)(**constructor_kwargs(spec), dtype=getattr(torch, spec.dtype))
    assert repr(rebuilt) == repr(module)
    assert [(n, p.shape) for n, p in rebuilt.named_parameters()] == [(n, p.shape) for n, p in module.named_parameters()]
    assert spec.dtype == str(next(module.parameters()).dtype).removeprefix("torch.")


def test_a_subclass_is_read_as_its_base():
    class Tagged(nn.GRU):
        pass

    report = inspect(Tagged(3, 4, num_layers=2))
    assert report.ok and report.spec.mode == "gru" and report.spec.num_layers == 2


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES.keys())
def test_dummy_run_reports_the_modules_own_weights(module):
    report = inspect(module)
    assert report.ok, report.failed_checks
    assert report.observation.weights_from == "module"
    by_name = dict(module.named_parameters())
    for p in report.observation.parameters:
        values = by_name[p.name].detach().double()
        assert (p.min, p.max) == (values.min().item(), values.max().item())
        assert p.mean == pytest.approx(values.mean().item(), rel=1e-12, abs=1e-15)
        assert p.std == pytest.approx(values.std().item(), rel=1e-12)
    data = report.to_dict()
    assert data["weights_from"] == "module" and data["init_hint"].startswith(("looks untrained", "every value lies"))
    assert all(p["mean"] is not None for p in data["parameters"])
    # the drawn-init checks are gone: these values were given, not drawn
    assert not any("drawn within" in c.name for c in report.checks)


def test_trained_weights_leave_the_bound_and_the_hint_says_so():
    lstm = nn.LSTM(4, 6)
    with torch.no_grad():
        lstm.weight_hh_l0.mul_(5)
    report = inspect(lstm)
    assert report.ok  # given weights beyond the bound are a fact, not a failed check
    assert "beyond the init bound" in report.init_hint and report.within_init_bound is False


def test_dummy_fields_set_the_dummy_input():
    report = inspect(nn.GRU(3, 4, batch_first=True), seq_len=7, batch_size=2)
    assert report.observation.tensors["input"] == (2, 7, 3)
    report = inspect(nn.LSTM(3, 4), lengths=(4, 1, 3), enforce_sorted=False)
    assert report.observation.packing["sorted_indices"] == [0, 2, 1]


# --- real inputs: every shape is the one torch produced ----------------------------------

CALLS = {
    "input only": (nn.LSTM(3, 5, num_layers=2), lambda: (torch.randn(6, 2, 3),)),
    "input and h_0": (nn.GRU(3, 5, bidirectional=True), lambda: (torch.randn(6, 2, 3), torch.randn(2, 2, 5))),
    "lstm (h_0, c_0) proj": (nn.LSTM(3, 5, proj_size=2), lambda: (torch.randn(4, 1, 3), (torch.randn(1, 1, 2), torch.randn(1, 1, 5)))),
    "batch_first": (nn.RNN(3, 5, batch_first=True), lambda: (torch.randn(2, 9, 3),)),
    "unbatched": (nn.LSTM(3, 5, bidirectional=True), lambda: (torch.randn(4, 3),)),
    "unbatched with h_0": (nn.RNN(3, 5), lambda: (torch.randn(4, 3), torch.randn(1, 5))),
    "empty batch": (nn.GRU(3, 5), lambda: (torch.randn(4, 0, 3),)),
    "packed sorted": (nn.LSTM(3, 5), lambda: (pack(torch.randn(5, 3, 3), torch.tensor([5, 3, 1])),)),
    "packed unsorted batch_first bidirectional": (
        nn.GRU(3, 5, batch_first=True, bidirectional=True, num_layers=2),
        lambda: (pack(torch.randn(3, 6, 3), torch.tensor([2, 6, 4]), batch_first=True, enforce_sorted=False),)),
    "packed from pack_sequence with h_0": (
        nn.RNN(3, 5), lambda: (nn.utils.rnn.pack_sequence([torch.randn(2, 3), torch.randn(4, 3)], enforce_sorted=False), torch.randn(1, 2, 5))),
    "cell batched": (nn.LSTMCell(3, 5), lambda: (torch.randn(4, 3), (torch.randn(4, 5), torch.randn(4, 5)))),
    "cell unbatched": (nn.GRUCell(3, 5), lambda: (torch.randn(3),)),
    "cell input only": (nn.RNNCell(3, 5), lambda: (torch.randn(2, 3),)),
}


@pytest.mark.parametrize("module,make", CALLS.values(), ids=CALLS.keys())
def test_real_inputs_report_what_torch_produced(module, make):
    args = make()
    spec = RNNSpec.from_module(module)
    truth = shapes_of(direct(module, *args), spec.lstm, spec.is_cell)
    report = inspect(module, *args)
    assert report.ok, report.failed_checks
    seen = report.observation.tensors
    assert {k: seen[k] for k in truth} == truth
    if spec.packed or isinstance(args[0], nn.utils.rnn.PackedSequence):
        packed = args[0]
        assert seen["packed_input"] == tuple(packed.data.shape)
        assert report.observation.packing["batch_sizes"] == packed.batch_sizes.tolist()
        padded, lengths = nn.utils.rnn.pad_packed_sequence(packed, batch_first=spec.batch_first)
        assert list(report.spec.lengths) == lengths.tolist() and seen["input"] == tuple(padded.shape)
    else:
        assert seen["input"] == tuple(args[0].shape)
    if len(args) == 1:  # h_0 left out: not given, and not a failed check
        assert report.observation.unavailable["h_0"] == NOT_GIVEN and "h_0" not in seen
        assert report.to_dict()["tensors"]["h_0"]["shape"] is None
    else:
        assert "h_0" in seen


@pytest.mark.parametrize("module,make", CALLS.values(), ids=CALLS.keys())
def test_verify_on_real_inputs(module, make):
    report = verify(module, *make())
    assert report.ok, report.comparisons
    assert report.max_abs_error < 1e-5


def test_verify_catches_a_module_whose_forward_lies():
    class Lying(nn.LSTM):
        def forward(self, input, hx=None):
            output, (h, c) = super().forward(input, hx)
            return output + 1e-3, (h, c)

    report = verify(Lying(3, 4), torch.randn(5, 2, 3))
    assert not report.ok and report.first_divergence.tensor == "output"
    honest = verify(nn.LSTM(3, 4), torch.randn(5, 2, 3))
    assert honest.ok


def test_meta_module_answers_with_shapes_only():
    lstm = nn.LSTM(3, 5, num_layers=2, device="meta")
    report = inspect(lstm, torch.empty(4, 2, 3, device="meta"))
    assert report.ok
    assert all(p.min is None for p in report.observation.parameters)
    assert report.init_hint.startswith("no values to read on meta")
    with pytest.raises(rnnshape.EnvironmentProblem, match="meta"):
        verify(lstm)


# --- the module is left as it was found ---------------------------------------------------


def snapshot(module):
    return {
        "weights": {n: p.detach().clone() for n, p in module.named_parameters()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in module.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in module.named_parameters()},
        "training": module.training,
        "hooks": (dict(module._forward_hooks), dict(module._forward_pre_hooks)),
        "rng": torch.get_rng_state(),
    }


def assert_same(before, after):
    assert before["weights"].keys() == after["weights"].keys()
    assert all(torch.equal(before["weights"][n], after["weights"][n]) for n in before["weights"])
    for n, g in before["grads"].items():
        assert (g is None and after["grads"][n] is None) or torch.equal(g, after["grads"][n]), n
    assert before["requires_grad"] == after["requires_grad"]
    assert before["training"] == after["training"]
    assert before["hooks"] == after["hooks"]
    assert torch.equal(before["rng"], after["rng"])


@pytest.mark.parametrize("call", ["inspect", "inspect with inputs", "verify", "verify with inputs", "summary"])
def test_module_left_as_found(call):
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)  # training mode, dropout: a run in training would draw masks
    lstm.weight_ih_l0.grad = torch.ones_like(lstm.weight_ih_l0)
    lstm.bias_hh_l1.requires_grad_(False)
    seen = []
    lstm.register_forward_hook(lambda m, a, o: seen.append(1))
    torch.manual_seed(123)
    before = snapshot(lstm)
    x = torch.randn(5, 2, 3)
    before["rng"] = torch.get_rng_state()  # after drawing x
    {"inspect": lambda: inspect(lstm), "inspect with inputs": lambda: inspect(lstm, x), "verify": lambda: verify(lstm),
     "verify with inputs": lambda: verify(lstm, x), "summary": lambda: rnnshape.summary(lstm, x)}[call]()
    assert_same(before, snapshot(lstm))
    assert seen  # the user's own hook ran with the forward, and is still there
    assert lstm.training
    lstm.eval()
    eval_before = snapshot(lstm)
    inspect(lstm, x)
    assert not lstm.training and eval_before["training"] is False


def test_the_check_that_the_module_is_left_as_found_can_fail():
    lstm = nn.LSTM(3, 4)
    before = snapshot(lstm)
    lstm.eval()  # what a careless implementation would leave behind
    with pytest.raises(AssertionError):
        assert_same(before, snapshot(lstm))


# --- checkpoint: a state_dict in memory ----------------------------------------------------


def test_checkpoint_of_a_state_dict_in_memory():
    model = nn.ModuleDict({"embed": nn.Embedding(10, 4), "rnn": nn.GRU(4, 6, num_layers=2, bidirectional=True)})
    report = rnnshape.checkpoint(model.state_dict())
    assert report.ok and [layer.name for layer in report.layers] == ["rnn"]
    assert report.contents.format == "in memory" and report.to_dict()["file"] == "<in memory>"
    nested = rnnshape.checkpoint({"model": model.state_dict(), "epoch": 3}, seq_len=2)
    assert [layer.name for layer in nested.layers] == ["model.rnn"]
    assert nested.layers[0].report.observation.tensors["input"][0] == 2
    with pytest.raises(TypeError, match=r"model\.state_dict\(\)"):
        rnnshape.checkpoint(model)


# --- hypothesis: random layers, random real inputs ---------------------------------------


@st.composite
def live_calls(draw):
    """A random layer or cell, built by torch, and real arguments of every form its forward takes."""
    cell = draw(st.booleans())
    if cell:
        mode = draw(st.sampled_from(["rnncell", "lstmcell", "grucell"]))
        H_in, H = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        spec = RNNSpec(mode=mode, input_size=H_in, hidden_size=H, bias=draw(st.booleans()))
        unbatched, N = draw(st.booleans()), draw(st.integers(0, 3))
        lead = () if unbatched else (N,)
        args = [torch.randn(*lead, H_in)]
        if draw(st.booleans()):
            state = torch.randn(*lead, H)
            args.append((state, torch.randn(*lead, H)) if spec.lstm else state)
    else:
        spec = RNNSpec(**layer_fields(draw, max_size=6, max_layers=2))
        rows = spec.num_directions * spec.num_layers
        L, N = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        form = draw(st.sampled_from(["batched", "unbatched", "packed"]))
        if form == "unbatched":
            args, lead = [torch.randn(L, spec.input_size)], ()
        else:
            x = torch.randn(N, L, spec.input_size) if spec.batch_first else torch.randn(L, N, spec.input_size)
            lead = (N,)
            if form == "packed":
                lengths = draw(st.lists(st.integers(1, L), min_size=N, max_size=N))
                x = pack(x, torch.tensor(lengths), batch_first=spec.batch_first, enforce_sorted=False)
            args = [x]
        if draw(st.booleans()):
            h = torch.randn(rows, *lead, spec.h_out)
            args.append((h, torch.randn(rows, *lead, spec.hidden_size)) if spec.lstm else h)
    module = getattr(nn, spec.module_name)(**constructor_kwargs(spec))
    return spec, module, tuple(args)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_calls())
def test_hypothesis_real_inputs_give_torchs_own_shapes(call):
    spec, module, args = call
    truth = shapes_of(direct(module, *args), spec.lstm, spec.is_cell)
    report = inspect(module, *args)
    assert report.ok, report.failed_checks
    assert {k: report.observation.tensors[k] for k in truth} == truth
    assert report.observed_total == sum(p.numel() for p in module.parameters())
    assert report.to_dict()["init_hint"]  # given weights always get a hint
