"""inspect --train: grads, dropout and saved bytes, each checked against torch driven from here.

Every comparison builds its own torch module with keyword arguments and counts or
compares by itself; small sizes, in-process, so that the whole file takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnnshape import RNNSpec, inspect, probe, training
from rnnshape.cli import app
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.render import render
from rnnshape.schema import schema

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU,
           "rnncell": torch.nn.RNNCell, "lstmcell": torch.nn.LSTMCell, "grucell": torch.nn.GRUCell}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
SMALL = dict(input_size=3, hidden_size=4)


def cli(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


# --- torch, driven from here --------------------------------------------------------------


def build(spec: RNNSpec) -> torch.nn.Module:
    kwargs = dict(input_size=spec.input_size, hidden_size=spec.hidden_size, bias=spec.bias)
    if not spec.is_cell:
        kwargs.update(num_layers=spec.num_layers, batch_first=spec.batch_first, dropout=spec.dropout,
                      bidirectional=spec.bidirectional)
    if spec.mode in ("rnn", "rnncell"):
        kwargs["nonlinearity"] = spec.nonlinearity
    if spec.mode == "lstm":
        kwargs["proj_size"] = spec.proj_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        return MODULES[spec.mode](**kwargs, dtype=DTYPES[spec.dtype])


def inputs(spec: RNNSpec) -> dict[str, torch.Tensor]:
    """As PyTorch's docs shape them, drawn as rnnshape documents its draw: input, h_0, c_0 from one generator."""
    L, N, H_in, H = spec.seq_len, spec.batch_size, spec.input_size, spec.hidden_size
    if spec.is_cell:
        x_shape, h_shape, c_shape = ((H_in,), (H,), (H,)) if spec.unbatched else ((N, H_in), (N, H), (N, H))
    else:
        rows, H_out = spec.num_layers * (2 if spec.bidirectional else 1), spec.proj_size or H
        x_shape = (L, H_in) if spec.unbatched else (N, L, H_in) if spec.batch_first else (L, N, H_in)
        h_shape, c_shape = ((rows, H_out), (rows, H)) if spec.unbatched else ((rows, N, H_out), (rows, N, H))
    g = torch.Generator().manual_seed(spec.seed)
    named = {"input": torch.randn(x_shape, generator=g), "h_0": torch.randn(h_shape, generator=g)}
    if "lstm" in spec.mode:
        named["c_0"] = torch.randn(c_shape, generator=g)
    return {k: v.to(DTYPES[spec.dtype]).requires_grad_(True) for k, v in named.items()}


def pack(spec: RNNSpec, named: dict[str, torch.Tensor]):
    if not spec.packed:
        return named["input"]
    return torch.nn.utils.rnn.pack_padded_sequence(named["input"], torch.tensor(spec.lengths), batch_first=spec.batch_first,
                                                   enforce_sorted=spec.enforce_sorted)


def call(spec: RNNSpec, module: torch.nn.Module, named: dict[str, torch.Tensor], x=None):
    x = pack(spec, named) if x is None else x
    state = (named["h_0"], named["c_0"]) if "c_0" in named else named["h_0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return module(x, state)


def saved_bytes(spec: RNNSpec, onednn: bool = True) -> int:
    """The test's own count: bytes of the distinct storages (by data_ptr) saved in one train-mode module call, parameters
    excluded (packed input: packed beforehand, so that pack_padded_sequence's own index tensors are not the layer's)."""
    module = build(spec).train()
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    seen: dict[int, int] = {}

    def keep(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    named = inputs(spec)
    x = pack(spec, named)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mkldnn.flags' TF32 notice
        with torch.backends.mkldnn.flags(enabled=onednn), torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            call(spec, module, named, x)
    return sum(seen.values())


# --- every mode: grads and saved bytes against torch ------------------------------------------

MODES = [
    dict(mode="rnn"),
    dict(mode="gru", num_layers=2, bidirectional=True, dropout=0.5),
    dict(mode="lstm", num_layers=2, dropout=0.5),  # float32 on the CPU: oneDNN's fused kernel
    dict(mode="lstm", num_layers=3, bidirectional=True, proj_size=2, dropout=0.3),
    dict(mode="rnn", nonlinearity="relu", bias=False, batch_first=True, num_layers=2),
    dict(mode="lstm", unbatched=True, bidirectional=True),
    dict(mode="gru", lengths=(4, 2, 3), enforce_sorted=False, num_layers=2, dropout=0.5),
    dict(mode="lstm", lengths=(3, 3, 1), bidirectional=True),
    dict(mode="rnncell"), dict(mode="grucell", unbatched=True), dict(mode="lstmcell"),
    dict(mode="gru", dtype="float64", h0="zeros"),
    dict(mode="lstm", dtype="float16", num_layers=2, dropout=0.5),
    dict(mode="gru", dtype="bfloat16", batch_first=True),
]


@pytest.mark.parametrize("fields", MODES, ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()))
def test_grads_and_saved_bytes_match_torch(fields):
    spec = RNNSpec(**SMALL, **fields)
    report = inspect(spec, train=True)
    assert report.ok, report.failed_checks
    t = report.training

    module = build(spec)
    expected = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    assert [(g.name, g.shape) for g in t.parameters] == expected
    assert all(g.grad_shape == g.shape and g.requires_grad for g in t.gradients)
    assert [(g.name, g.shape) for g in t.inputs] == [(k, tuple(v.shape)) for k, v in inputs(spec).items()]

    assert t.saved.measured == saved_bytes(spec)
    assert t.saved.estimated == next(i["value"] for i in report_costs(report) if i["key"] == "activation_bytes_training")
    if t.saved.estimated:
        assert t.saved.ratio == t.saved.measured / t.saved.estimated


def report_costs(report):
    return report.to_dict()["cost"]["items"]


def test_the_saved_bytes_comparison_can_fail():
    """Control: oneDNN off, the test's own count differs from what the default (oneDNN) run saved."""
    spec = RNNSpec(**SMALL, mode="lstm", num_layers=2)
    t = inspect(spec, train=True).training
    assert t.saved.fused and t.saved.path == "onednn"
    assert saved_bytes(spec, onednn=False) != t.saved.measured
    # ... and that other count is the one the estimate models (the decomposed path).
    assert saved_bytes(spec, onednn=False) == t.saved.estimated
    text = render(inspect(spec, train=True), "table")
    assert "they differ: both shown" in text and f"{t.saved.ratio:.3g}" in text


def test_grads_really_come_from_backward():
    """The input's grad is torch's: with the sum loss, d(loss)/d(input) is what the test's own backward gives."""
    spec = RNNSpec(**SMALL, mode="gru", num_layers=2)
    module, named = probe.build(spec).train(), inputs(spec)
    output, h_n = call(spec, module, named)
    (output.sum() + h_n.sum()).backward()
    t = inspect(spec, train=True).training
    assert t.loss == "output.sum() + h_n.sum()"
    assert {g.name: g.grad_shape for g in t.inputs} == {k: tuple(v.grad.shape) for k, v in named.items()}


def test_meta_gives_grad_shapes_and_the_decomposed_bytes_without_values():
    spec = RNNSpec(**SMALL, mode="lstm", num_layers=2, dropout=0.5, device="meta")
    report = inspect(spec, train=True)
    t = report.training
    assert report.ok and all(g.held for g in t.gradients)
    assert t.saved.measured == t.saved.estimated == saved_bytes(RNNSpec(**SMALL, mode="lstm", num_layers=2, dropout=0.5), onednn=False)
    assert all(d.changed is None for d in t.dropout) and "no values" in t.dropout_note


# --- dropout --------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    dict(mode="lstm", num_layers=2), dict(mode="gru", num_layers=3, bidirectional=True), dict(mode="rnn", num_layers=3, unbatched=True),
], ids=["lstm-2", "gru-3-bi", "rnn-3-unbatched"])
def test_dropout_changes_what_a_manual_eval_and_train_run_change(fields):
    spec = RNNSpec(**SMALL, **fields, dropout=0.5, seed=7)
    t = inspect(spec, train=True).training
    # The test's own runs: rnnshape's weights, the documented draw, then eval and train mode.
    module, named = probe.build(spec), inputs(spec)
    module.eval()
    before = call(spec, module, named)
    module.train()
    torch.manual_seed(spec.seed)  # dropout's masks: torch's global generator, seeded as documented
    after = call(spec, module, named)
    pairs = {"output": (before[0], after[0])}
    states = ("h_n", "c_n") if spec.mode == "lstm" else ("h_n",)
    eval_states = before[1] if spec.mode == "lstm" else (before[1],)
    train_states = after[1] if spec.mode == "lstm" else (after[1],)
    for name, a, b in zip(states, eval_states, train_states):
        for row in range(a.shape[0]):
            pairs[f"{name}[{row}]"] = (a[row], b[row])
    D = 2 if spec.bidirectional else 1
    seen = {d.label: d for d in t.dropout}
    assert set(seen) == set(pairs)
    for label, (a, b) in pairs.items():
        differing = int((a != b).sum())
        assert seen[label].differing == differing, label
        row = int(label.split("[")[1][:-1]) if "[" in label else None
        if row is not None and row // D == 0:
            assert differing == 0, f"{label}: layer 0 is computed before any dropout"
        else:
            assert differing > 0, f"{label}: reads a dropped input"
    assert "layer 0's h_n" in t.dropout_note and "untouched" in t.dropout_note


@pytest.mark.parametrize("fields,why", [
    (dict(mode="lstm", num_layers=2, dropout=0.0), "dropout is 0"),
    (dict(mode="gru", num_layers=1, dropout=0.5), "one layer"),
    (dict(mode="lstmcell"), "a cell has no dropout"),
])
def test_without_dropout_between_layers_nothing_changes(fields, why):
    t = inspect(RNNSpec(**SMALL, **fields), train=True).training
    assert why in t.dropout_note and "nothing changes" in t.dropout_note
    assert all(d.changed is False and d.differing == 0 and not d.predicted for d in t.dropout)


def test_a_dropout_check_can_fail(monkeypatch):
    """Control: predicting that dropout changes nothing with p = 0.5 fails the checks, and the command exits 1."""
    monkeypatch.setattr(training, "dropout_acts", lambda spec: False)
    report = inspect(RNNSpec(**SMALL, mode="gru", num_layers=2, dropout=0.5), train=True)
    failed = [c.name for c in report.failed_checks]
    assert not report.ok and "dropout: output in train mode vs eval mode" in failed and "dropout: h_n[1] in train mode vs eval mode" in failed
    assert "dropout: h_n[0] in train mode vs eval mode" not in failed
    result = cli("inspect", "--mode", "gru", "--layers", "2", "--dropout", "0.5", "--train")
    assert result.exit_code == 1 and result.stderr.startswith("failed: ")


# --- reproducible, and the caller's random state left alone ------------------------------------


def test_same_answer_whatever_the_global_generator_and_threads_and_it_is_restored():
    spec = RNNSpec(**SMALL, mode="lstm", num_layers=3, dropout=0.5, bidirectional=True)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = inspect(spec, train=True).to_dict()
    assert torch.equal(torch.get_rng_state(), state)  # restored
    torch.rand(1000)  # another state before the call
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        second = inspect(spec, train=True).to_dict()
    finally:
        torch.set_num_threads(threads)
    assert json.dumps(first) == json.dumps(second)


def test_the_masks_come_from_the_global_generator_seeded_from_the_spec_then_put_back():
    spec = RNNSpec(seed=42)
    before = torch.get_rng_state()
    with training._seeded_generator(torch, spec, torch.device("cpu")):
        drawn = torch.rand(5)  # what dropout's bernoulli_ draws from
    assert torch.equal(drawn, torch.rand(5, generator=torch.Generator().manual_seed(42)))
    assert torch.equal(torch.get_rng_state(), before)


def test_the_cli_prints_the_same_bytes_twice():
    args = ("inspect", "--mode", "gru", "--layers", "2", "--dropout", "0.5", "--train", "-f", "json")
    one, two = cli(*args), cli(*args)
    assert one.exit_code == 0 and one.stdout == two.stdout


# --- output: table, json (and its schema), csv, sections ----------------------------------------


def test_json_validates_and_is_null_without_train():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema("inspect"))
    trained = json.loads(cli("inspect", "--mode", "lstm", "--lengths", "3,1", "--train", "-f", "json").stdout)
    validator.validate(trained)
    assert trained["training"]["saved_bytes"]["measured"] > 0
    plain = json.loads(cli("inspect", "-f", "json").stdout)
    validator.validate(plain)
    assert plain["training"] is None
    trained["training"]["gradients"][0]["grad_shape"] = "(5, 3)"  # the schema has teeth
    assert not validator.is_valid(trained)


def test_table_markdown_csv_and_sections():
    args = ("inspect", "--mode", "lstm", "--layers", "2", "--dropout", "0.5", "--train")
    table = cli(*args).stdout
    for words in ("training: one forward and backward in train mode, loss = output.sum() + h_n.sum() + c_n.sum()",
                  "dropout p = 0.5: train mode against eval mode", "bytes autograd saved for backward",
                  "h_n[0]   0 forward   untouched", "measured / estimated", "in the layer's forward"):
        assert words in table, words
    only = cli(*args, "--sections", "training").stdout
    assert only.startswith("training: one forward") and "totals" not in only
    brief = cli(*args, "--brief").stdout
    assert "bytes autograd saved" in brief and "cost of one forward" not in brief
    assert "| `h_n[0]` | 0 forward | untouched |" in cli(*args, "-f", "markdown").stdout
    header, first = cli(*args, "-f", "csv").stdout.splitlines()[:2]
    assert header.endswith(",observed,requires_grad,grad_shape") and first.endswith(",true,true,80x10")
    assert cli("inspect", "-f", "csv").stdout.splitlines()[0].endswith(",observed")  # without --train: as before
    assert "training:" not in cli("inspect").stdout


# --- refusals ------------------------------------------------------------------------------------


def test_train_with_no_run_is_one_line_and_exit_2_without_torch():
    result = cli("inspect", "--train", "--no-run")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --train needs a run") and result.stderr.count("\n") == 1
    with pytest.raises(SpecError) as caught:
        inspect(RNNSpec(), run=False, train=True)
    assert caught.value.field == "train"
    # Refused before torch is imported.
    code = ("import sys\nfrom rnnshape.cli import app\ntry:\n    app(['inspect', '--train', '--no-run'], prog_name='rnnshape')\n"
            "except SystemExit as e:\n    print(e.code, 'torch' in sys.modules, 'rnnshape.probe' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=60)
    assert out.stdout.split() == ["2", "False", "False"], out.stderr


def test_a_live_module_is_refused():
    with pytest.raises(SpecError, match="RNNSpec"):
        inspect(torch.nn.GRU(input_size=3, hidden_size=4), train=True)


def test_the_memory_guard_counts_the_training_run():
    spec = RNNSpec(**SMALL, mode="lstm", num_layers=2)
    from rnnshape import theory

    inference, trained = theory.run_bytes(spec), training.run_bytes(spec)
    assert trained > inference
    between = str((inference + trained) // 2)
    assert cli("inspect", "--mode", "lstm", "--input-size", "3", "--hidden-size", "4", "--layers", "2", "--max-memory", between).exit_code == 0
    result = cli("inspect", "--mode", "lstm", "--input-size", "3", "--hidden-size", "4", "--layers", "2", "--max-memory", between, "--train")
    assert result.exit_code == 3 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --max-memory: this training run")


def test_a_dtype_torch_cannot_train_is_exit_3_in_one_line(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise RuntimeError('"addmm_impl_cpu_" not implemented for \'Half\'\nmore detail')

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    with pytest.raises(EnvironmentProblem, match="cannot train nn.GRU in float16 on cpu"):
        inspect(RNNSpec(**SMALL, mode="gru", dtype="float16"), train=True)
    result = cli("inspect", "--mode", "gru", "--dtype", "float16", "--train")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1 and "not implemented for 'Half'" in result.stderr
