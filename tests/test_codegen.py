"""`rnnshape code`: the generated script runs on its own, checks itself, and can fail.

The layer configs and a few CLI-printed scripts run with plain `python` in a fresh
interpreter, as a user would; each run imports torch (about 2.5 s), so they are few,
each one covers several features, and they run concurrently, started once for the
module. The many cell and packed configs run in this process (run_here), which
costs a fraction of that once torch is loaded.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import cell_specs, layer_specs, packed_specs
from rnnshape import EnvironmentProblem, RNNSpec
from rnnshape.codegen import CELL_LOOP_STEPS, CHECK_MARKER, script

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
    namespace: dict = field(default_factory=dict, repr=False)  # an in-process run's globals, as the script left them


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


# Scripts for cells and packed input, printed by the CLI: `rnnshape code FLAGS > x.py`.
# (Many more cell and packed configs run in this process, below.)
CLI_RUNS = {
    "cli_lstmcell": ["--mode", "lstmcell"],
    "cli_gru_packed_bidirectional_2layers": ["--mode", "gru", "--lengths", "5,3,2", "--bidirectional", "--layers", "2"],
    "cli_lstm_packed_unsorted_batch_first_proj": [
        "--lengths", "2,5,3", "--no-enforce-sorted", "--batch-first", "--mode", "lstm", "--proj-size", "3"
    ],
}


def cli_script(flags: list[str]) -> str:
    from typer.testing import CliRunner

    from rnnshape.cli import app

    result = CliRunner().invoke(app, ["code", *flags], prog_name="rnnshape")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Ran]:
    """Every script: the CLI's run concurrently, each in its own interpreter from an empty
    folder, as a user runs them; the rest in this process (run_here), a new interpreter
    being 1-2 s of torch's import apiece on the suite's two cores."""
    folder = tmp_path_factory.mktemp("scripts")
    sources = {name: cli_script(flags) for name, flags in CLI_RUNS.items()}
    procs = {}
    for name, source in sources.items():
        path = folder / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        procs[name] = subprocess.Popen(
            [sys.executable, str(path)], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    out = {name: run_here(source) for name, source in ({n: script(spec) for n, spec in RUN_CONFIGS.items()} | PERTURBED).items()}
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


ALL_DTYPES = ("float32", "float64", "float16", "bfloat16")


def specs():
    return layer_specs(max_size=40, max_layers=6, max_seq_len=50, max_batch=9, dropouts=(0.0, 0.3, 1.0),
                       devices=("cpu", "cuda", "cuda:1", "mps"), dtypes=ALL_DTYPES, max_seed=2**64 - 1)


def code_lines(text: str) -> str:
    """The script without comments and docstring: what actually runs."""
    body = text.split('"""', 2)[2]
    return "\n".join(line.split("#", 1)[0] for line in body.splitlines())


def compiled_script(spec: RNNSpec) -> tuple[str, str]:
    """The script and its code without comments, after the checks every script must pass:
    it compiles, imports only torch, and seeds and builds as the spec says."""
    text = script(spec)
    compile(text, f"<rnnshape code {spec}>", "exec")
    code = code_lines(text)
    assert re.findall(r"^[ \t]*(?:import|from) .*$", code, re.M) == ["import torch"]
    assert f"torch.manual_seed({spec.seed})" in code
    assert f"dtype=torch.{spec.dtype}" in code
    return text, code


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_script_compiles_and_holds_only_the_branches_it_needs(spec):
    text, code = compiled_script(spec)
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


# --- cells and packed input, run in this process ------------------------------
#
# A fresh interpreter per script costs an import of torch (about 2.5 s); exec in
# this process costs about 0.05 s once torch is loaded. A few cell and packed scripts
# still run as a user would (CLI_RUNS above); the many configs here run in-process.


def run_here(source: str, folder: Path | None = None, filename: str = "<rnnshape code>") -> Ran:
    """Run a generated script as `python script.py` (from `folder`, if given) would, but in this process.

    SystemExit("text") is how the script fails: Python prints the text to stderr
    and exits 1, so that is what is recorded here. torch's global RNG and the
    working directory are restored; the script's globals are kept (Ran.namespace).
    """
    import torch

    out, err = io.StringIO(), io.StringIO()
    namespace: dict = {"__name__": "__main__"}
    returncode, cwd = 0, os.getcwd()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), torch.random.fork_rng(), warnings.catch_warnings():
        # torch's own notes on the config (dropout with one layer, say) are not the check's business.
        warnings.simplefilter("ignore")
        if folder is not None:
            os.chdir(folder)
        try:
            exec(compile(source, filename, "exec"), namespace)
        except SystemExit as exc:
            if isinstance(exc.code, str):
                err.write(exc.code + "\n")
                returncode = 1
            else:
                returncode = exc.code or 0
        finally:
            os.chdir(cwd)
    return Ran(returncode, out.getvalue(), err.getvalue(), namespace)


# Every cell mode, with and without bias, batched/unbatched/empty batch, relu, every dtype.
CELL_CONFIGS = {
    "rnncell_tanh": RNNSpec(mode="rnncell"),
    "rnncell_relu_nobias_unbatched_float64": RNNSpec(
        mode="rnncell", nonlinearity="relu", bias=False, unbatched=True, dtype="float64", seed=5
    ),
    "rnncell_relu_bfloat16": RNNSpec(mode="rnncell", nonlinearity="relu", dtype="bfloat16", input_size=7, hidden_size=9),
    "lstmcell_float16": RNNSpec(mode="lstmcell", dtype="float16", batch_size=2, seed=1),
    "lstmcell_nobias_unbatched": RNNSpec(mode="lstmcell", bias=False, unbatched=True, input_size=3, hidden_size=4),
    "lstmcell_float64_empty_batch": RNNSpec(mode="lstmcell", dtype="float64", batch_size=0),
    "grucell_float64": RNNSpec(mode="grucell", dtype="float64", input_size=6, hidden_size=5, seed=2),
    "grucell_nobias_bfloat16_unbatched": RNNSpec(mode="grucell", bias=False, dtype="bfloat16", unbatched=True),
}

# Every layer mode packed; bidirectional, 1-3 layers, both layouts, unsorted lengths
# (with ties), projection, no bias, relu, every dtype.
PACKED_CONFIGS = {
    "rnn_relu_nobias": RNNSpec(mode="rnn", nonlinearity="relu", bias=False, lengths=(4, 2, 1)),
    "rnn_bidirectional_one_sequence_float16": RNNSpec(mode="rnn", bidirectional=True, lengths=(4,), dtype="float16"),
    "gru_bidirectional_2layers": RNNSpec(mode="gru", bidirectional=True, num_layers=2, lengths=(5, 3, 2)),
    "gru_batch_first_unsorted_bfloat16": RNNSpec(
        mode="gru", batch_first=True, lengths=(1, 3, 3), enforce_sorted=False, dtype="bfloat16", hidden_size=8
    ),
    "lstm_proj_batch_first_unsorted": RNNSpec(
        mode="lstm", proj_size=3, batch_first=True, lengths=(2, 5, 3), enforce_sorted=False
    ),
    "lstm_bidirectional_3layers_float64_unsorted": RNNSpec(
        mode="lstm", bidirectional=True, num_layers=3, lengths=(1, 4, 4, 2), enforce_sorted=False,
        dtype="float64", input_size=3, hidden_size=6, dropout=0.5, seed=7,
    ),
    "lstm_proj_bidirectional_nobias": RNNSpec(
        mode="lstm", proj_size=2, hidden_size=5, bidirectional=True, bias=False, lengths=(3, 3, 1)
    ),
}

LABELLED_LINE = re.compile(r"^(\S+)\s+(nn\.\w+) \(([\d, ]*)\)\s+(.+?) \(([\d, ]*)\)$", re.M)


def labelled_shapes(stdout: str) -> dict[str, tuple[str, tuple[int, ...], str, tuple[int, ...]]]:
    """name -> (torch's label, its shape, the reference's label, its shape), as the script prints them."""

    def parse(text: str) -> tuple[int, ...]:
        return tuple(int(n) for n in text.split(",") if n.strip())

    return {m[1]: (m[2], parse(m[3]), m[4], parse(m[5])) for m in LABELLED_LINE.finditer(stdout)}


def documented_cell_shapes(spec: RNNSpec) -> dict[str, tuple[str, tuple[int, ...], str]]:
    """PyTorch's cell docs: h_1 (and c_1) (N, H), or (H) unbatched. The matching layer run over
    CELL_LOOP_STEPS steps: output (L, N, H), h_n (1, N, H), so h_n[0] is (N, H)."""
    n = () if spec.unbatched else (spec.batch_size,)
    H, L = spec.hidden_size, CELL_LOOP_STEPS
    cell, layer = f"nn.{spec.module_name}", f"nn.{spec.module_name.removesuffix('Cell')}"
    shapes = {"h_1": (cell, n + (H,), "by hand"), "output": (layer, (L, *n, H), "cell loop"),
              "h_n[0]": (layer, n + (H,), "cell loop's last h")}
    if spec.lstm:
        shapes |= {"c_1": (cell, n + (H,), "by hand"), "c_n[0]": (layer, n + (H,), "cell loop's last c")}
    return shapes


def documented_packed_shapes(spec: RNNSpec) -> dict[str, tuple[int, ...]]:
    """pad_packed_sequence gives (L, N, D*H_out) (batch_first: (N, L, ...)) with L the longest
    length; h_n (D*num_layers, N, H_out) and c_n (..., H) as for a padded batch."""
    N, L, D = len(spec.lengths), max(spec.lengths), spec.num_directions
    H_out, rows = spec.proj_size or spec.hidden_size, spec.num_directions * spec.num_layers
    shapes = {"padded_output": (N, L, D * H_out) if spec.batch_first else (L, N, D * H_out), "h_n": (rows, N, H_out)}
    if spec.lstm:
        shapes["c_n"] = (rows, N, spec.hidden_size)
    return shapes


def check_cell_run(spec: RNNSpec, ran: Ran) -> None:
    layer = spec.module_name.removesuffix("Cell")
    assert ran.returncode == 0, ran.stderr
    assert f"OK: the explicit step matches nn.{spec.module_name}, and the loop over it matches nn.{layer}" in ran.stdout
    printed = labelled_shapes(ran.stdout)
    expected = documented_cell_shapes(spec)
    assert set(printed) == set(expected), ran.stdout
    for name, (module, shape, reference) in expected.items():
        assert printed[name] == (module, shape, reference, shape), (name, ran.stdout)


def check_packed_run(spec: RNNSpec, ran: Ran) -> None:
    assert ran.returncode == 0, ran.stderr
    assert f"OK: the explicit loop matches nn.{spec.module_name}" in ran.stdout
    printed = labelled_shapes(ran.stdout)
    expected = documented_packed_shapes(spec)
    assert set(printed) == set(expected), ran.stdout
    for name, shape in expected.items():
        assert printed[name] == (f"nn.{spec.module_name}", shape, "loop", shape), (name, ran.stdout)
    # batch_sizes[t]: how many sequences are longer than t (pack_padded_sequence's docs).
    batch_sizes = re.search(r"^batch_sizes\s+(\[.*\])$", ran.stdout, re.M)[1]
    assert ast.literal_eval(batch_sizes) == [sum(n > t for n in spec.lengths) for t in range(max(spec.lengths))]
    sorted_indices = ast.literal_eval(re.search(r"^sorted_indices\s+(.*)$", ran.stdout, re.M)[1])
    if spec.enforce_sorted:
        assert sorted_indices is None
    else:  # a permutation that puts the lengths longest first
        assert sorted(sorted_indices) == list(range(len(spec.lengths)))
        by_index = [spec.lengths[i] for i in sorted_indices]
        assert by_index == sorted(spec.lengths, reverse=True)


@pytest.mark.parametrize("name", list(CELL_CONFIGS))
def test_cell_script_checks_the_step_and_the_loop_against_the_layer(name):
    spec = CELL_CONFIGS[name]
    check_cell_run(spec, run_here(script(spec)))


@pytest.mark.parametrize("name", list(PACKED_CONFIGS))
def test_packed_script_runs_each_sequence_to_its_own_length(name):
    spec = PACKED_CONFIGS[name]
    check_packed_run(spec, run_here(script(spec)))


def perturbed_run(spec: RNNSpec, line: str) -> Ran:
    return run_here(perturbed(spec, line))


def failed_names(ran: Ran) -> set[str]:
    """The tensors the MISMATCH message names, one per line after the first."""
    return {line.strip().split(":")[0] for line in ran.stderr.splitlines()[1:] if line.strip()}


@pytest.mark.parametrize(
    "spec, line, names",
    [
        # The one step by hand: torch's h_1 or c_1 moved.
        (RNNSpec(mode="rnncell"), "h_1 = h_1 + 1e-3", {"h_1"}),
        (RNNSpec(mode="lstmcell", unbatched=True), "c_1 = c_1 + 1e-3", {"c_1"}),
        # The loop that makes a layer: the layer's result, or the loop's, moved.
        (RNNSpec(mode="grucell"), "output = output + 1e-3", {"output"}),
        (RNNSpec(mode="lstmcell"), "last_c = last_c + 1e-3", {"c_n[0]"}),
        (RNNSpec(mode="rnncell", dtype="float64"), "last_h = last_h + 1e-9", {"h_n[0]"}),
        # 1e-3 is within bfloat16's tolerance, 0.5 is not.
        (RNNSpec(mode="grucell", dtype="bfloat16"), "cell_output = cell_output + 0.5", {"output"}),
    ],
)
def test_a_perturbed_cell_script_fails(spec, line, names):
    ran = perturbed_run(spec, line)
    assert ran.returncode == 1, ran.stdout
    assert "OK" not in ran.stdout
    layer = spec.module_name.removesuffix("Cell")
    assert ran.stderr.startswith(f"MISMATCH: nn.{spec.module_name} differs from its equations, or the loop over it from nn.{layer}:")
    assert failed_names(ran) == names, ran.stderr


def test_a_layer_without_the_cells_weights_fails():
    """The copy is what makes the layer the cell's loop: copy a wrong weight_hh and every
    layer-side comparison fails, while the step by hand still passes."""
    spec = RNNSpec(mode="lstmcell")
    text = script(spec)
    copy = "lstm.weight_hh_l0.copy_(lstmcell.weight_hh)"
    assert text.count(copy) == 1
    ran = run_here(text.replace(copy, "lstm.weight_hh_l0.copy_(lstmcell.weight_hh + 1e-2)"))
    assert ran.returncode == 1, ran.stdout
    assert failed_names(ran) == {"output", "h_n[0]", "c_n[0]"}, ran.stderr


@pytest.mark.parametrize(
    "spec, line, names",
    [
        (RNNSpec(mode="gru", lengths=(5, 3, 2), bidirectional=True), "padded_output = padded_output + 1e-3", {"padded_output"}),
        (RNNSpec(mode="lstm", lengths=(2, 5, 3), enforce_sorted=False), "c_n = c_n + 1e-3", {"c_n"}),
        # torch's h_n in sorted order instead of the original one: the check notices.
        (RNNSpec(mode="rnn", lengths=(2, 5, 3), enforce_sorted=False), "h_n = h_n[:, packed_input.sorted_indices]", {"h_n"}),
    ],
)
def test_a_perturbed_packed_script_fails(spec, line, names):
    ran = perturbed_run(spec, line)
    assert ran.returncode == 1, ran.stdout
    assert ran.stderr.startswith(f"MISMATCH: the explicit loop does not match nn.{spec.module_name}:")
    assert failed_names(ran) == names, ran.stderr


def test_packed_is_not_the_padded_batch_run_to_its_end():
    """Run the loop over the whole padded batch instead of each sequence's own length: the
    reverse direction would start in the padding, and h_n would be the padded end's state."""
    spec = RNNSpec(mode="gru", lengths=(5, 3, 2), bidirectional=True)
    text = script(spec)
    own_length = "layer_input[:length, i : i + 1]"
    assert text.count(own_length) == 1
    ran = run_here(text.replace(own_length, "layer_input[:, i : i + 1]").replace(
        "ref_output[:length, i : i + 1] = out_i", "ref_output[:, i : i + 1] = out_i * (torch.arange(L) < length).reshape(L, 1, 1)"
    ))
    assert ran.returncode == 1, ran.stdout
    assert failed_names(ran) == {"padded_output", "h_n"}, ran.stderr


@pytest.mark.parametrize("name", list(CLI_RUNS))
def test_cli_script_runs_in_a_fresh_interpreter(runs, name):
    ran = runs[name]
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"^OK: the explicit (loop|step) matches nn\.\w+", ran.stdout, re.M), ran.stdout


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(cell_specs(dtypes=ALL_DTYPES, max_seed=2**64 - 1), packed_specs(max_length=6, max_sequences=4, dtypes=ALL_DTYPES, dropouts=(0.0, 0.5), max_seed=2**64 - 1)))
def test_random_cell_and_packed_scripts_match_torch(spec):
    ran = run_here(script(spec))
    if spec.is_cell:
        check_cell_run(spec, ran)
    else:
        check_packed_run(spec, ran)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(cell_specs(dtypes=ALL_DTYPES, max_seed=2**64 - 1), packed_specs(max_length=6, max_sequences=4, dtypes=ALL_DTYPES, dropouts=(0.0, 0.5), max_seed=2**64 - 1)))
def test_cell_and_packed_scripts_hold_only_the_branches_they_need(spec):
    text, code = compiled_script(spec)
    assert text.count(CHECK_MARKER) == 1
    assert ("b_ih" in code) == spec.bias
    assert ("_reverse" in code) == spec.bidirectional
    assert ("W_hr" in code) == bool(spec.proj_size)
    assert ("torch.relu" in code) == (spec.nonlinearity == "relu")
    assert ("nonlinearity=" in code) == (spec.base_mode == "rnn")
    assert ("c_0" in code) == spec.lstm
    assert (".float()" in code) == (spec.dtype in ("float16", "bfloat16"))
    assert ("pack_padded_sequence" in code) == spec.packed
    assert ("run_by_hand" in code) == spec.packed
    if spec.is_cell:
        layer = spec.module_name.removesuffix("Cell")
        assert f"torch.nn.{spec.module_name}(" in code and f"torch.nn.{layer}(" in code
        assert "for t in range(L):" in code  # the loop that makes the cell a layer
        assert "num_layers=1," in code and "batch_first" not in code and "proj_size" not in code


# --- the command in the docstring ----------------------------------------------


def command_in(text: str) -> list[str]:
    return shlex.split(re.search(r"^Generated by: rnnshape code(.*)$", text, re.M)[1])


def test_command_for_a_cell_has_no_seq_len():
    flags = command_in(script(RNNSpec(mode="grucell", unbatched=True, bias=False)))
    assert flags == ["--mode", "grucell", "--no-bias", "--unbatched"]


def test_command_for_packed_input_gives_lengths_not_their_sizes():
    flags = command_in(script(RNNSpec(mode="lstm", lengths=(2, 5, 3), enforce_sorted=False, batch_first=True)))
    assert flags == ["--mode", "lstm", "--batch-first", "--lengths", "2,5,3", "--no-enforce-sorted"]
    assert command_in(script(RNNSpec(lengths=(5, 3, 2)))) == ["--lengths", "5,3,2"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(specs(), cell_specs(dtypes=ALL_DTYPES, max_seed=2**64 - 1), packed_specs(max_length=6, max_sequences=4, dtypes=ALL_DTYPES, dropouts=(0.0, 0.5), max_seed=2**64 - 1)))
def test_the_command_in_the_docstring_regenerates_the_same_script(spec):
    """Through the real CLI: the flags parse back to the same spec, hence the same text."""
    text = script(spec)
    assert cli_script(command_in(text)) == text
