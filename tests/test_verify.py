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
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnshape import RNNSpec, probe, reference
from rnnshape.errors import EnvironmentProblem, ExitStatus, SpecError
from rnnshape.verify import DEFAULT_TOLERANCES, Divergence, verify

REPO = Path(__file__).resolve().parents[1]
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Written here, not read from rnnshape: how close a float32/float64 module must be.
CLOSE = {"float32": dict(atol=1e-5, rtol=1e-5), "float64": dict(atol=1e-12, rtol=1e-12)}


@st.composite
def specs(draw, dtype: str) -> RNNSpec:
    mode = draw(st.sampled_from(sorted(MODULES)))
    hidden = draw(st.integers(1, 6))
    return RNNSpec(
        mode=mode,
        input_size=draw(st.integers(1, 6)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if mode == "lstm" else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if mode == "rnn" else "tanh",
        seq_len=draw(st.integers(1, 5)),
        batch_size=draw(st.integers(0, 3)),
        unbatched=draw(st.booleans()),
        dtype=dtype,
        seed=draw(st.integers(0, 1000)),
    )


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
    import rnnshape.verify

    monkeypatch.setattr(rnnshape.verify, "available_bytes", lambda: 10_000)
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
    code = "import sys, rnnshape.reference, rnnshape.verify; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
