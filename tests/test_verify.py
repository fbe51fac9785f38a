"""rnnshape verify and its reference: the equations against torch, and proof that
verify fails, at the right place, when the equations or torch's numbers are wrong.

Expected values come from torch modules built here, or from torch tensors changed
here by a known amount, never from rnnshape's own output.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import cell_specs, layer_specs, packed_specs
from rnnshape import RNNSpec, probe, reference
from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
from rnnshape.verification import DEFAULT_TOLERANCES, Divergence, verify

REPO = Path(__file__).resolve().parents[1]
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Written here, not read from rnnshape: how close a float32/float64 module must be.
CLOSE = {"float32": dict(atol=1e-5, rtol=1e-5), "float64": dict(atol=1e-12, rtol=1e-12)}


def specs(dtype: str):
    return layer_specs(max_size=6, max_seq_len=5, dtypes=(dtype,), max_seed=1000)


def build_torch(spec: RNNSpec):
    """The module spec describes, built here with keyword arguments only."""
    kwargs = dict(
        input_size=spec.input_size,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
        bias=spec.bias,
        batch_first=spec.batch_first,
        bidirectional=spec.bidirectional,
    )
    if spec.mode == "rnn":
        kwargs["nonlinearity"] = spec.nonlinearity
    if spec.mode == "lstm":
        kwargs["proj_size"] = spec.proj_size
    return MODULES[spec.mode](**kwargs, dtype=DTYPES[spec.dtype]).eval()


def torch_values(spec: RNNSpec) -> float:
    """The largest |value| among torch's own output, h_n, c_n for spec's seeded run."""
    ran = probe.run(spec)
    return max((t.abs().max().item() for t in (ran.output, ran.h_n, ran.c_n) if t is not None and t.numel()), default=0.0)


def layouts(spec: RNNSpec):
    """PyTorch docs' shapes: input (L, N, H_in), batch_first (N, L, H_in) or unbatched (L, H_in);
    the leading dims of h_0/c_0: (D*num_layers, N), or (D*num_layers,) unbatched."""
    L, N, rows = spec.seq_len, spec.batch_size, spec.num_directions * spec.num_layers
    if spec.unbatched:
        return (L, spec.input_size), (rows,)
    return ((N, L, spec.input_size) if spec.batch_first else (L, N, spec.input_size)), (rows, N)


# --- the reference against torch, directly --------------------------------


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_matches_torch_module(dtype, data):
    spec = data.draw(specs(dtype))
    give_state = data.draw(st.booleans(), label="give h_0/c_0")
    torch.manual_seed(spec.seed)
    module = build_torch(spec)
    x_shape, state_lead = layouts(spec)
    x = torch.randn(x_shape, dtype=DTYPES[dtype])
    h_0 = torch.randn(*state_lead, spec.h_out, dtype=DTYPES[dtype]) if give_state else None
    c_0 = torch.randn(*state_lead, spec.hidden_size, dtype=DTYPES[dtype]) if give_state and spec.mode == "lstm" else None
    with torch.no_grad():
        if spec.mode == "lstm":
            output, (h_n, c_n) = module(x, (h_0, c_0) if give_state else None)
        else:
            (output, h_n), c_n = module(x, h_0), None
        ref = reference.forward(spec, dict(module.named_parameters()), x, h_0, c_0)

    assert ref.output.dtype == torch.float64
    torch.testing.assert_close(ref.output, output.double(), **CLOSE[dtype])
    torch.testing.assert_close(ref.h_n, h_n.double(), **CLOSE[dtype])
    if spec.mode == "lstm":
        torch.testing.assert_close(ref.c_n, c_n.double(), **CLOSE[dtype])
    else:
        assert ref.c_n is None
    N = 1 if spec.unbatched else spec.batch_size
    assert [tuple(o.shape) for o in ref.layer_outputs] == [(spec.seq_len, N, spec.num_directions * spec.h_out)] * spec.num_layers
    # The top layer's entry is the output itself, seq-first.
    top = output.double().unsqueeze(1) if spec.unbatched else (output.double().transpose(0, 1) if spec.batch_first else output.double())
    torch.testing.assert_close(ref.layer_outputs[-1], top, **CLOSE[dtype])


# --- verify on the real module ----------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verify_holds_for_torch(dtype, data):
    spec = data.draw(specs(dtype))
    report = verify(spec)
    assert report.ok, report.comparisons
    assert report.exit_status == ExitStatus.OK
    assert report.first_divergence is None
    atol, rtol = CLOSE[dtype]["atol"], CLOSE[dtype]["rtol"]
    assert report.max_abs_error <= atol + rtol * torch_values(spec)
    assert all(c.ok and c.max_abs_error <= report.max_abs_error for c in report.comparisons)
    D = spec.num_directions
    expected_rows = {(tensor, layer, direction) for tensor in ["output", "h_n"] + (["c_n"] if spec.mode == "lstm" else [])
                     for layer in range(spec.num_layers) for direction in ["forward", "reverse"][:D]}
    assert {(c.tensor, c.layer, c.direction) for c in report.comparisons} == expected_rows
    assert len(report.comparisons) == len(expected_rows)


@pytest.mark.parametrize(
    "spec",
    [
        RNNSpec(mode="lstm", num_layers=2, bidirectional=True, proj_size=5, hidden_size=20, seq_len=7, batch_size=4, dtype=dtype)
        for dtype in ("float16", "bfloat16")
    ]
    + [
        RNNSpec(mode=mode, input_size=32, hidden_size=32, num_layers=3, bidirectional=True, seq_len=20, batch_size=4, dtype=dtype, seed=seed)
        for mode in ("rnn", "lstm", "gru")
        for dtype in ("float16", "bfloat16")
        for seed in (0, 1)
    ],
    ids=lambda s: f"{s.mode}-{s.dtype}-L{s.num_layers}-H{s.hidden_size}-P{s.proj_size}-seed{s.seed}",
)
def test_half_precision_passes_with_its_default_tolerance(spec):
    report = verify(spec)
    assert (report.atol, report.rtol) == DEFAULT_TOLERANCES[spec.dtype]
    assert report.ok, [c for c in report.comparisons if not c.ok]
    # ...and the module really is half precision: the errors are far above float32's.
    assert report.max_abs_error > 1e-4


# --- verify catches real differences -------------------------------------


def wrong_gru_cell(spec, x_proj, h, c, w):
    """r applied before W_hn: n = tanh(W_in x + b_in + W_hn (r*h) + b_hn), a common mistake."""
    W_hr, W_hz, W_hn = w["weight_hh"].chunk(3, dim=0)
    b_hr, b_hz, b_hn = w["bias_hh"].chunk(3) if "bias_hh" in w else (0, 0, 0)
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    r = (x_r + h @ W_hr.T + b_hr).sigmoid()
    z = (x_z + h @ W_hz.T + b_hz).sigmoid()
    n = (x_n + (r * h) @ W_hn.T + b_hn).tanh()
    return (1 - z) * n + z * h, None


def wrong_lstm_cell(spec, x_proj, h, c, w):
    """Gates read in i, f, o, g order instead of torch's i, f, g, o."""
    pre = x_proj + h @ w["weight_hh"].T + (w["bias_hh"] if "bias_hh" in w else 0)
    i, f, o, g = pre.chunk(4, dim=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h @ w["weight_hr"].T if "weight_hr" in w else h), c


def wrong_reference(cells=None, time_steps=None):
    """reference.forward with one piece replaced."""

    def forward(spec, params, x, h_0, c_0=None, *, dtype=None):
        return reference._forward(
            spec, params, x, h_0, c_0, dtype=dtype,
            cells={**reference.CELLS, **(cells or {})},
            time_steps=time_steps or reference.time_steps,
        )

    return forward


def always_forward(seq_len, direction):
    """The reverse direction run t = 0 .. L-1, like the forward one."""
    return range(seq_len)


@pytest.mark.parametrize(
    "spec, wrong, direction, time_step",
    [
        (RNNSpec(mode="gru", num_layers=2, bidirectional=True, seq_len=4), wrong_reference(cells={"gru": wrong_gru_cell}), "forward", 0),
        (RNNSpec(mode="gru", num_layers=3, bias=False, seq_len=3, batch_first=True), wrong_reference(cells={"gru": wrong_gru_cell}), "forward", 0),
        (RNNSpec(mode="lstm", num_layers=2, seq_len=4), wrong_reference(cells={"lstm": wrong_lstm_cell}), "forward", 0),
        (RNNSpec(mode="lstm", num_layers=2, proj_size=3, unbatched=True), wrong_reference(cells={"lstm": wrong_lstm_cell}), "forward", 0),
        (RNNSpec(mode="rnn", num_layers=2, bidirectional=True, seq_len=4), wrong_reference(time_steps=always_forward), "reverse", 3),
        (RNNSpec(mode="rnn", num_layers=1, bidirectional=True, seq_len=6, nonlinearity="relu", batch_first=True), wrong_reference(time_steps=always_forward), "reverse", 5),
    ],
    ids=["gru r before W_hn", "gru r before W_hn, no bias", "lstm i,f,o,g", "lstm i,f,o,g, proj, unbatched", "rnn reverse run forward", "rnn relu reverse run forward"],
)
def test_wrong_reference_fails_at_layer_0(spec, wrong, direction, time_step):
    report = verify(spec, reference=wrong)
    assert not report.ok
    assert report.exit_status == ExitStatus.CHECK_FAILED == 1
    assert report.first_divergence == Divergence(0, direction, time_step, "output")
    assert report.to_dict()["first_divergence"] == {"layer": 0, "direction": direction, "time_step": time_step, "tensor": "output"}
    assert report.to_dict()["ok"] is False


def test_hooked_reference_with_the_right_pieces_passes():
    """The hook the wrong references use is not itself what makes them fail."""
    assert verify(RNNSpec(mode="gru", num_layers=2, bidirectional=True), reference=wrong_reference()).ok


@pytest.mark.parametrize("layout", ["seq_first", "batch_first", "unbatched"])
@pytest.mark.parametrize(
    "changed, expected",
    [
        ([("forward", 1)], ("forward", 1)),
        ([("reverse", 2)], ("reverse", 2)),
        ([("forward", 3), ("forward", 1)], ("forward", 1)),
        # the reverse direction computes t = 4 first, then 3 .. 0
        ([("reverse", 0), ("reverse", 2)], ("reverse", 2)),
        ([("reverse", 4)], ("reverse", 4)),
        # same layer: forward before reverse, even where reverse breaks at its first step
        ([("reverse", 4), ("forward", 3)], ("forward", 3)),
    ],
    ids=str,
)
def test_perturbed_torch_output_is_located(monkeypatch, layout, changed, expected):
    spec = RNNSpec(mode="lstm", num_layers=2, bidirectional=True, seq_len=5, batch_size=2,
                   batch_first=layout == "batch_first", unbatched=layout == "unbatched")
    real_run = probe.run

    def run(spec, **kwargs):
        ran = real_run(spec, **kwargs)
        # seq-first view of torch's own output tensor; changed in place, by 1e-3
        out = ran.output.unsqueeze(1) if spec.unbatched else (ran.output.transpose(0, 1) if spec.batch_first else ran.output)
        for direction, t in changed:
            out[t, -1, (spec.h_out if direction == "reverse" else 0) + 3] += 1e-3
        return ran

    monkeypatch.setattr(probe, "run", run)
    report = verify(spec)
    assert report.exit_status == ExitStatus.CHECK_FAILED
    assert report.first_divergence == Divergence(1, *expected, "output")
    failed = [(c.tensor, c.layer, c.direction) for c in report.comparisons if not c.ok]
    assert failed == [("output", 1, direction) for direction in ("forward", "reverse") if direction in dict(changed)]
    assert report.max_abs_error == pytest.approx(1e-3, rel=1e-2)


def test_rtol_scales_with_the_reference(monkeypatch):
    """An error of 0.1% of the value breaks rtol=1e-5 but not rtol=2e-3 (allclose's rule)."""
    real_run = probe.run

    def run(spec, **kwargs):
        ran = real_run(spec, **kwargs)
        flat = ran.output.view(-1)
        largest = flat.abs().argmax()
        flat[largest] *= 1 + 1e-3
        return ran

    monkeypatch.setattr(probe, "run", run)
    spec = RNNSpec(mode="gru", seq_len=4)
    assert not verify(spec).ok
    report = verify(spec, rtol=2e-3)
    assert report.ok
    assert report.max_rel_error == pytest.approx(1e-3, rel=1e-3)
    assert not verify(spec, atol=0.0, rtol=5e-4).ok


@pytest.mark.parametrize(
    "parameter, direction, time_step",
    [("weight_ih_l0", "forward", 0), ("weight_hh_l0_reverse", "reverse", 3), ("bias_hh_l0", "forward", 0)],
)
@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_wrong_lower_layer_is_named_even_under_three_layers(mode, parameter, direction, time_step):
    spec = RNNSpec(mode=mode, num_layers=3, bidirectional=True, seq_len=4)

    def off_in_layer_0(spec, params, x, h_0, c_0=None, *, dtype=None):
        params = {**params, parameter: params[parameter] + 1e-2}
        return reference.forward(spec, params, x, h_0, c_0, dtype=dtype)

    report = verify(spec, reference=off_in_layer_0)
    assert report.first_divergence == Divergence(0, direction, time_step, "output")
    assert not report.ok


# --- refusals and defaults --------------------------------------------------


def test_meta_device_is_an_environment_problem():
    with pytest.raises(EnvironmentProblem, match=r"--device meta: values do not exist there.*use --device cpu"):
        verify(RNNSpec(device="meta"))


@pytest.mark.parametrize("name", ["atol", "rtol"])
@pytest.mark.parametrize("value", [-1e-6, -1, math.nan, math.inf, "0.1", True, [1e-5]])
def test_bad_tolerance_is_refused_naming_it(name, value):
    with pytest.raises(SpecError) as caught:
        verify(RNNSpec(device="meta"), **{name: value})  # refused before the device is looked at
    assert caught.value.field == name
    assert caught.value.cli_message().startswith(f"--{name} must be a number >= 0 (got ")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_tolerance_defaults_by_dtype(dtype):
    written_in_the_brief = {"float32": (1e-5, 1e-5), "float64": (1e-12, 1e-12)}
    spec = RNNSpec(dtype=dtype, seq_len=2, batch_size=1)
    report = verify(spec)
    assert (report.atol, report.rtol) == DEFAULT_TOLERANCES[dtype] == written_in_the_brief.get(dtype, DEFAULT_TOLERANCES[dtype])
    assert report.to_dict()["tolerance"] == {"atol": report.atol, "rtol": report.rtol, "dtype": dtype, "default": True}
    given_one = verify(spec, atol=0.5).to_dict()["tolerance"]
    assert given_one == {"atol": 0.5, "rtol": DEFAULT_TOLERANCES[dtype][1], "dtype": dtype, "default": False}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize(
    "mode, wrong, direction",
    [
        ("gru", wrong_reference(cells={"gru": wrong_gru_cell}), "forward"),
        ("lstm", wrong_reference(cells={"lstm": wrong_lstm_cell}), "forward"),
        ("rnn", wrong_reference(time_steps=always_forward), "reverse"),
    ],
    ids=["gru", "lstm", "rnn"],
)
def test_half_precision_tolerance_still_catches_a_wrong_equation(dtype, mode, wrong, direction):
    report = verify(RNNSpec(mode=mode, num_layers=2, bidirectional=True, dtype=dtype), reference=wrong)
    assert report.exit_status == ExitStatus.CHECK_FAILED
    assert (report.first_divergence.layer, report.first_divergence.direction) == (0, direction)


def test_zero_tolerance_fails_a_float32_module():
    """float32 is not float64: with atol = rtol = 0 the rounding itself is a difference."""
    report = verify(RNNSpec(mode="gru", seq_len=10), atol=0, rtol=0)
    assert not report.ok and report.max_abs_error > 0


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_empty_batch_has_nothing_to_differ(mode):
    report = verify(RNNSpec(mode=mode, num_layers=2, bidirectional=True, batch_size=0))
    assert report.ok and report.first_divergence is None
    assert all(c.max_abs_error == 0.0 and c.max_rel_error == 0.0 for c in report.comparisons)


# --- the dict, and what verify leaves alone ---------------------------------


def test_too_little_memory_is_an_environment_problem(monkeypatch):
    import rnnshape.verification

    monkeypatch.setattr(rnnshape.verification, "available_bytes", lambda: 10_000)
    with pytest.raises(EnvironmentProblem, match=r"--device cpu: verify .*needs about .* but 9.8 KiB is available"):
        verify(RNNSpec())


def test_to_dict_is_plain_json_and_deterministic():
    spec = RNNSpec(mode="lstm", num_layers=2, bidirectional=True, proj_size=5, dropout=0.5)
    first, second = verify(spec).to_dict(), verify(spec).to_dict()
    assert first == second
    assert json.loads(json.dumps(first, allow_nan=False)) == first
    assert first["schema_version"] == 1 and first["config"] == spec.to_dict()
    assert first["first_divergence"] is None and first["ok"] is True
    floats = [first["max_abs_error"], first["max_rel_error"]] + [
        c[k] for c in first["comparisons"] for k in ("max_abs_error", "max_rel_error")
    ]
    assert all(type(f) is float for f in floats)
    assert first["max_abs_error"] == max(c["max_abs_error"] for c in first["comparisons"]) > 0
    assert set(first["comparisons"][0]) == {"tensor", "layer", "direction", "max_abs_error", "max_rel_error", "ok"}
    assert [c["tensor"] for c in first["comparisons"]] == ["output"] * 4 + ["h_n"] * 4 + ["c_n"] * 4


def test_verify_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    verify(RNNSpec(mode="gru", num_layers=3, bidirectional=True))
    assert torch.equal(torch.rand(3), expected)


def test_importing_reference_and_verify_does_not_import_torch():
    code = "import sys, rnnshape.reference, rnnshape.verification; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# --- cells: one step of the equations --------------------------------------

CELL_MODULES = {"rnncell": torch.nn.RNNCell, "lstmcell": torch.nn.LSTMCell, "grucell": torch.nn.GRUCell}


def cell_spec(mode: str, **kwargs) -> RNNSpec:
    return RNNSpec(mode=mode, input_size=kwargs.pop("input_size", 7), hidden_size=kwargs.pop("hidden_size", 9), **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cell_step_matches_torch_cell(dtype, data):
    spec = data.draw(cell_specs(max_size=8, dtypes=(dtype,)))
    give_state = data.draw(st.booleans(), label="give h_0/c_0")
    torch.manual_seed(spec.seed)
    kwargs = dict(input_size=spec.input_size, hidden_size=spec.hidden_size, bias=spec.bias)
    if spec.mode == "rnncell":
        kwargs["nonlinearity"] = spec.nonlinearity
    cell = CELL_MODULES[spec.mode](**kwargs, dtype=DTYPES[dtype]).eval()
    lead = () if spec.unbatched else (spec.batch_size,)  # PyTorch docs: input (N, H_in) or (H_in,)
    x = torch.randn(*lead, spec.input_size, dtype=DTYPES[dtype])
    h_0 = torch.randn(*lead, spec.hidden_size, dtype=DTYPES[dtype]) if give_state else None
    c_0 = torch.randn(*lead, spec.hidden_size, dtype=DTYPES[dtype]) if give_state and spec.mode == "lstmcell" else None
    params = dict(cell.named_parameters())
    with torch.no_grad():
        if spec.mode == "lstmcell":
            h_1, c_1 = cell(x, (h_0, c_0) if give_state else None)
        else:
            h_1, c_1 = cell(x, h_0), None
        ref_h_1, ref_c_1 = reference.cell_step(spec, params, x, h_0, c_0)
        result = reference.forward(spec, params, x, h_0, c_0)

    assert ref_h_1.dtype == torch.float64
    torch.testing.assert_close(ref_h_1, h_1.double(), **CLOSE[dtype])
    if spec.mode == "lstmcell":
        torch.testing.assert_close(ref_c_1, c_1.double(), **CLOSE[dtype])
    else:
        assert ref_c_1 is None
    # forward() on a cell is that one step: no output, no layers.
    assert result.output is None and result.layer_outputs == []
    assert torch.equal(result.h_n, ref_h_1) and (result.c_n is None) == (ref_c_1 is None)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["rnncell", "lstmcell", "grucell"])
@pytest.mark.parametrize("layout", ["batched", "unbatched"])
def test_cells_pass_with_their_default_tolerance(mode, dtype, layout):
    spec = cell_spec(mode, hidden_size=32, input_size=16, batch_size=5, unbatched=layout == "unbatched", dtype=dtype)
    report = verify(spec)
    assert (report.atol, report.rtol) == DEFAULT_TOLERANCES[dtype]
    assert report.ok and report.first_divergence is None, report.comparisons
    names = ["h_1", "c_1"] if mode == "lstmcell" else ["h_1"]
    assert [(c.tensor, c.layer, c.direction) for c in report.comparisons] == [(n, 0, "forward") for n in names]
    if dtype in CLOSE:
        assert report.max_abs_error <= CLOSE[dtype]["atol"] + CLOSE[dtype]["rtol"] * torch_values(spec)
    else:
        # Half precision really is coarser, yet one step stays well inside atol: over 1000
        # random cells (H_in, H up to 64) the largest error was 0.003 in float16, 0.027 in bfloat16.
        assert 1e-5 < report.max_abs_error < DEFAULT_TOLERANCES[dtype][0] / 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verify_holds_for_cells(dtype, data):
    spec = data.draw(cell_specs(max_size=8, dtypes=(dtype,)))
    report = verify(spec)
    assert report.ok, report.comparisons
    assert report.max_abs_error <= CLOSE[dtype]["atol"] + CLOSE[dtype]["rtol"] * torch_values(spec)


def wrong_rnn_cell(spec, x_proj, h, c, w):
    """b_hh left out: h_1 = tanh(x W_ih^T + b_ih + h W_hh^T)."""
    pre = x_proj + h @ w["weight_hh"].T
    return (pre.tanh() if spec.nonlinearity == "tanh" else pre.relu()), None


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize(
    "mode, wrong",
    [
        ("rnncell", wrong_reference(cells={"rnn": wrong_rnn_cell})),
        ("lstmcell", wrong_reference(cells={"lstm": wrong_lstm_cell})),
        ("grucell", wrong_reference(cells={"gru": wrong_gru_cell})),
    ],
    ids=["rnncell no b_hh", "lstmcell i,f,o,g", "grucell r before W_hn"],
)
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_wrong_cell_equation_is_caught(mode, wrong, dtype, unbatched):
    spec = cell_spec(mode, dtype=dtype, unbatched=unbatched)
    report = verify(spec, reference=wrong)
    assert report.exit_status == ExitStatus.CHECK_FAILED
    # one step, one place: h_1 is the first thing a cell computes (c_1 beside it)
    assert report.first_divergence == Divergence(0, "forward", 0, "h_1")
    assert not [c for c in report.comparisons if c.tensor == "h_1"][0].ok
    assert verify(spec, reference=wrong_reference()).ok  # the hook alone changes nothing


def test_perturbed_c_1_alone_is_named(monkeypatch):
    real_run = probe.run

    def run(spec, **kwargs):
        ran = real_run(spec, **kwargs)
        ran.c_n[1, 2] += 1e-3  # torch's own c_1, in place
        return ran

    monkeypatch.setattr(probe, "run", run)
    report = verify(cell_spec("lstmcell"))
    assert report.first_divergence == Divergence(0, "forward", 0, "c_1")
    assert [(c.tensor, c.ok) for c in report.comparisons] == [("h_1", True), ("c_1", False)]
    assert report.max_abs_error == pytest.approx(1e-3, rel=1e-2)


def test_cell_with_an_empty_batch_has_nothing_to_differ():
    report = verify(cell_spec("grucell", batch_size=0))
    assert report.ok and report.max_abs_error == 0.0 and [c.tensor for c in report.comparisons] == ["h_1"]


# --- packed input: each sequence up to its own length ------------------------


def packed_spec(mode: str = "gru", lengths=(5, 3, 2), **kwargs) -> RNNSpec:
    kwargs.setdefault("enforce_sorted", list(lengths) == sorted(lengths, reverse=True))
    return RNNSpec(mode=mode, input_size=kwargs.pop("input_size", 6), hidden_size=kwargs.pop("hidden_size", 8), lengths=tuple(lengths), **kwargs)


def expected_rows(spec: RNNSpec) -> list[tuple[str, int, str]]:
    names = ["output", "h_n"] + (["c_n"] if spec.mode == "lstm" else [])
    return [(n, k, d) for n in names for k in range(spec.num_layers) for d in ["forward", "reverse"][: spec.num_directions]]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_packed_reference_matches_torch_module(dtype, data):
    """reference.forward on the padded batch against a torch module fed the packed one, built here."""
    spec = data.draw(packed_specs(max_size=6, max_length=6, max_sequences=4, max_layers=2, dtypes=(dtype,)))
    torch.manual_seed(spec.seed)
    module = build_torch(spec)
    L, N = spec.seq_len, spec.batch_size
    x = torch.randn(L, N, spec.input_size, dtype=DTYPES[dtype])
    for i, n in enumerate(spec.lengths):
        x[n:, i] = 0
    x = x.transpose(0, 1).contiguous() if spec.batch_first else x
    rows = spec.num_directions * spec.num_layers
    h_0 = torch.randn(rows, N, spec.h_out, dtype=DTYPES[dtype])
    c_0 = torch.randn(rows, N, spec.hidden_size, dtype=DTYPES[dtype]) if spec.mode == "lstm" else None
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(spec.lengths), batch_first=spec.batch_first, enforce_sorted=spec.enforce_sorted)
    with torch.no_grad():
        out, state = module(packed, (h_0, c_0) if spec.mode == "lstm" else h_0)
        ref = reference.forward(spec, dict(module.named_parameters()), x, h_0, c_0)
    output = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=spec.batch_first)[0]
    h_n, c_n = state if spec.mode == "lstm" else (state, None)
    torch.testing.assert_close(ref.output, output.double(), **CLOSE[dtype])
    torch.testing.assert_close(ref.h_n, h_n.double(), **CLOSE[dtype])
    if spec.mode == "lstm":
        torch.testing.assert_close(ref.c_n, c_n.double(), **CLOSE[dtype])
    # every layer's output is 0 after each sequence's length, as pad_packed_sequence pads
    for layer_output in ref.layer_outputs:
        assert layer_output.shape == (L, N, spec.num_directions * spec.h_out)
        assert all(not layer_output[n:, i].any() for i, n in enumerate(spec.lengths))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize(
    "spec",
    [
        packed_spec("rnn"),
        packed_spec("rnn", nonlinearity="relu", bidirectional=True),
        packed_spec("lstm", num_layers=2, bidirectional=True),
        packed_spec("gru", num_layers=3, bidirectional=True, batch_first=True),
        packed_spec("gru", lengths=(2, 5, 3), batch_first=True, bidirectional=True, num_layers=2),
        packed_spec("lstm", lengths=(2, 5, 3), batch_first=True, proj_size=3, bidirectional=True, num_layers=2),
        packed_spec("lstm", lengths=(1, 1, 4, 1), bias=False, proj_size=2),
        packed_spec("rnn", lengths=(3,), num_layers=2, bidirectional=True),
        packed_spec("gru", lengths=(4, 4, 4), bidirectional=True),
    ],
    ids=["rnn", "rnn relu bidir", "lstm 2 layers bidir", "gru 3 layers bidir batch_first", "gru unsorted",
         "lstm unsorted proj", "lstm many 1s no bias proj", "one sequence", "equal lengths"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_packed_configs_pass(spec, dtype):
    spec = RNNSpec(**{**spec.to_dict(), "dtype": dtype})
    report = verify(spec)
    assert report.ok and report.first_divergence is None, [c for c in report.comparisons if not c.ok]
    assert [(c.tensor, c.layer, c.direction) for c in report.comparisons] == expected_rows(spec)
    if dtype in CLOSE:
        assert report.max_abs_error <= CLOSE[dtype]["atol"] + CLOSE[dtype]["rtol"] * torch_values(spec)
    assert any("runs each sequence alone, up to its own length" in n for n in report.notes)


def test_packed_float64_holds_to_a_tight_tolerance():
    spec = packed_spec("lstm", lengths=(2, 6, 3, 6), num_layers=2, bidirectional=True, proj_size=3, batch_first=True, dtype="float64")
    report = verify(spec, atol=1e-13, rtol=1e-13)
    assert report.ok and report.max_abs_error < 1e-14


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_verify_holds_for_packed_input(dtype, data):
    spec = data.draw(packed_specs(max_size=6, max_length=6, max_sequences=4, max_layers=2, dtypes=(dtype,)))
    report = verify(spec)
    assert report.ok, [c for c in report.comparisons if not c.ok]
    assert [(c.tensor, c.layer, c.direction) for c in report.comparisons] == expected_rows(spec)
    assert report.max_abs_error <= CLOSE[dtype]["atol"] + CLOSE[dtype]["rtol"] * torch_values(spec)


def reverse_runs_forward_for_length(length):
    """time_steps wrong for one sequence length only: its reverse direction reads t = 0 .. n-1."""

    def steps(seq_len, direction):
        return range(seq_len) if seq_len == length else reference.time_steps(seq_len, direction)

    return steps


def ignoring_lengths(spec, params, x, h_0, c_0=None, *, dtype=None):
    """The padded batch run as if unpacked: every sequence all L steps, padding included."""
    return reference.forward(replace(spec, lengths=None, enforce_sorted=True), params, x, h_0, c_0, dtype=dtype)


@pytest.mark.parametrize(
    "spec, wrong, expected",
    [
        # the reverse direction of the length-3 sequence starts at t = 2, not at L-1 = 4
        (packed_spec("gru", bidirectional=True), wrong_reference(time_steps=reverse_runs_forward_for_length(3)), Divergence(0, "reverse", 2, "output")),
        (packed_spec("rnn", lengths=(2, 5, 3), bidirectional=True, batch_first=True, num_layers=2),
         wrong_reference(time_steps=reverse_runs_forward_for_length(3)), Divergence(0, "reverse", 2, "output")),
        (packed_spec("lstm", lengths=(4, 2, 1), bidirectional=True, proj_size=3),
         wrong_reference(time_steps=reverse_runs_forward_for_length(2)), Divergence(0, "reverse", 1, "output")),
        # every sequence's first reverse step is wrong at once (order 0): the earliest t is named, the shortest's last
        (packed_spec("rnn", bidirectional=True), wrong_reference(time_steps=always_forward), Divergence(0, "reverse", 1, "output")),
        (packed_spec("gru", num_layers=2, bidirectional=True), wrong_reference(cells={"gru": wrong_gru_cell}), Divergence(0, "forward", 0, "output")),
        (packed_spec("lstm", lengths=(2, 5, 3), batch_first=True, num_layers=2), wrong_reference(cells={"lstm": wrong_lstm_cell}), Divergence(0, "forward", 0, "output")),
        # all L steps per sequence: the shortest sequence's h_n (its step 1) is the first wrong value
        (packed_spec("gru"), ignoring_lengths, Divergence(0, "forward", 1, "h_n")),
        (packed_spec("lstm", lengths=(3, 6, 4), num_layers=2, bidirectional=True, batch_first=True), ignoring_lengths, Divergence(0, "forward", 2, "h_n")),
    ],
    ids=["gru reverse of length 3", "rnn unsorted batch_first", "lstm proj reverse of length 2", "reverse run forward",
         "gru r before W_hn", "lstm i,f,o,g unsorted", "gru ignoring lengths", "lstm ignoring lengths unsorted"],
)
def test_wrong_packed_reference_is_caught_where_it_first_shows(spec, wrong, expected):
    report = verify(spec, reference=wrong)
    assert report.exit_status == ExitStatus.CHECK_FAILED
    assert report.first_divergence == expected
    assert report.to_dict()["first_divergence"] == {"layer": expected.layer, "direction": expected.direction,
                                                     "time_step": expected.time_step, "tensor": expected.tensor}


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_ignoring_lengths_breaks_h_n_of_the_shorter_sequences_only(mode):
    """Why the reference runs each sequence up to its own length: otherwise h_n is read after the padding."""
    spec = packed_spec(mode, lengths=(5, 5, 2))
    report = verify(spec, reference=ignoring_lengths)
    failed = {c.tensor for c in report.comparisons if not c.ok}
    assert failed == {"output", "h_n"} | ({"c_n"} if mode == "lstm" else set())

    # The same padded batch, with every length L: the unpacked run is then exactly right.
    full = packed_spec(mode, lengths=(5, 5, 5))
    assert verify(full, reference=ignoring_lengths).ok


@pytest.mark.parametrize("parameter, expected", [("weight_ih_l0", ("forward", 0)), ("weight_hh_l0_reverse", ("reverse", 1))])
def test_wrong_lower_layer_under_packed_input_is_named(parameter, expected):
    """Layer 0's output is compared through a module fed the same PackedSequence, padded after."""
    spec = packed_spec("lstm", lengths=(5, 2, 3), enforce_sorted=False, num_layers=3, bidirectional=True, batch_first=True)

    def off_in_layer_0(spec, params, x, h_0, c_0=None, *, dtype=None):
        return reference.forward(spec, {**params, parameter: params[parameter] + 1e-2}, x, h_0, c_0, dtype=dtype)

    report = verify(spec, reference=off_in_layer_0)
    # weight_hh_l0_reverse first acts on each sequence's own last step; the length-2 sequence's is t = 1
    assert report.first_divergence == Divergence(0, *expected, "output")


@pytest.mark.parametrize("lengths", [(5, 3, 2), (2, 5, 3)], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize(
    "changed, expected",
    [
        # (direction, t, length of the sequence changed): reverse computes t = length-1 first
        ([("reverse", 1, 2)], ("reverse", 1)),
        ([("reverse", 2, 5), ("reverse", 1, 3)], ("reverse", 1)),  # orders 2 and 1
        ([("reverse", 4, 5), ("reverse", 0, 2)], ("reverse", 4)),  # orders 0 and 1
        ([("forward", 3, 2)], ("forward", 3)),  # padding: torch must leave zeros there
        ([("reverse", 4, 2), ("reverse", 0, 5)], ("reverse", 0)),  # padding comes after the real steps (5 > 4)
        ([("forward", 2, 3), ("forward", 1, 5)], ("forward", 1)),
    ],
    ids=str,
)
def test_perturbed_packed_output_is_located(monkeypatch, lengths, batch_first, changed, expected):
    spec = packed_spec("lstm", lengths=lengths, num_layers=2, bidirectional=True, batch_first=batch_first)
    real_run = probe.run

    def run(spec, **kwargs):
        ran = real_run(spec, **kwargs)
        out = ran.output.transpose(0, 1) if spec.batch_first else ran.output  # torch's padded output, seq-first view
        for direction, t, length in changed:
            out[t, lengths.index(length), (spec.h_out if direction == "reverse" else 0) + 3] += 1e-3
        return ran

    monkeypatch.setattr(probe, "run", run)
    report = verify(spec)
    assert report.first_divergence == Divergence(1, *expected, "output")
    failed = [(c.tensor, c.layer, c.direction) for c in report.comparisons if not c.ok]
    assert failed == [("output", 1, d) for d in ("forward", "reverse") if d in {c[0] for c in changed}]


@pytest.mark.parametrize("direction, time_step", [("forward", 2), ("reverse", 0)])
def test_perturbed_packed_h_n_names_the_shortest_broken_sequence(monkeypatch, direction, time_step):
    """h_n is in the original batch order; the length-3 sequence ends before the length-5 one."""
    lengths = (2, 5, 3)
    spec = packed_spec("gru", lengths=lengths, num_layers=2, bidirectional=True)
    real_run = probe.run

    def run(spec, **kwargs):
        ran = real_run(spec, **kwargs)
        row = 2 + (1 if direction == "reverse" else 0)  # layer 1
        for length in (5, 3):
            ran.h_n[row, lengths.index(length), 0] += 1e-3
        return ran

    monkeypatch.setattr(probe, "run", run)
    report = verify(spec)
    assert report.first_divergence == Divergence(1, direction, time_step, "h_n")
    assert [(c.tensor, c.layer, c.direction) for c in report.comparisons if not c.ok] == [("h_n", 1, direction)]


# --- cells and packed input through the command line ------------------------


def cli(*args):
    from typer.testing import CliRunner

    from rnnshape.cli import app

    return CliRunner().invoke(app, ["verify", *args], prog_name="rnnshape")


REPORT_KEYS = {"schema_version", "config", "tolerance", "comparisons", "max_abs_error", "max_rel_error", "first_divergence", "notes", "ok"}


@pytest.mark.parametrize(
    "flags, rows",
    [
        (["--mode", "lstmcell"], [("h_1", 0, "forward"), ("c_1", 0, "forward")]),
        (["--mode", "grucell", "--unbatched"], [("h_1", 0, "forward")]),
        (["--mode", "gru", "--lengths", "5,3,2", "--bidirectional", "--layers", "2"],
         [("output", k, d) for k in (0, 1) for d in ("forward", "reverse")] + [("h_n", k, d) for k in (0, 1) for d in ("forward", "reverse")]),
        (["--mode", "lstm", "--lengths", "2,5,3", "--no-enforce-sorted", "--batch-first", "--proj-size", "3"],
         [("output", 0, "forward"), ("h_n", 0, "forward"), ("c_n", 0, "forward")]),
    ],
    ids=["lstmcell", "grucell unbatched", "gru packed", "lstm packed unsorted"],
)
def test_json_for_cells_and_packed_input(flags, rows):
    result = cli(*flags, "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == REPORT_KEYS
    assert [(c["tensor"], c["layer"], c["direction"]) for c in data["comparisons"]] == rows
    assert data["ok"] is True and data["first_divergence"] is None and data["max_abs_error"] < 1e-5
    assert data["config"]["mode"] == flags[1]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
@pytest.mark.parametrize(
    "flags, names",
    [
        (["--mode", "lstmcell"], ["h_1", "c_1"]),
        (["--mode", "gru", "--lengths", "5,3,2", "--bidirectional", "--layers", "2"], ["output", "h_n"]),
        (["--mode", "lstm", "--lengths", "2,5,3", "--no-enforce-sorted", "--batch-first", "--proj-size", "3"], ["output", "h_n", "c_n"]),
    ],
    ids=["lstmcell", "gru packed", "lstm packed"],
)
def test_other_formats_for_cells_and_packed_input(fmt, flags, names):
    result = cli(*flags, "-f", fmt)
    assert result.exit_code == 0, result.stderr
    assert all(name in result.stdout for name in names)
    if fmt == "csv":
        header, *lines = result.stdout.splitlines()
        assert header == "tensor,layer,direction,max_abs_error,max_rel_error,ok"
        assert [line.split(",")[0] for line in lines] == [n for n in names for _ in range(len(lines) // len(names))]
    elif "--lengths" in flags:
        assert "each sequence alone" in result.stdout
    else:
        assert "one step of its equations" in result.stdout


def test_cli_names_where_a_packed_run_fails():
    result = cli("--mode", "gru", "--lengths", "5,3,2", "--atol", "0", "--rtol", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("failed: nn.GRU differs") and "first at layer 0, forward, time step" in result.stderr
