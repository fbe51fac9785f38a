"""`rnnshape code`: the generated script runs on its own, checks itself, and can fail.

Every script is run with plain `python` in a fresh interpreter, as a user would;
each run imports torch (about 2.5 s), so the configs below are few and each one
covers several features. They run concurrently, started once for the module.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnshape import EnvironmentProblem, RNNSpec
from rnnshape.codegen import CHECK_MARKER, script

REPO = Path(__file__).resolve().parents[1]

# Together these cover every mode, both directions, 1-3 layers, all three layouts,
# projection, no bias, relu, and float32/float64/bfloat16.
RUN_CONFIGS = {
    "rnn_tanh_2layers_bidirectional": RNNSpec(num_layers=2, bidirectional=True),
    "rnn_relu_nobias_3layers_batch_first": RNNSpec(
        nonlinearity="relu", bias=False, num_layers=3, batch_first=True, seq_len=7, batch_size=2, seed=3
    ),
    "lstm_proj_bidirectional_2layers_unbatched": RNNSpec(
        mode="lstm", hidden_size=12, proj_size=5, num_layers=2, bidirectional=True, unbatched=True, seq_len=4
    ),
    "lstm_float64_batch_first_dropout": RNNSpec(
        mode="lstm", input_size=3, hidden_size=7, num_layers=2, batch_first=True, dropout=0.5, dtype="float64", seed=11
    ),
    "gru_bidirectional_3layers_batch_first": RNNSpec(
        mode="gru", num_layers=3, bidirectional=True, batch_first=True, seq_len=6, batch_size=4
    ),
    "gru_nobias_float64_unbatched": RNNSpec(
        mode="gru", bias=False, dtype="float64", unbatched=True, input_size=4, hidden_size=6, seq_len=3
    ),
    "lstm_nobias_proj_bfloat16_bidirectional": RNNSpec(
        mode="lstm", bias=False, proj_size=3, hidden_size=8, bidirectional=True, dtype="bfloat16", seq_len=3
    ),
}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def perturbed(spec: RNNSpec, line: str) -> str:
    """The script for spec with `line` inserted right after torch's results are final."""
    text = script(spec)
    assert text.count(CHECK_MARKER) == 1
    return text.replace(CHECK_MARKER, CHECK_MARKER + "\n" + line)


PERTURBED = {
    # 1e-3 is far beyond float32's 1e-5: the check must catch it.
    "output_plus_1e-3": perturbed(RNNSpec(mode="lstm", num_layers=2), "output = output + 1e-3"),
    # 1e-9 passes a float32 tolerance but not float64's 1e-12.
    "h_n_plus_1e-9_float64": perturbed(RNNSpec(mode="gru", dtype="float64"), "h_n = h_n + 1e-9"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Ran]:
    """Every script, run concurrently in its own interpreter from an empty folder."""
    folder = tmp_path_factory.mktemp("scripts")
    sources = {name: script(spec) for name, spec in RUN_CONFIGS.items()} | PERTURBED
    procs = {}
    for name, source in sources.items():
        path = folder / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        procs[name] = subprocess.Popen(
            [sys.executable, str(path)], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[name] = Ran(proc.returncode, stdout, stderr)
    return out


def documented_shapes(spec: RNNSpec) -> dict[str, tuple[int, ...]]:
    """PyTorch's docs, written out here: output (L, N, D*H_out), h_n (D*num_layers, N, H_out),
    c_n (D*num_layers, N, H_cell); batch_first swaps L and N of output only; unbatched drops N."""
    D = 2 if spec.bidirectional else 1
    H_out = spec.proj_size or spec.hidden_size
    L, N, rows = spec.seq_len, spec.batch_size, D * spec.num_layers
    if spec.unbatched:
        shapes = {"output": (L, D * H_out), "h_n": (rows, H_out), "c_n": (rows, spec.hidden_size)}
    else:
        output = (N, L, D * H_out) if spec.batch_first else (L, N, D * H_out)
        shapes = {"output": output, "h_n": (rows, N, H_out), "c_n": (rows, N, spec.hidden_size)}
    if spec.mode != "lstm":
        del shapes["c_n"]
    return shapes


SHAPE_LINE = re.compile(r"^(output|h_n|c_n)\s+nn\.(RNN|LSTM|GRU) \(([\d, ]*)\)\s+loop \(([\d, ]*)\)$", re.M)


def printed_shapes(stdout: str) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    def parse(text: str) -> tuple[int, ...]:
        return tuple(int(n) for n in text.split(",") if n.strip())

    return {m[1]: (parse(m[3]), parse(m[4])) for m in SHAPE_LINE.finditer(stdout)}


@pytest.mark.parametrize("name", list(RUN_CONFIGS))
def test_script_runs_and_matches_torch(runs, name):
    spec, ran = RUN_CONFIGS[name], runs[name]
    assert ran.returncode == 0, ran.stderr
    assert f"OK: the explicit loop matches nn.{spec.module_name}" in ran.stdout
    expected = documented_shapes(spec)
    printed = printed_shapes(ran.stdout)
    assert set(printed) == set(expected), ran.stdout
    for tensor, shape in expected.items():
        from_torch, from_loop = printed[tensor]
        assert from_torch == shape, (tensor, ran.stdout)
        assert from_loop == shape, (tensor, ran.stdout)


def test_a_perturbed_output_fails_with_a_clear_message(runs):
    ran = runs["output_plus_1e-3"]
    assert ran.returncode == 1, ran.stdout
    assert "OK" not in ran.stdout
    assert "MISMATCH: the explicit loop does not match nn.LSTM" in ran.stderr
    assert re.search(r"output: values differ by up to 0\.001", ran.stderr), ran.stderr
    assert "h_n:" not in ran.stderr  # only what was perturbed is reported


def test_float64_tolerance_is_tight(runs):
    ran = runs["h_n_plus_1e-9_float64"]
    assert ran.returncode == 1, ran.stdout
    assert "h_n: values differ by up to 1e-09" in ran.stderr, ran.stderr
    assert "output:" not in ran.stderr


# --- the text of the script, without running it ------------------------------


@st.composite
def specs(draw) -> RNNSpec:
    mode = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    hidden = draw(st.integers(1, 40))
    return RNNSpec(
        mode=mode,
        input_size=draw(st.integers(1, 40)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 6)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.0, 0.3, 1.0])),
        bidirectional=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if mode == "lstm" else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if mode == "rnn" else "tanh",
        seq_len=draw(st.integers(1, 50)),
        batch_size=draw(st.integers(0, 9)),
        unbatched=draw(st.booleans()),
        device=draw(st.sampled_from(["cpu", "cuda", "cuda:1", "mps"])),
        dtype=draw(st.sampled_from(["float32", "float64", "float16", "bfloat16"])),
        seed=draw(st.integers(0, 2**64 - 1)),
    )


def code_lines(text: str) -> str:
    """The script without comments and docstring: what actually runs."""
    body = text.split('"""', 2)[2]
    return "\n".join(line.split("#", 1)[0] for line in body.splitlines())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_script_compiles_and_holds_only_the_branches_it_needs(spec):
    text = script(spec)
    compile(text, f"<rnnshape code {spec}>", "exec")
    code = code_lines(text)
    assert re.findall(r"^[ \t]*(?:import|from) .*$", code, re.M) == ["import torch"]
    assert f"torch.manual_seed({spec.seed})" in code
    assert f"dtype=torch.{spec.dtype}" in code
    assert "device" not in code  # always the CPU
    assert CHECK_MARKER in text
    # Only the branches this config takes.
    assert ("b_ih" in code) == spec.bias
    assert ("_reverse" in code) == spec.bidirectional
    assert ("W_hr" in code) == bool(spec.proj_size)
    assert ("transpose" in code) == (spec.batch_first and not spec.unbatched)
    assert ("unsqueeze" in code) == spec.unbatched
    assert ("nonlinearity=" in code) == (spec.mode == "rnn")
    assert ("proj_size=" in code) == (spec.mode == "lstm")
    assert ("torch.relu" in code) == (spec.nonlinearity == "relu")
    assert ("c_0" in code) == (spec.mode == "lstm")
    assert (".float()" in code) == (spec.dtype in ("float16", "bfloat16"))
    if spec.device != "cpu":
        assert f"# rnnshape was asked for --device {spec.device}; this script runs on the CPU" in text


def test_every_constructor_argument_is_a_keyword():
    text = script(RNNSpec(mode="gru", num_layers=2))
    call = re.search(r"gru = torch\.nn\.GRU\((.*?)\n\)", text, re.S)[1]
    args = [a.split("#")[0].strip() for a in call.strip().splitlines()]
    assert args and all(re.fullmatch(r"\w+=.+,", a) for a in args), args


def test_float16_states_its_loose_tolerance():
    text = script(RNNSpec(dtype="float16"))
    assert "RTOL, ATOL = 0.01, 0.01  # torch works in float16" in text
    assert "float32" in text.split("# ---- 5.")[1]


def test_meta_is_refused():
    with pytest.raises(EnvironmentProblem, match="--device meta"):
        script(RNNSpec(device="meta"))


def test_import_does_not_import_torch():
    probe = "import sys, rnnshape.codegen; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
