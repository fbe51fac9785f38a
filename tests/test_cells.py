"""nn.RNNCell, nn.LSTMCell, nn.GRUCell: rnnshape's report against torch's cells,
driven here from PyTorch's documentation (input (N, H_in), h_0/h_1 (N, H)),
independently of rnnshape's own formulas."""

from __future__ import annotations

import json
import math
import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from strategies import cell_specs
from rnnshape import RNNSpec, SpecError, inspect
from rnnshape.cli import app

CELLS = {"rnncell": torch.nn.RNNCell, "lstmcell": torch.nn.LSTMCell, "grucell": torch.nn.GRUCell}
GATE_MULTIPLE = {"rnncell": 1, "grucell": 3, "lstmcell": 4}  # PyTorch docs: weight_ih is (G*H, H_in)
runner = CliRunner()


def documented_cell_shapes(cfg: dict) -> dict[str, list[int]]:
    """PyTorch's cell docs: input (N, H_in) or (H_in); h_0, h_1 (and c_0, c_1) (N, H) or (H)."""
    n = [] if cfg["unbatched"] else [cfg["batch_size"]]
    H = cfg["hidden_size"]
    shapes = {"input": n + [cfg["input_size"]], "h_0": n + [H], "h_1": n + [H]}
    if cfg["mode"] == "lstmcell":
        shapes |= {"c_0": n + [H], "c_1": n + [H]}
    return shapes


def torch_cell(cfg: dict):
    kwargs = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"], bias=cfg["bias"])
    if cfg["mode"] == "rnncell":
        kwargs["nonlinearity"] = cfg["nonlinearity"]
    return CELLS[cfg["mode"]](**kwargs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=cell_specs(max_seed=2**32))
def test_cell_report_matches_torch_and_its_docs(spec):
    cfg = spec.to_dict()
    report = inspect(spec)
    data = report.to_dict()
    assert report.ok, report.failed_checks
    assert {k: v["shape"] for k, v in data["tensors"].items()} == documented_cell_shapes(cfg)

    module = torch_cell(cfg)
    named = list(module.named_parameters())
    assert [p["name"] for p in data["parameters"]] == [n for n, _ in named]
    assert [tuple(p["shape"]) for p in data["parameters"]] == [tuple(t.shape) for _, t in named]
    G, H, H_in, b = GATE_MULTIPLE[cfg["mode"]], cfg["hidden_size"], cfg["input_size"], int(cfg["bias"])
    assert data["total_parameters"] == G * H * (H_in + H + 2 * b) == sum(t.numel() for _, t in named)
    assert data["config"]["seq_len"] is None  # a cell has no sequence
    assert data["h_n_rows"] == [] and data["relations"] == []
    for p in data["parameters"]:
        assert p["init_bound"] == 1 / math.sqrt(H)
        if p["observed_min"] is not None:
            assert -p["init_bound"] - 1e-7 <= p["observed_min"] <= p["observed_max"] <= p["init_bound"] + 1e-7


def test_cell_weights_are_torch_own_draw():
    """Seeded as torch.manual_seed(seed) then the constructor: the same weights a learner gets."""
    report = inspect(RNNSpec(mode="grucell", input_size=4, hidden_size=6, seed=11))
    torch.manual_seed(11)
    mine = torch.nn.GRUCell(4, 6)
    drawn = {p["name"]: (p["observed_min"], p["observed_max"]) for p in report.to_dict()["parameters"]}
    for name, t in mine.named_parameters():
        assert drawn[name] == (t.min().item(), t.max().item())


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--layers", "2"], "--layers is for layers, not cells"),
        (["--num-layers", "3"], "--layers is for layers, not cells"),
        (["--bidirectional"], "--bidirectional is for layers, not cells"),
        (["--proj-size", "2"], "--proj-size is for layers, not cells"),
        (["--batch-first"], "--batch-first is for layers, not cells"),
        (["--seq-len", "5"], "--seq-len is for layers, not cells"),
        (["--seq-len", "1"], "--seq-len is for layers, not cells"),
        (["--dropout", "0.5"], "--dropout is for layers, not cells"),
        (["--lengths", "3,2"], "--lengths is for layers, not cells"),
        (["--hidden-size", "0"], "--hidden-size must be a positive integer"),
    ],
)
@pytest.mark.parametrize("mode", sorted(CELLS))
def test_layer_only_flags_are_refused_for_cells(mode, flags, words):
    for command in ("inspect", "verify", "code", "flow"):
        result = runner.invoke(app, [command, "--mode", mode, *flags])
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith("error: ") and words in result.stderr and result.stderr.count("\n") == 1
        assert "Traceback" not in result.output


def test_nonlinearity_is_for_rnncell_only():
    assert inspect(RNNSpec(mode="rnncell", nonlinearity="relu")).ok
    for mode in ("lstmcell", "grucell"):
        with pytest.raises(SpecError) as caught:
            RNNSpec(mode=mode, nonlinearity="relu")
        assert caught.value.field == "nonlinearity"


def test_cell_json_contract_on_the_command_line():
    result = runner.invoke(app, ["inspect", "--mode", "lstmcell", "--batch-size", "2", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["tensors"]) == ["input", "h_0", "c_0", "h_1", "c_1"]
    assert data["tensors"]["h_1"]["dims"] == ["N", "H"]
    assert [p["name"] for p in data["parameters"]] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert data["module"] == "LSTMCell(10, 20)"
    assert data["config"]["mode"] == "lstmcell" and data["ok"] is True


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_cell_in_every_format(fmt):
    result = runner.invoke(app, ["inspect", "--mode", "grucell", "--unbatched", "-f", fmt])
    assert result.exit_code == 0, result.output
    assert "weight_ih," in result.stdout if fmt == "csv" else "h_1" in result.stdout  # csv: one row per parameter
    assert "_l0" not in result.stdout and "h_n" not in result.stdout  # a cell's names are PyTorch's cell names


@settings(max_examples=40, deadline=None)
@given(spec=cell_specs(max_seed=2**32))
def test_cell_no_run_predicts_what_a_run_observes(spec):
    observed, predicted = inspect(spec).to_dict(), inspect(spec, run=False).to_dict()
    assert {k: v["shape"] for k, v in predicted["tensors"].items()} == {k: v["shape"] for k, v in observed["tensors"].items()}
    assert [(p["name"], p["shape"]) for p in predicted["parameters"]] == [(p["name"], p["shape"]) for p in observed["parameters"]]
    assert predicted["cost"] == observed["cost"]


@pytest.mark.parametrize("mode", sorted(CELLS))
def test_cell_macs_match_flop_counter(mode):
    from torch.utils.flop_counter import FlopCounterMode

    spec = RNNSpec(mode=mode, input_size=6, hidden_size=5, batch_size=4)
    cell = torch_cell(spec.to_dict())
    state = torch.randn(4, 5)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        cell(torch.randn(4, 6), (state, state) if mode == "lstmcell" else state)
    assert counter.get_total_flops() == 2 * inspect(spec, run=False).to_dict()["cost"]["macs"]


@pytest.mark.parametrize("mode", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cell_training_bytes_match_saved_tensors(mode, bias):
    """cost.py says it is exact for cells: what saved_tensors_hooks sees in one train-mode step."""
    spec = RNNSpec(mode=mode, input_size=3, hidden_size=7, batch_size=2, bias=bias)
    cell = torch_cell(spec.to_dict()).train()
    params = {p.untyped_storage().data_ptr() for p in cell.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    h = torch.randn(2, 7)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        cell(torch.randn(2, 3, requires_grad=True), (h, torch.randn(2, 7)) if mode == "lstmcell" else h)
    items = {i["name"]: i["value"] for i in inspect(spec, run=False).to_dict()["cost"]["items"]}
    assert items["activation bytes (training)"] == sum(seen.values())
