"""--device meta through torch's C++ meta functions: the same shapes as torch's
Python meta kernels and as a real CPU run, and the caller's torch left as it was."""

from __future__ import annotations

import sys
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

import pytest
from hypothesis import HealthCheck, given, settings

from rnnshape import RNNSpec, inspect, meta_kernels
from test_theory_vs_torch import build_torch, configs, documented_shapes

import torch._meta_registrations as registrations  # noqa: E402  (after torch)


def _forward_shapes(cfg: dict, device: str, native: bool) -> dict[str, list[int]]:
    """Run cfg's module on `device` with this test's own inputs; shapes of what came out."""
    module = build_torch(cfg, device=device)
    shapes = documented_shapes(cfg)
    dtype = next(module.parameters()).dtype
    x = torch.zeros(shapes["input"], device=device, dtype=dtype)
    h = torch.zeros(shapes["h_0"], device=device, dtype=dtype)
    state = (h, torch.zeros(shapes["c_0"], device=device, dtype=dtype)) if cfg["mode"] == "lstm" else h
    with torch.no_grad():
        if native:
            with meta_kernels.native_meta_kernels(torch) as swapped:
                assert swapped, "this torch keeps its Python meta kernels elsewhere"
                output, state_n = module(x, state)
        else:
            output, state_n = module(x, state)
    out = {"output": list(output.shape)}
    if cfg["mode"] == "lstm":
        out["h_n"], out["c_n"] = list(state_n[0].shape), list(state_n[1].shape)
    else:
        out["h_n"] = list(state_n.shape)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_size=9))
def test_native_meta_shapes_equal_python_meta_and_cpu(cfg):
    native = _forward_shapes(cfg, "meta", native=True)
    python_meta = _forward_shapes(cfg, "meta", native=False)
    cpu = _forward_shapes(cfg, "cpu", native=False)
    assert native == python_meta == cpu
    documented = documented_shapes(cfg)
    assert native == {k: documented[k] for k in native}


def _python_meta_state() -> tuple[frozenset[str], int]:
    # The first swap in a process re-registers torch's kernels through a Library of
    # rnnshape's (the same kernels; torch.library's global index then counts them
    # differently): compare states from then on, whatever test ran first.
    with meta_kernels.native_meta_kernels(torch):
        pass
    library = registrations._meta_lib_dont_use_me_use_register_meta
    return frozenset(library._op_impls), len(torch.library._impls)


def test_python_meta_kernels_are_restored_after_a_meta_inspect():
    before = _python_meta_state()
    assert before[0], "expected torch to register Python meta kernels"
    inspect(RNNSpec(mode="gru", num_layers=2, bidirectional=True, device="meta"))
    assert _python_meta_state() == before
    # And they are live again: on meta, addmm answers through a Python kernel,
    # which a Python profile sees.
    import cProfile
    import pstats

    a = torch.empty(3, 4, device="meta")
    b = torch.empty(4, 5, device="meta")
    c = torch.empty(3, 5, device="meta")
    profile = cProfile.Profile()
    profile.runcall(torch.addmm, c, a, b)
    files = {key[0] for key in pstats.Stats(profile).stats}
    assert any("torch/_" in f for f in files), files


def test_restored_even_when_the_forward_raises():
    before = _python_meta_state()
    with pytest.raises(RuntimeError):
        with meta_kernels.native_meta_kernels(torch):
            torch.nn.RNN(4, 5, device="meta")(torch.empty(2, 3, 6, device="meta"))  # wrong H_in
    assert _python_meta_state() == before


def test_huge_lstm_on_meta_answers_without_allocating():
    # About 25 billion parameters: 100 GB in float32. On meta nothing is allocated.
    spec = RNNSpec(mode="lstm", input_size=4096, hidden_size=8192, num_layers=16, bidirectional=True, device="meta")
    report = inspect(spec)
    assert report.ok
    assert report.observed_total == 24_966_594_560
    assert report.observation.tensors["output"] == (5, 3, 16384)
    assert report.observation.tensors["h_n"] == (32, 3, 8192)


def test_relu_on_meta_is_empty_like_and_gives_cpus_strides():
    # Inside the swap, relu answers in C++ (empty_like): no Python function runs for it,
    # where torch's own meta kernel runs a few dozen. Shapes and strides are the CPU's.
    x = torch.randn(4, 6).t()  # not contiguous
    on_meta = x.to("meta")
    torch.relu(on_meta)  # torch's first call imports what its Python kernel needs

    def python_calls() -> tuple[int, object]:
        calls = []
        sys.setprofile(lambda frame, event, arg: calls.append(event) if event == "call" else None)
        try:
            y = torch.relu(on_meta)
        finally:
            sys.setprofile(None)
        return len(calls), y

    assert python_calls()[0] > 10  # the control: torch's own Python meta kernel
    with meta_kernels.native_meta_kernels(torch):
        count, y = python_calls()
    assert count == 0
    assert (y.shape, y.stride(), y.dtype) == (torch.relu(x).shape, torch.relu(x).stride(), x.dtype)
    report = inspect(RNNSpec(nonlinearity="relu", num_layers=3, bidirectional=True, device="meta"))
    assert report.ok and report.observation.tensors["h_n"] == (6, 3, 20)
