"""`rnnshape code --style docs`, and --h0/--c0 in the generated scripts (both styles).

The docs style writes the loop as PyTorch's nn.RNN documentation does (time steps
outside, layers inside, `h_t[layer] = torch.tanh(...)`); every script still runs on
its own and checks itself against torch. The scripts run in this process (exec in a
fresh namespace, from tmp_path): a fresh interpreter per script would import torch
each time (about 2.5 s), exec costs a few hundredths of a second once torch is loaded.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import cell_specs, layer_specs, packed_specs
from test_codegen import Ran, cli_script, command_in, documented_cell_shapes, documented_shapes, failed_names, labelled_shapes
from test_codegen import run_here as _run_here
from rnnshape import RNNSpec, SpecError
from rnnshape.codegen import CHECK_MARKER, STYLES, script

REPO = Path(__file__).resolve().parents[1]
ALL_DTYPES = ("float32", "float64", "float16", "bfloat16")

# Every mode and cell, relu, no bias, projection, both layouts, unbatched, an empty batch,
# 1-3 layers, both directions, packed sorted and unsorted (with ties), every --h0/--c0,
# every dtype, dropout.
CONFIGS = {
    "rnn_tanh": RNNSpec(),
    "rnn_tanh_3layers_batch_first_h0_zeros": RNNSpec(num_layers=3, batch_first=True, seq_len=6, batch_size=2, h0="zeros"),
    "rnn_relu_nobias_2layers_unbatched": RNNSpec(nonlinearity="relu", bias=False, num_layers=2, unbatched=True, seed=3),
    "rnn_bidirectional_2layers_h0_ones": RNNSpec(num_layers=2, bidirectional=True, h0="ones", input_size=4, hidden_size=6),
    "rnn_relu_bidirectional_unbatched_batch_first": RNNSpec(nonlinearity="relu", bidirectional=True, unbatched=True, batch_first=True),
    "rnn_empty_batch_2layers": RNNSpec(num_layers=2, batch_size=0),
    "lstm_2layers_h0_ones_c0_zeros": RNNSpec(mode="lstm", num_layers=2, h0="ones", c0="zeros"),
    "lstm_proj_3layers_batch_first_float64": RNNSpec(
        mode="lstm", proj_size=3, hidden_size=7, input_size=4, num_layers=3, batch_first=True, dtype="float64", seed=11
    ),
    "lstm_proj_bidirectional_2layers_unbatched_c0_ones": RNNSpec(
        mode="lstm", hidden_size=12, proj_size=5, num_layers=2, bidirectional=True, unbatched=True, seq_len=4, c0="ones"
    ),
    "lstm_nobias_bidirectional_bfloat16": RNNSpec(mode="lstm", bias=False, bidirectional=True, dtype="bfloat16", hidden_size=8, seq_len=3),
    "lstm_dropout_bidirectional_3layers_float64": RNNSpec(
        mode="lstm", num_layers=3, bidirectional=True, dropout=0.5, dtype="float64", input_size=3, hidden_size=5, seed=2
    ),
    "gru_3layers_float64_h0_zeros": RNNSpec(mode="gru", num_layers=3, dtype="float64", h0="zeros", input_size=5, hidden_size=6),
    "gru_nobias_unbatched": RNNSpec(mode="gru", bias=False, unbatched=True, input_size=4, hidden_size=6, seq_len=3),
    "gru_bidirectional_3layers_batch_first_h0_ones": RNNSpec(
        mode="gru", num_layers=3, bidirectional=True, batch_first=True, seq_len=6, batch_size=4, h0="ones"
    ),
    "gru_float16_2layers_dropout": RNNSpec(mode="gru", dtype="float16", num_layers=2, dropout=0.3, hidden_size=8),
    # Packed input.
    "rnn_packed_2layers": RNNSpec(num_layers=2, lengths=(5, 3, 2)),
    "rnn_relu_nobias_packed_unsorted_h0_ones": RNNSpec(nonlinearity="relu", bias=False, lengths=(2, 5, 3), enforce_sorted=False, h0="ones"),
    "rnn_packed_bidirectional_one_sequence_float16": RNNSpec(bidirectional=True, lengths=(4,), dtype="float16"),
    "gru_packed_bidirectional_2layers": RNNSpec(mode="gru", bidirectional=True, num_layers=2, lengths=(5, 3, 2)),
    "gru_packed_unsorted_batch_first_bfloat16_ties": RNNSpec(
        mode="gru", batch_first=True, lengths=(1, 3, 3), enforce_sorted=False, dtype="bfloat16", hidden_size=8
    ),
    "lstm_packed_proj_unsorted_batch_first_h0_zeros_c0_ones": RNNSpec(
        mode="lstm", proj_size=3, batch_first=True, lengths=(2, 5, 3), enforce_sorted=False, h0="zeros", c0="ones"
    ),
    "lstm_packed_bidirectional_3layers_float64_unsorted": RNNSpec(
        mode="lstm", bidirectional=True, num_layers=3, lengths=(1, 4, 4, 2), enforce_sorted=False,
        dtype="float64", input_size=3, hidden_size=6, dropout=0.5, seed=7,
    ),
    "lstm_packed_proj_bidirectional_nobias_batch_first": RNNSpec(
        mode="lstm", proj_size=2, hidden_size=5, bidirectional=True, bias=False, batch_first=True, lengths=(3, 3, 1)
    ),
    # Cells.
    "rnncell_tanh": RNNSpec(mode="rnncell"),
    "rnncell_relu_nobias_unbatched_float64_h0_zeros": RNNSpec(
        mode="rnncell", nonlinearity="relu", bias=False, unbatched=True, dtype="float64", h0="zeros"
    ),
    "lstmcell_h0_ones_c0_zeros": RNNSpec(mode="lstmcell", h0="ones", c0="zeros"),
    "lstmcell_nobias_unbatched_float16": RNNSpec(mode="lstmcell", bias=False, unbatched=True, dtype="float16", input_size=3, hidden_size=4),
    "lstmcell_float64_empty_batch": RNNSpec(mode="lstmcell", dtype="float64", batch_size=0),
    "grucell_float64": RNNSpec(mode="grucell", dtype="float64", input_size=6, hidden_size=5, seed=2),
    "grucell_nobias_bfloat16_unbatched_h0_ones": RNNSpec(mode="grucell", bias=False, dtype="bfloat16", unbatched=True, h0="ones"),
}


def run_here(source: str, folder: Path) -> Ran:
    """test_codegen's in-process run, from `folder`, named for this style."""
    return _run_here(source, folder, "<rnnshape code --style docs>")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Ran]:
    folder = tmp_path_factory.mktemp("docs_scripts")
    return {name: run_here(script(spec, style="docs"), folder) for name, spec in CONFIGS.items()}


def expected_docs_shapes(spec: RNNSpec) -> dict[str, tuple[int, ...]]:
    """As PyTorch documents them; packed input is compared in PackedSequence's own layout:
    data (sum of lengths, D*H_out), h_n (D*num_layers, N, H_out)."""
    if not spec.packed:
        return documented_shapes(spec)
    H_out, rows = spec.h_out, spec.num_directions * spec.num_layers
    shapes = {"packed_output.data": (sum(spec.lengths), spec.num_directions * H_out), "h_n": (rows, len(spec.lengths), H_out)}
    if spec.lstm:
        shapes["c_n"] = (rows, len(spec.lengths), spec.hidden_size)
    return shapes


def check_run(spec: RNNSpec, ran: Ran) -> None:
    assert ran.returncode == 0, ran.stderr
    printed = labelled_shapes(ran.stdout)
    if spec.is_cell:
        layer = spec.module_name.removesuffix("Cell")
        assert f"OK: the explicit step matches nn.{spec.module_name}, and the loop over it matches nn.{layer}" in ran.stdout
        expected_cell = documented_cell_shapes(spec)
        assert set(printed) == set(expected_cell), ran.stdout
        for name, (module, shape, reference) in expected_cell.items():
            assert printed[name] == (module, shape, reference, shape), (name, ran.stdout)
        return
    assert f"OK: the explicit loop matches nn.{spec.module_name}" in ran.stdout
    expected = expected_docs_shapes(spec)
    assert set(printed) == set(expected), ran.stdout
    for name, shape in expected.items():
        assert printed[name] == (f"nn.{spec.module_name}", shape, "loop", shape), (name, ran.stdout)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_docs_script_runs_and_matches_torch(runs, name):
    check_run(CONFIGS[name], runs[name])


# --- the check can fail ----------------------------------------------------------


def perturbed(spec: RNNSpec, line: str) -> str:
    text = script(spec, style="docs")
    assert text.count(CHECK_MARKER) == 1
    return text.replace(CHECK_MARKER, CHECK_MARKER + "\n" + line)


@pytest.mark.parametrize(
    "spec, line, names",
    [
        (RNNSpec(mode="lstm", num_layers=2), "output = output + 1e-3", {"output"}),
        # 1e-9 passes a float32 tolerance, not float64's 1e-12.
        (RNNSpec(mode="gru", bidirectional=True, dtype="float64"), "h_n = h_n + 1e-9", {"h_n"}),
        (RNNSpec(mode="lstm", num_layers=2, h0="ones", c0="zeros"), "c_n = c_n + 1e-3", {"c_n"}),
        (RNNSpec(mode="gru", lengths=(5, 3, 2), bidirectional=True), "packed_output.data.add_(1e-3)", {"packed_output.data"}),
        (RNNSpec(mode="lstm", lengths=(2, 5, 3), enforce_sorted=False), "c_n = c_n + 1e-3", {"c_n"}),
        # torch's h_n in sorted order instead of the original one: the check notices.
        (RNNSpec(lengths=(2, 5, 3), enforce_sorted=False), "h_n = h_n[:, packed_input.sorted_indices]", {"h_n"}),
        (RNNSpec(mode="lstmcell"), "h_1 = h_1 + 1e-3", {"h_1"}),
        (RNNSpec(mode="lstmcell", unbatched=True), "last_c = last_c + 1e-3", {"c_n[0]"}),
        # 1e-3 is within bfloat16's tolerance, 0.5 is not.
        (RNNSpec(mode="grucell", dtype="bfloat16"), "cell_output = cell_output + 0.5", {"output"}),
    ],
    ids=["lstm_output", "gru_bidirectional_float64_h_n", "lstm_c_n", "gru_packed_data", "lstm_packed_unsorted_c_n",
         "rnn_packed_sorted_h_n", "lstmcell_h_1", "lstmcell_last_c", "grucell_bfloat16_output"],
)
def test_a_perturbed_docs_script_fails(tmp_path, spec, line, names):
    ran = run_here(perturbed(spec, line), tmp_path)
    assert ran.returncode == 1, ran.stdout
    assert "OK" not in ran.stdout
    assert ran.stderr.startswith("MISMATCH: "), ran.stderr
    assert failed_names(ran) == names, ran.stderr


def test_the_old_documentation_mistakes_fail(tmp_path):
    """What earlier versions of the documented loop did: every layer reading x[t], and
    h_t[-1] appended without clone(). (input_size == hidden_size, so x[t] fits every layer.)"""
    spec = RNNSpec(num_layers=2, input_size=6, hidden_size=6)
    text = script(spec, style="docs")
    reads_below = "input_t = x[t] if layer == 0 else h_t[layer - 1]"
    appends_clone = "output.append(h_t[-1].clone())"
    assert text.count(reads_below) == 1 and text.count(appends_clone) == 1
    every_layer_reads_x = run_here(text.replace(reads_below, "input_t = x[t]"), tmp_path)
    assert every_layer_reads_x.returncode == 1 and failed_names(every_layer_reads_x) == {"output", "h_n"}
    no_clone = run_here(text.replace(appends_clone, "output.append(h_t[-1])"), tmp_path)
    assert no_clone.returncode == 1 and failed_names(no_clone) == {"output"}


def test_unsorted_packed_input_needs_h_0_in_sorted_order(tmp_path):
    """PackedSequence's data is sorted longest first: leave h_0 in the batch's own order and
    each sequence starts from another's state, or leave h_n sorted and the rows are swapped."""
    spec = RNNSpec(mode="lstm", lengths=(2, 5, 3), enforce_sorted=False, num_layers=2)
    text = script(spec, style="docs")
    sort_in, sort_out = "    h_0 = h_0[:, packed_input.sorted_indices]\n", "    h_t = h_t[:, packed_input.unsorted_indices]"
    assert text.count(sort_in) == 1 and text.count(sort_out) == 1
    unsorted_h_0 = run_here(text.replace(sort_in, ""), tmp_path)
    assert unsorted_h_0.returncode == 1 and failed_names(unsorted_h_0) == {"packed_output.data", "h_n", "c_n"}
    sorted_h_n = run_here(text.replace(sort_out, "    pass"), tmp_path)
    assert sorted_h_n.returncode == 1 and failed_names(sorted_h_n) == {"h_n"}


# --- the structure of the loop ---------------------------------------------------


def code_lines(text: str) -> str:
    """The script without its docstring and comments: what actually runs."""
    body = text.split('"""', 2)[2]
    return "\n".join(line.split("#", 1)[0].rstrip() for line in body.splitlines())


def indent_of(code: str, line: str) -> int:
    """The indentation of the one line of `code` that starts (after spaces) with `line`."""
    found = [len(row) - len(row.lstrip()) for row in code.splitlines() if row.lstrip().startswith(line)]
    assert len(found) == 1, (line, found)
    return found[0]


def docs_specs():
    return st.one_of(
        layer_specs(max_size=12, max_layers=4, max_seq_len=6, max_batch=4, dropouts=(0.0, 0.5), dtypes=ALL_DTYPES),
        packed_specs(max_length=6, max_sequences=4, dtypes=ALL_DTYPES, dropouts=(0.0, 0.5)),
        cell_specs(dtypes=ALL_DTYPES),
    ).flatmap(lambda spec: st.sampled_from(("randn", "zeros", "ones")).map(lambda h0: _with(spec, h0=h0)))


def _with(spec: RNNSpec, **changes: Any) -> RNNSpec:
    fields = spec.to_dict() | changes
    if spec.packed:  # seq_len and batch_size follow from the lengths
        fields.pop("seq_len"), fields.pop("batch_size")
    return RNNSpec(**fields)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs_specs())
def test_docs_script_has_the_documentations_structure(spec):
    text = script(spec, style="docs")
    compile(text, "<rnnshape code --style docs>", "exec")
    code = code_lines(text)
    assert re.findall(r"^[ \t]*(?:import|from) .*$", code, re.M) == ["import torch"]
    assert text.count(CHECK_MARKER) == 1
    assert command_in(text)[-2:] == ["--style", "docs"]
    # Only the branches this config takes.
    assert ("bias_ih" in code) == spec.bias
    assert ("_reverse" in code) == spec.bidirectional
    assert ("weight_hr" in code) == bool(spec.proj_size)
    assert ("torch.relu" in code) == (spec.nonlinearity == "relu")
    assert ("unsorted_indices" in code) == (spec.packed and not spec.enforce_sorted)
    assert ("transpose" in code) == (spec.batch_first and not spec.unbatched and not spec.packed)
    assert (".float()" in code) == (spec.dtype in ("float16", "bfloat16"))
    assert ("c_0" in code) == spec.lstm
    if spec.is_cell:
        layer = spec.module_name.removesuffix("Cell")
        assert f"torch.nn.{layer}(" in code
        assert indent_of(code, "for t in range(seq_len):") < indent_of(code, "output.append(h_t)")
        return
    time_loop = "for t in range(len(batch_sizes)):" if spec.packed else "for t in range(seq_len):"
    layer_loop = "for layer in range(NUM_LAYERS):"
    if spec.bidirectional:
        # Layers outside; inside each, one loop over time per direction.
        reverse = time_loop.replace("in range(", "in reversed(range(").replace("):", ")):")
        assert indent_of(code, layer_loop) < indent_of(code, time_loop) == indent_of(code, reverse)
        assert code.index(layer_loop) < code.index(time_loop) < code.index(reverse)
        assert "A bidirectional stack cannot keep time outermost" in text
    else:
        # Time outside, layers inside, as the documentation loops.
        assert indent_of(code, time_loop) < indent_of(code, layer_loop)
        assert code.index(time_loop) < code.index(layer_loop)
        assert "h_t_minus_1 = h_t.clone()" in code
        row = "h_t[layer, :running]" if spec.packed else "h_t[layer]"
        if spec.mode == "rnn":
            assert f"{row} = torch.{spec.nonlinearity}(" in code
        else:
            assert f"{row} = " in code
        if spec.num_layers > 1:
            below = "h_t[layer - 1, :running]" if spec.packed else "h_t[layer - 1]"
            assert f"input_t = x[t] if layer == 0 else {below}" in code
    if spec.packed:
        assert "running = batch_sizes[t]" in code


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(docs_specs())
def test_random_docs_scripts_match_torch(tmp_path, spec):
    check_run(spec, run_here(script(spec, style="docs"), tmp_path))


def test_rnn_tanh_reads_as_the_documentation():
    text = script(RNNSpec(num_layers=2), style="docs")
    for line in (
        "for t in range(seq_len):",
        "        for layer in range(NUM_LAYERS):",
        "            input_t = x[t] if layer == 0 else h_t[layer - 1]",
        "            h_t[layer] = torch.tanh(",
        '                input_t @ params[f"weight_ih_l{layer}"].T',
        '                + h_t_minus_1[layer] @ params[f"weight_hh_l{layer}"].T',
        '                + params[f"bias_hh_l{layer}"]',
        '                + params[f"bias_ih_l{layer}"]',
        "        output.append(h_t[-1].clone())",
        "        h_t_minus_1 = h_t.clone()",
    ):
        assert re.search(rf"^\s*{re.escape(line.strip())}(\s+#.*)?$", text, re.M), line
    layers_text = script(RNNSpec(num_layers=2))
    assert "h_t[layer] = torch.tanh(" not in layers_text


def test_bidirectional_explains_why_time_is_not_outermost():
    text = script(RNNSpec(mode="lstm", bidirectional=True, num_layers=2), style="docs")
    assert "the reverse direction's step t needs the layer below at every step" in text
    assert "h_t_plus_1" in text and "reversed(range(seq_len))" in text


# --- --h0 and --c0, in both styles ---------------------------------------------------

STATE_CASES = {
    "lstm_h0_ones_c0_zeros": RNNSpec(mode="lstm", num_layers=2, h0="ones", c0="zeros"),
    "gru_bidirectional_h0_zeros": RNNSpec(mode="gru", bidirectional=True, h0="zeros"),
    "rnn_packed_unsorted_h0_ones": RNNSpec(lengths=(2, 4, 3), enforce_sorted=False, h0="ones"),
    "lstmcell_h0_zeros_c0_ones": RNNSpec(mode="lstmcell", h0="zeros", c0="ones"),
    "grucell_unbatched_h0_ones": RNNSpec(mode="grucell", unbatched=True, h0="ones"),
}
FILLS = {"zeros": 0.0, "ones": 1.0}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", list(STATE_CASES))
def test_h0_and_c0_are_fed_as_asked(tmp_path, name, style):
    spec = STATE_CASES[name]
    text = script(spec, style=style)
    for state, init in (("h_0", spec.h0), ("c_0", spec.c0)):
        if state == "c_0" and not spec.lstm:
            continue
        assert re.search(rf"^{state} = torch\.{init}\(", text, re.M), (state, init)
    ran = run_here(text, tmp_path)
    assert ran.returncode == 0, ran.stderr
    h_0 = ran.namespace["h_0"]
    if spec.h0 == "randn":
        assert h_0.std() > 0
    else:
        assert (h_0 == FILLS[spec.h0]).all()
    if spec.lstm:
        c_0 = ran.namespace["c_0"]
        assert (c_0 == FILLS[spec.c0]).all() if spec.c0 != "randn" else c_0.std() > 0


def test_a_randn_state_is_drawn_as_before():
    """--h0 randn (the default) writes exactly what `rnnshape code` always wrote."""
    text = script(RNNSpec(mode="lstm"))
    assert "h_0 = torch.randn(NUM_LAYERS, N, H_out, dtype=torch.float32)\n" in text
    assert "c_0 = torch.randn(NUM_LAYERS, N, H, dtype=torch.float32)  # the cell state is never projected: H, not H_out\n" in text


# --- the command line ---------------------------------------------------------------


def test_layers_is_the_default_style():
    spec = RNNSpec(mode="gru", num_layers=2, bidirectional=True)
    default = script(spec)
    assert script(spec, style="layers") == default == cli_script(["--mode", "gru", "--layers", "2", "--bidirectional", "--style", "layers"])
    assert "--style" not in default
    assert cli_script(["--mode", "gru", "--layers", "2", "--bidirectional", "--style", "docs"]) == script(spec, style="docs") != default


@pytest.mark.parametrize(
    "spec",
    [
        RNNSpec(mode="lstm", num_layers=2, h0="ones", c0="zeros"),
        RNNSpec(mode="gru", lengths=(2, 5, 3), enforce_sorted=False, batch_first=True, bidirectional=True),
        RNNSpec(mode="rnncell", nonlinearity="relu", unbatched=True, h0="zeros"),
    ],
    ids=["lstm_states", "gru_packed", "rnncell"],
)
def test_the_command_in_the_docstring_regenerates_the_docs_script(spec):
    text = script(spec, style="docs")
    flags = command_in(text)
    assert flags[-2:] == ["--style", "docs"]
    assert cli_script(flags) == text


def test_a_bad_style_is_refused():
    with pytest.raises(SpecError, match=r"^style must be one of layers, docs \(got 'x'\)$"):
        script(RNNSpec(), style="x")
    # The CLI: one line on stderr, exit 2, and neither torch nor the probe imported.
    driver = (
        "import sys\n"
        "from rnnshape.cli import app\n"
        "try:\n"
        "    app(['code', '--style', 'x'], prog_name='rnnshape')\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, 'torch' in sys.modules, 'rnnshape.probe' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.stdout.split() == ["2", "False", "False"], (proc.stdout, proc.stderr)
    assert proc.stderr == "error: --style must be one of layers, docs (got 'x')\n"
