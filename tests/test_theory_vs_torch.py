"""rnnshape's predictions and observations, checked against torch and against
closed forms written here, independently of rnnshape's own code."""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import pytest

with warnings.catch_warnings():
    # A CPU wheel without NumPy warns on import; nothing here needs NumPy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnshape
from rnnshape import RNNSpec, inspect, probe, theory
from rnnshape.report import Report

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
GATE_MULTIPLE = {"rnn": 1, "gru": 3, "lstm": 4}
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


# --- helpers written from PyTorch's documentation, not from rnnshape -------


def build_torch(cfg: dict, device: str = "cpu"):
    """The module cfg describes, built here with keyword arguments only."""
    kwargs = dict(
        input_size=cfg["input_size"],
        hidden_size=cfg["hidden_size"],
        num_layers=cfg["num_layers"],
        bias=cfg["bias"],
        batch_first=cfg["batch_first"],
        dropout=cfg.get("dropout", 0.0),
        bidirectional=cfg["bidirectional"],
    )
    if cfg["mode"] == "rnn":
        kwargs["nonlinearity"] = cfg.get("nonlinearity", "tanh")
    if cfg["mode"] == "lstm":
        kwargs["proj_size"] = cfg.get("proj_size", 0)
    dtype = DTYPES[cfg.get("dtype", "float32")]
    return MODULES[cfg["mode"]](**kwargs, device=device, dtype=dtype)


def documented_shapes(cfg: dict) -> dict[str, list[int]]:
    """PyTorch docs: input (L, N, H_in), h_0/h_n (D*num_layers, N, H_out),
    c_0/c_n (D*num_layers, N, H_cell), output (L, N, D*H_out); batch_first swaps
    L and N of input/output only; unbatched input drops N everywhere."""
    L, N, H_in = cfg["seq_len"], cfg["batch_size"], cfg["input_size"]
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg.get("proj_size", 0) or cfg["hidden_size"]
    rows = D * cfg["num_layers"]
    if cfg["unbatched"]:
        seq = lambda last: [L, last]  # noqa: E731
        state = lambda last: [rows, last]  # noqa: E731
    else:
        if cfg["batch_first"]:
            seq = lambda last: [N, L, last]  # noqa: E731
        else:
            seq = lambda last: [L, N, last]  # noqa: E731
        state = lambda last: [rows, N, last]  # noqa: E731
    shapes = {"input": seq(H_in), "h_0": state(H_out), "output": seq(D * H_out), "h_n": state(H_out)}
    if cfg["mode"] == "lstm":
        shapes["c_0"] = state(cfg["hidden_size"])
        shapes["c_n"] = state(cfg["hidden_size"])
    return shapes


def closed_form_count(mode, I, H, L, D, P, b) -> int:
    """D*G*H*(I + (L-1)*D*H_out + L*(H_out + 2b)) + L*D*P*H."""
    G = GATE_MULTIPLE[mode]
    H_out = P or H
    return D * G * H * (I + (L - 1) * D * H_out + L * (H_out + 2 * b)) + L * D * P * H


def spec_from(cfg: dict) -> RNNSpec:
    return RNNSpec(**cfg)


@st.composite
def configs(draw, max_size=12):
    mode = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    hidden_size = draw(st.integers(1, max_size))
    cfg = dict(
        mode=mode,
        input_size=draw(st.integers(1, max_size)),
        hidden_size=hidden_size,
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        unbatched=draw(st.booleans()),
        bias=draw(st.booleans()),
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if mode == "rnn" else "tanh",
        proj_size=draw(st.integers(0, hidden_size - 1)) if mode == "lstm" else 0,
        seq_len=draw(st.integers(1, 4)),
        batch_size=draw(st.integers(0, 3)),
        dtype=draw(st.sampled_from(list(DTYPES))),
        seed=draw(st.integers(0, 2**32)),
    )
    return cfg


# --- 1. the report against torch and the documented formulas ---------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_report_matches_torch_and_documented_shapes(cfg):
    spec = spec_from(cfg)
    report = inspect(spec)
    d = report.to_dict()
    assert report.ok, d["checks"]["failures"]

    # Tensor shapes: observed == the documented formulas, computed here.
    expected = documented_shapes(cfg)
    assert set(d["tensors"]) == set(expected)
    for name, shape in expected.items():
        assert d["tensors"][name]["shape"] == shape, name

    # Parameters: my own module, seeded as rnnshape says it seeds (manual_seed, then build on cpu).
    dtype = DTYPES[cfg["dtype"]]
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(cfg["seed"])
        module = build_torch(cfg)
    mine = list(module.named_parameters())
    assert [(p["name"], p["shape"]) for p in d["parameters"]] == [(n, list(p.shape)) for n, p in mine]
    assert [p["numel"] for p in d["parameters"]] == [p.numel() for _, p in mine]
    total = sum(p.numel() for _, p in mine)
    assert d["total_parameters"] == total
    assert total == closed_form_count(
        cfg["mode"], cfg["input_size"], cfg["hidden_size"], cfg["num_layers"],
        2 if cfg["bidirectional"] else 1, cfg["proj_size"], int(cfg["bias"]),
    )

    bound = 1 / math.sqrt(cfg["hidden_size"])
    bound_in_dtype = torch.tensor(bound, dtype=dtype).item()
    for entry, (name, p) in zip(d["parameters"], mine):
        assert entry["init_bound"] == pytest.approx(bound, rel=1e-15)
        lo, hi = entry["observed_min"], entry["observed_max"]
        assert -bound_in_dtype <= lo <= hi <= bound_in_dtype, name
        assert lo == p.min().item(), name
        assert hi == p.max().item(), name
        assert entry["within_bound"] is True


# --- 2. the closed-form count ----------------------------------------------


@st.composite
def large_configs(draw):
    mode = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    hidden_size = draw(st.integers(1, 600))
    return dict(
        mode=mode,
        input_size=draw(st.integers(1, 600)),
        hidden_size=hidden_size,
        num_layers=draw(st.integers(1, 6)),
        bidirectional=draw(st.booleans()),
        batch_first=False,
        unbatched=False,
        bias=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden_size - 1)) if mode == "lstm" else 0,
    )


@settings(max_examples=150, deadline=None)
@given(cfg=large_configs())
def test_closed_form_count_against_torch_and_theory(cfg):
    module = build_torch(cfg, device="meta")
    torch_total = sum(p.numel() for p in module.parameters())
    D = 2 if cfg["bidirectional"] else 1
    mine = closed_form_count(
        cfg["mode"], cfg["input_size"], cfg["hidden_size"], cfg["num_layers"], D, cfg["proj_size"], int(cfg["bias"])
    )
    assert mine == torch_total

    spec = RNNSpec(**cfg)
    assert theory.total_parameters(spec) == torch_total
    predicted = theory.parameters(spec)
    assert sum(p.numel for p in predicted) == torch_total
    assert [(p.name, p.shape) for p in predicted] == [(n, tuple(p.shape)) for n, p in module.named_parameters()]


# --- 3. the substituted count formula evaluates to the total -----------------


@settings(max_examples=100, deadline=None)
@given(cfg=large_configs())
def test_count_formula_substituted_evaluates_to_total(cfg):
    spec = RNNSpec(**cfg)
    symbols, substituted = theory.count_formula(spec)
    lhs, sep, rhs = substituted.rpartition(" = ")
    assert sep == " = "
    assert re.fullmatch(r"[0-9+\-*() ]+", lhs), lhs
    total = closed_form_count(
        cfg["mode"], cfg["input_size"], cfg["hidden_size"], cfg["num_layers"],
        2 if cfg["bidirectional"] else 1, cfg["proj_size"], int(cfg["bias"]),
    )
    assert eval(lhs, {"__builtins__": {}}, {}) == total  # noqa: S307 - digits and operators only
    assert int(rhs) == total


# --- 4. output / h_n relations -----------------------------------------------

RELATION_CASES = [
    dict(mode="gru", input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=False, unbatched=False, seq_len=5, batch_size=2),
    dict(mode="lstm", input_size=3, hidden_size=5, num_layers=2, bidirectional=True, batch_first=True, unbatched=False, seq_len=4, batch_size=3, proj_size=2),
    dict(mode="rnn", input_size=2, hidden_size=3, num_layers=3, bidirectional=True, batch_first=False, unbatched=True, seq_len=3, batch_size=3),
    dict(mode="rnn", input_size=2, hidden_size=3, num_layers=1, bidirectional=True, batch_first=True, unbatched=False, seq_len=1, batch_size=2),
    dict(mode="lstm", input_size=2, hidden_size=3, num_layers=1, bidirectional=False, batch_first=False, unbatched=False, seq_len=1, batch_size=2),
    dict(mode="gru", input_size=4, hidden_size=3, num_layers=2, bidirectional=False, batch_first=True, unbatched=False, seq_len=3, batch_size=1),
]


@pytest.mark.parametrize("cfg", RELATION_CASES, ids=lambda c: f"{c['mode']}-L{c['num_layers']}-bi{c['bidirectional']}-bf{c['batch_first']}-ub{c['unbatched']}-T{c['seq_len']}")
def test_relations_against_torch(cfg):
    cfg = dict(dict(bias=True, proj_size=0, dtype="float32", seed=3), **cfg)
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] or cfg["hidden_size"]
    top = (cfg["num_layers"] - 1) * D

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        module = build_torch(cfg).eval()
        x = torch.randn(documented_shapes(cfg)["input"])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output, state = module(x)
    h_n = state[0] if cfg["mode"] == "lstm" else state
    # Bring to seq-first (L, N, features) and (rows, N, H_out).
    if cfg["unbatched"]:
        output, h_n = output.unsqueeze(1), h_n.unsqueeze(1)
    elif cfg["batch_first"]:
        output = output.transpose(0, 1)

    # torch facts, with the indices chosen here.
    used = {(-1, 0, H_out, top)}
    assert torch.equal(output[-1, :, :H_out], h_n[top])
    if D == 2:
        assert torch.equal(output[0, :, H_out:], h_n[top + 1])
        used.add((0, H_out, 2 * H_out, top + 1))
    if cfg["seq_len"] == 1 and cfg["num_layers"] == 1:
        for d in range(D):
            assert torch.equal(output[0, :, d * H_out:(d + 1) * H_out], h_n[d])
            used.add((0, d * H_out, (d + 1) * H_out, d))

    # Every identity also holds in the other sense: row layer*D+d ends direction d of that layer.
    # (h_n_rows contract: row = layer*D + direction.)
    spec = RNNSpec(**cfg)
    rows = theory.h_n_rows(spec)
    assert [(r.row, r.layer, r.direction) for r in rows] == [
        (layer * D + d, layer, ("forward", "reverse")[d]) for layer in range(cfg["num_layers"]) for d in range(D)
    ]

    report = inspect(spec)
    d = report.to_dict()
    assert d["relations"], "no relations reported"
    assert all(r["held"] is True for r in d["relations"]), d["relations"]
    assert d["h_n_rows"] == [{"row": r.row, "layer": r.layer, "direction": r.direction} for r in rows]

    parts = {(p.time_step, p.start, p.stop, p.h_n_row) for r in theory.relations(spec) for p in r.parts}
    assert parts == used


def test_relations_hold_on_top_layer_of_each_direction_separately():
    """h_n rows of lower layers differ from the output: only the top rows are tied to it."""
    cfg = dict(mode="rnn", input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=False,
               unbatched=False, seq_len=4, batch_size=2, bias=True)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        module = build_torch(cfg).eval()
        output, h_n = module(torch.randn(4, 2, 3))
    assert not torch.equal(output[-1, :, :4], h_n[0])  # layer 0 forward is not the output
    assert torch.equal(output[-1, :, :4], h_n[2])


# --- 5. meta device ------------------------------------------------------


def test_meta_device_gives_cpu_shapes_and_no_values():
    fields = dict(mode="lstm", input_size=6, hidden_size=7, num_layers=2, bidirectional=True, proj_size=3,
                  batch_first=True, seq_len=4, batch_size=2)
    cpu = inspect(RNNSpec(**fields)).to_dict()
    meta_report = inspect(RNNSpec(device="meta", **fields))
    meta = meta_report.to_dict()
    assert meta_report.ok is True
    assert meta["ok"] is True
    assert {k: v["shape"] for k, v in meta["tensors"].items()} == {k: v["shape"] for k, v in cpu["tensors"].items()}
    assert [(p["name"], p["shape"]) for p in meta["parameters"]] == [(p["name"], p["shape"]) for p in cpu["parameters"]]
    assert meta["total_parameters"] == cpu["total_parameters"]
    for p in meta["parameters"]:
        assert p["observed_min"] is None
        assert p["observed_max"] is None
        assert p["within_bound"] is None
    assert meta["relations"]
    for r in meta["relations"]:
        assert r["held"] is None
    assert meta["checks"]["failed"] == 0
    assert meta["checks"]["skipped"] > 0


# --- 6. init bound compared in the parameter's dtype ----------------------


def _hidden_size_where_float32_rounds_outward() -> int:
    for H in range(1, 100):
        b = 1 / math.sqrt(H)
        if torch.tensor(b, dtype=torch.float32).item() > b:
            return H
    raise AssertionError("no hidden size where float32(bound) > bound")


def test_value_equal_to_float32_bound_is_within_bound():
    H = _hidden_size_where_float32_rounds_outward()
    spec = RNNSpec(hidden_size=H)
    bound = 1 / math.sqrt(H)
    edge = torch.tensor(-bound, dtype=torch.float32)
    assert edge.item() < -bound  # the case is real: a hair beyond the float64 bound
    p = torch.tensor([edge.item(), 0.0, -edge.item()], dtype=torch.float32)
    obs = probe._observe_parameter(torch, "weight_ih_l0", p, spec, True)
    assert obs.within_bound is True
    assert obs.min == edge.item()
    assert obs.max == -edge.item()


@pytest.mark.parametrize("sign", [-1, 1])
def test_value_clearly_outside_bound_is_not_within_bound(sign):
    H = 20
    spec = RNNSpec(hidden_size=H)
    bound = 1 / math.sqrt(H)
    p = torch.tensor([0.0, sign * bound * 1.01], dtype=torch.float32)
    obs = probe._observe_parameter(torch, "weight_hh_l0", p, spec, True)
    assert obs.within_bound is False


def test_out_of_bound_parameter_fails_the_report():
    spec = RNNSpec(hidden_size=20)
    report = inspect(spec)
    obs = report.observation
    bad = dataclasses.replace(obs.parameters[0], max=0.5, within_bound=False)
    tampered = dataclasses.replace(obs, parameters=[bad] + obs.parameters[1:])
    broken = Report(spec, tampered)
    assert broken.ok is False
    names = [f["name"] for f in broken.to_dict()["checks"]["failures"]]
    assert names == [f"{bad.name} drawn within the init bound"]


# --- 7. a failed check is detected -------------------------------------------


def test_wrong_tensor_prediction_fails(monkeypatch):
    spec = RNNSpec(mode="gru", num_layers=2)
    observation = inspect(spec).observation  # observed before the prediction goes wrong
    real = theory.tensors

    def wrong(s):
        out = real(s)
        return [dataclasses.replace(t, shape=t.shape[:-1] + (t.shape[-1] + 1,)) if t.name == "h_n" else t for t in out]

    monkeypatch.setattr(rnnshape.report.theory, "tensors", wrong)
    report = Report(spec, observation)
    assert report.ok is False
    assert report.exit_status == 1
    d = report.to_dict()
    assert d["ok"] is False
    failures = d["checks"]["failures"]
    assert [f["name"] for f in failures] == ["shape of h_n"]
    assert failures[0]["predicted"] == "(2, 3, 21)"
    assert failures[0]["observed"] == "(2, 3, 20)"


def test_wrong_parameter_prediction_fails(monkeypatch):
    real = theory.parameters

    def wrong(s):
        out = real(s)
        first = out[0]
        return [dataclasses.replace(first, shape=(first.shape[0], first.shape[1] + 1))] + out[1:]

    monkeypatch.setattr(rnnshape.report.theory, "parameters", wrong)
    report = inspect(RNNSpec(mode="lstm"))
    assert report.ok is False
    assert report.exit_status == 1
    names = [f["name"] for f in report.to_dict()["checks"]["failures"]]
    assert "shape of weight_ih_l0" in names


def test_failed_relation_fails():
    spec = RNNSpec(bidirectional=True, num_layers=2)
    good = inspect(spec)
    assert good.ok
    obs = good.observation
    name = "forward h_n is output's last step"
    assert name in obs.relations
    relations = dict(obs.relations, **{name: False})
    report = Report(spec, dataclasses.replace(obs, relations=relations))
    assert report.ok is False
    assert report.exit_status == 1
    d = report.to_dict()
    assert [f["name"] for f in d["checks"]["failures"]] == [name]
    assert [r["held"] for r in d["relations"] if r["name"] == name] == [False]
