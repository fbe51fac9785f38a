"""rnnshape.checkpoint_report against checkpoints built here, saved the ways people save them.

Every expected value comes from torch's own modules and tensors (their
attributes, numel, min/max/mean/std), never from rnnshape's output.
File safety and foreign files are covered in test_checkpoint_files.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings

from rnnshape import RNNSpec, probe
from rnnshape.checkpoint_report import checkpoint
from rnnshape.errors import FileProblem, SpecError
from rnnshape.render import render
from strategies import cell_specs
from test_state_dict import LAYER_KEYS, Model
from test_theory_vs_torch import build_torch, configs, documented_shapes

GOLDEN = Path(__file__).parent / "golden"


def torch_config(module: torch.nn.Module) -> dict:
    """A module's config as torch itself holds it (its attributes), in RNNSpec's words."""
    if isinstance(module, torch.nn.modules.rnn.RNNCellBase):
        mode = type(module).__name__.lower()
        return dict(mode=mode, input_size=module.input_size, hidden_size=module.hidden_size, num_layers=1,
                    bias=module.bias, bidirectional=False, proj_size=0)
    return dict(mode=module.mode.lower().replace("rnn_tanh", "rnn").replace("rnn_relu", "rnn"), input_size=module.input_size,
                hidden_size=module.hidden_size, num_layers=module.num_layers, bias=module.bias,
                bidirectional=module.bidirectional, proj_size=getattr(module, "proj_size", 0))


def config_of(layer) -> dict:
    return {k: v for k, v in layer.report.spec.to_dict().items() if k in LAYER_KEYS}


def saved(tmp_path: Path, obj, name: str = "model.pt") -> str:
    path = tmp_path / name
    torch.save(obj, path)
    return str(path)


def model() -> Model:
    torch.manual_seed(0)
    return Model()


# --- every way a state_dict is wrapped ---------------------------------------

def _lightning(sd):
    return {"state_dict": {"model." + k: v for k, v in sd.items()}, "optimizer_states": [{"state": {}}], "global_step": 10}


WRAPS = {
    "bare state_dict": (lambda sd: sd, ""),
    "under 'model', beside an optimizer": (lambda sd: {"epoch": 3, "model": sd, "optimizer": {"lr": 0.1}}, "model."),
    "under 'state_dict', keys prefixed model.": (_lightning, "state_dict.model."),
}


@pytest.mark.parametrize("wrap", sorted(WRAPS))
def test_every_layer_of_a_nested_model_is_found_wherever_the_state_dict_lies(tmp_path, wrap):
    net = model()
    make, qualifier = WRAPS[wrap]
    report = checkpoint(saved(tmp_path, make(net.state_dict())))
    parts = {"encoder.rnn": net.encoder.rnn, "decoder": net.decoder, "step": net.step}
    assert [layer.name for layer in report.layers] == [qualifier + name for name in parts]
    for layer, module in zip(report.layers, parts.values()):
        assert config_of(layer) == torch_config(module)
        assert layer.report.observed_total == sum(p.numel() for p in module.parameters())
        assert layer.report.ok, layer.report.failed_checks
    assert report.inconsistent == [] and report.ok


def test_dataparallel_prefix_is_kept_and_layers_are_found(tmp_path):
    net = torch.nn.DataParallel(model())  # on a machine without GPUs it only wraps: keys gain module.
    report = checkpoint(saved(tmp_path, net.state_dict()))
    assert [layer.prefix for layer in report.layers] == ["module.encoder.rnn", "module.decoder", "module.step"]
    assert config_of(report.layers[0]) == torch_config(net.module.encoder.rnn)
    # --layer takes the end of a name: what the model calls it, without DataParallel's module.
    path = saved(tmp_path, {"model": net.state_dict()}, "wrapped.pt")
    assert [layer.name for layer in checkpoint(path, layer="encoder.rnn").layers] == ["model.module.encoder.rnn"]


def test_a_layer_saved_on_its_own_has_no_prefix(tmp_path):
    lstm = torch.nn.LSTM(3, 5, num_layers=3, proj_size=2)
    (layer,) = checkpoint(saved(tmp_path, lstm.state_dict())).layers
    assert (layer.name, layer.prefix) == ("", "")
    assert config_of(layer) == torch_config(lstm)


# --- statistics and the init bound ------------------------------------------

def test_statistics_are_the_saved_tensors_own(tmp_path):
    net = model()
    report = checkpoint(saved(tmp_path, net.state_dict()), layer="encoder.rnn")
    (layer,) = report.layers
    tensors = dict(net.encoder.rnn.named_parameters())
    for p in layer.report.observation.parameters:
        t = tensors[p.name].detach().double()
        assert (p.min, p.max) == (t.min().item(), t.max().item())
        assert p.mean == pytest.approx(t.mean().item(), rel=1e-12, abs=1e-15)
        assert p.std == pytest.approx(t.std().item(), rel=1e-12)
    entry = layer.to_dict()["parameters"][0]
    assert entry["key"] == "encoder.rnn.weight_ih_l0" and entry["non_finite"] == 0


def test_fresh_layer_looks_untrained_and_a_trained_one_does_not(tmp_path):
    torch.manual_seed(1)
    fresh = torch.nn.LSTM(8, 32)
    (layer,) = checkpoint(saved(tmp_path, fresh.state_dict(), "fresh.pt")).layers
    assert layer.within_init_bound is True
    assert layer.init_hint.startswith("looks untrained")
    std, init_std = layer.spread
    everything = torch.cat([p.detach().flatten().double() for p in fresh.parameters()])
    assert std == pytest.approx(everything.std().item(), rel=1e-9)  # pooled std == the std of all values
    assert init_std == pytest.approx(1 / math.sqrt(32) / math.sqrt(3))

    with torch.no_grad():
        fresh.weight_hh_l0.mul_(3)  # as training would move it
    (layer,) = checkpoint(saved(tmp_path, fresh.state_dict(), "trained.pt")).layers
    assert layer.within_init_bound is False
    assert "1 of 4 parameters have values beyond the init bound" in layer.init_hint
    assert [p.within_bound for p in layer.report.observation.parameters] == [True, False, True, True]
    assert layer.report.ok  # trained weights are a fact, not a failed check

    with torch.no_grad():
        for p in fresh.parameters():
            p.mul_(0.1)  # inside the bound, but not spread like the init
    (layer,) = checkpoint(saved(tmp_path, fresh.state_dict(), "shrunk.pt")).layers
    assert layer.within_init_bound is True and "spread unlike the init" in layer.init_hint


def test_a_layer_too_small_to_judge_by_its_spread_says_so(tmp_path):
    (layer,) = checkpoint(saved(tmp_path, torch.nn.RNN(1, 1, bias=False).state_dict())).layers
    assert layer.within_init_bound is True and layer.spread is None
    assert layer.init_hint.endswith("2 values are too few to tell an init by its spread")


def test_non_finite_values_are_counted_and_left_out_of_the_statistics(tmp_path):
    gru = torch.nn.GRU(2, 3)
    with torch.no_grad():
        gru.bias_hh_l0[0] = float("nan")
        gru.bias_hh_l0[1] = float("inf")
    (layer,) = checkpoint(saved(tmp_path, gru.state_dict()), run=True).layers
    bias = next(p for p in layer.report.observation.parameters if p.name == "bias_hh_l0")
    finite = gru.bias_hh_l0.detach().double()[2:]
    assert bias.non_finite == 2 and bias.within_bound is False
    assert layer.init_hint == "1 of 4 parameters hold NaN or inf values (bias_hh_l0)"
    assert bias.max == finite.max().item()
    json.dumps(layer.to_dict(), allow_nan=False)  # valid JSON: no NaN leaks into a statistic


# --- dtype, overrides, selection ---------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_the_run_uses_the_files_dtype_unless_told(tmp_path, dtype):
    rnn = torch.nn.RNN(4, 6).to(dtype)
    path = saved(tmp_path, rnn.state_dict())
    (layer,) = checkpoint(path).layers
    assert layer.report.spec.dtype == layer.file_dtype == str(dtype).removeprefix("torch.")
    assert layer.report.observation.parameters[0].min == rnn.weight_ih_l0.min().item()  # the saved values, unrounded
    (layer,) = checkpoint(path, dtype="float32").layers
    assert layer.report.spec.dtype == "float32" and layer.file_dtype == str(dtype).removeprefix("torch.")


def test_dummy_run_flags_reach_every_layer(tmp_path):
    rnn = torch.nn.RNN(4, 6, num_layers=2, bidirectional=True)
    path = saved(tmp_path, rnn.state_dict())
    (layer,) = checkpoint(path, seq_len=7, batch_size=2, batch_first=True, nonlinearity="relu").layers
    cfg = dict(torch_config(rnn), batch_first=True, seq_len=7, batch_size=2, unbatched=False)
    shapes = {name: t["shape"] for name, t in layer.to_dict()["tensors"].items()}
    assert shapes == documented_shapes(cfg)
    assert layer.report.spec.nonlinearity == "relu"
    assert "nonlinearity" not in layer.assumed and "batch_first" not in layer.assumed and "dropout" in layer.assumed


def test_the_saved_weights_are_the_ones_that_run():
    gru = torch.nn.GRU(3, 4, num_layers=2)
    spec = RNNSpec(mode="gru", input_size=3, hidden_size=4, num_layers=2)
    ran = probe.run(spec, weights=gru.state_dict())
    for name, value in gru.state_dict().items():
        assert torch.equal(ran.module.state_dict()[name], value)
    output, h_n = gru.eval()(ran.input, ran.h_0)
    assert torch.equal(output, ran.output) and torch.equal(h_n, ran.h_n)


def test_meta_device_still_reports_the_saved_values(tmp_path):
    lstm = torch.nn.LSTM(3, 4)
    (layer,) = checkpoint(saved(tmp_path, lstm.state_dict()), device="meta").layers
    assert layer.report.observation.parameters[0].max == lstm.weight_ih_l0.max().item()
    assert layer.report.ok


@pytest.mark.parametrize("flag, value, message", [
    ("nonlinearity", "relu", "is for nn.RNN and nn.RNNCell"),
    ("hidden_size", 3, "takes none of"),
])
def test_flags_that_fit_no_layer_are_refused(tmp_path, flag, value, message):
    path = saved(tmp_path, torch.nn.LSTM(3, 4).state_dict())
    with pytest.raises((SpecError, TypeError), match=message):
        checkpoint(path, **{flag: value})


def test_a_layer_only_flag_with_only_cells_chosen_is_refused(tmp_path):
    path = saved(tmp_path, model().state_dict())
    with pytest.raises(SpecError, match="for layers, not cells") as caught:
        checkpoint(path, layer="step", seq_len=4)
    assert caught.value.field == "seq_len"
    (cell,) = checkpoint(path, layer="step", batch_size=2).layers  # a cell takes a batch size
    assert cell.to_dict()["tensors"]["h_1"]["shape"] == [2, 7]


def test_layer_is_picked_by_name_or_prefix_and_ambiguity_is_refused(tmp_path):
    sd = model().state_dict()
    path = saved(tmp_path, {"model": sd, "ema": sd})
    assert [layer.name for layer in checkpoint(path, layer="ema.decoder").layers] == ["ema.decoder"]
    with pytest.raises(SpecError, match="names 2 layers.*'model.decoder', .*'ema.decoder'"):
        checkpoint(path, layer="decoder")
    with pytest.raises(SpecError, match="is no recurrent layer") as caught:
        checkpoint(path, layer="encoder")
    assert caught.value.option == "--layer"
    path = saved(tmp_path, sd, "one.pt")
    assert [layer.name for layer in checkpoint(path, layer="decoder.").layers] == ["decoder"]


# --- what is not a valid layer ------------------------------------------------

def test_inconsistent_keys_are_reported_with_the_keys_and_fail(tmp_path):
    sd = torch.nn.LSTM(4, 5, num_layers=2).state_dict()
    del sd["weight_hh_l1"]
    report = checkpoint(saved(tmp_path, {"enc." + k: v for k, v in sd.items()}))
    assert report.layers == [] and not report.ok and report.exit_status == 1
    (group,) = report.to_dict()["inconsistent"]
    assert group["name"] == "enc" and "enc.weight_ih_l1" in group["keys"]
    assert any("missing enc.weight_hh_l1 (20, 5)" in p for p in group["problems"])


def test_tensors_that_do_not_load_are_the_files_fault_not_the_machines(tmp_path, monkeypatch):
    path = saved(tmp_path, torch.nn.GRU(2, 3).state_dict())
    from rnnshape import checkpoint_file

    real = checkpoint_file.Contents.tensors
    monkeypatch.setattr(checkpoint_file.Contents, "tensors",
                        lambda self, where, keys: {k: v[:1] for k, v in real(self, where, keys).items()})
    with pytest.raises(FileProblem, match="do not load into GRU"):
        checkpoint(path)


def test_no_run_reads_keys_and_shapes_only(tmp_path):
    report = checkpoint(saved(tmp_path, model().state_dict()), run=False)
    assert [layer.name for layer in report.layers] == ["encoder.rnn", "decoder", "step"]
    layer = report.layers[0]
    assert not layer.values_read and layer.within_init_bound is None
    assert all(p.min is None and p.mean is None for p in layer.report.observation.parameters)
    assert report.to_dict()["observed"] is False and report.ok


# --- random configs, saved and read back --------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_size=9))
def test_random_layers_are_read_back_from_a_file(cfg):
    module = build_torch(cfg)
    with tempfile.TemporaryDirectory() as folder:
        path = saved(Path(folder), {"model": {"net." + k: v for k, v in module.state_dict().items()}})
        (layer,) = checkpoint(path).layers
    assert config_of(layer) == torch_config(module)
    assert layer.report.spec.dtype == cfg["dtype"]
    assert layer.report.observed_total == sum(p.numel() for p in module.parameters())
    assert layer.report.ok, layer.report.failed_checks
    for p, (name, t) in zip(layer.report.observation.parameters, module.named_parameters()):
        assert p.name == name and (p.min, p.max) == (t.double().min().item(), t.double().max().item())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=cell_specs(max_size=9))
def test_random_cells_are_read_back_from_a_file(spec):
    cell = getattr(torch.nn, spec.module_name)(spec.input_size, spec.hidden_size, bias=spec.bias)
    with tempfile.TemporaryDirectory() as folder:
        (layer,) = checkpoint(saved(Path(folder), {"cell." + k: v for k, v in cell.state_dict().items()})).layers
    assert config_of(layer) == torch_config(cell)
    assert layer.report.ok


# --- the command line ----------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnshape", "checkpoint", *args], capture_output=True, text=True)


def test_json_holds_the_contract_keys(tmp_path):
    net = model()
    result = run_cli(saved(tmp_path, {"model": net.state_dict()}), "-f", "json", "--layer", "encoder.rnn")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1 and data["file"].endswith("model.pt")
    (layer,) = data["layers"]
    assert layer["prefix"] == "encoder.rnn" and layer["state_dict"] == ["model"]
    assert list(layer["config"]) == list(RNNSpec().to_dict())  # inspect's config keys, in their order
    assert layer["total_parameters"] == sum(p.numel() for p in net.encoder.rnn.parameters())
    assert [p["name"] for p in layer["parameters"]] == [name for name, _ in net.encoder.rnn.named_parameters()]
    cfg = dict(torch_config(net.encoder.rnn), batch_first=False, seq_len=5, batch_size=3, unbatched=False)
    assert {n: t["shape"] for n, t in layer["tensors"].items()} == documented_shapes(cfg)


def test_table_markdown_and_csv(tmp_path):
    path = saved(tmp_path, model().state_dict())
    table = run_cli(path)
    assert table.returncode == 0 and table.stderr == ""
    assert "encoder.rnn: nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=6)" in table.stdout
    assert "assumed: tanh" not in table.stdout  # no nn.RNN here: nothing to assume about its nonlinearity
    markdown = run_cli(path, "-f", "markdown", "--layer", "decoder")
    assert "| `weight_ih_l0` | 0 forward | `(30, 12)` | 360 |" in markdown.stdout
    rows = run_cli(path, "-f", "csv").stdout.splitlines()
    assert rows[0].startswith("layer,key,mode,shape") and len(rows) == 1 + 20 + 2 + 4


def test_cli_exit_codes_for_inconsistent_keys_and_bad_flags(tmp_path):
    sd = torch.nn.GRU(2, 3).state_dict()
    sd["weight_hh_l0"] = torch.zeros(9, 4)
    result = run_cli(saved(tmp_path, sd))
    assert result.returncode == 1 and result.stderr.startswith("failed: 1 group(s) of keys give no valid layer")
    result = run_cli(saved(tmp_path, torch.nn.GRU(2, 3).state_dict()), "--seq-len", "0")
    assert result.returncode == 2 and result.stderr.startswith("error: --seq-len") and result.stdout == ""
    result = run_cli(saved(tmp_path, torch.nn.GRU(2, 3).state_dict()), "--layer", "nope")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "'nope' is no recurrent layer" in result.stderr


def test_golden_table(tmp_path, monkeypatch):
    """A fixed checkpoint's whole table: a trained-looking GRU beside a fresh LSTM, under 'model'."""
    torch.manual_seed(0)
    lstm, gru = torch.nn.LSTM(4, 6, num_layers=2, proj_size=3), torch.nn.GRU(3, 5, bias=False)
    with torch.no_grad():
        gru.weight_ih_l0.mul_(4)
    sd = {**{"encoder." + k: v for k, v in lstm.state_dict().items()}, **{"decoder." + k: v for k, v in gru.state_dict().items()}}
    monkeypatch.chdir(tmp_path)
    torch.save({"epoch": 7, "model": sd}, "model.pt")
    text = render(checkpoint("model.pt"), "table", width=100, color=False)
    path = GOLDEN / "checkpoint_model.txt"
    import os

    if os.environ.get("RNNSHAPE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_svg_picture_of_the_tables(tmp_path):
    out = tmp_path / "checkpoint.svg"
    result = run_cli(saved(tmp_path, torch.nn.GRU(2, 3).state_dict()), "--svg", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "nn.GRU(2,&#160;3)" in svg
