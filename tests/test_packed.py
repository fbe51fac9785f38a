"""Packed input (--lengths): rnnshape's report against pack_padded_sequence and
the module, driven here from PyTorch's documentation, independently of
rnnshape's own formulas."""

from __future__ import annotations

import json
import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from hypothesis import HealthCheck, given, settings
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from typer.testing import CliRunner

from strategies import packed_specs
from rnnshape import RNNSpec, SpecError, inspect, probe
from rnnshape.cli import app
from test_theory_vs_torch import build_torch

runner = CliRunner()


def documented_packed_shapes(cfg: dict) -> dict[str, list[int]]:
    """PyTorch docs: PackedSequence.data is (sum(lengths), *); pad_packed_sequence gives (L, N, *) or (N, L, *)."""
    lengths = cfg["lengths"]
    L, N, T = max(lengths), len(lengths), sum(lengths)
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] or cfg["hidden_size"]
    seq = (lambda last: [N, L, last]) if cfg["batch_first"] else (lambda last: [L, N, last])
    state = lambda last: [D * cfg["num_layers"], N, last]  # noqa: E731
    shapes = {
        "input": seq(cfg["input_size"]), "packed_input": [T, cfg["input_size"]], "h_0": state(H_out),
        "packed_output": [T, D * H_out], "padded_output": seq(D * H_out), "h_n": state(H_out),
    }
    if cfg["mode"] == "lstm":
        shapes |= {"c_0": state(cfg["hidden_size"]), "c_n": state(cfg["hidden_size"])}
    return shapes


def documented_batch_sizes(lengths) -> list[int]:
    """batch_sizes[t]: how many sequences have a step t (PackedSequence docs)."""
    return [len([n for n in lengths if n > t]) for t in range(max(lengths))]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=packed_specs())
def test_packed_report_matches_torch(spec):
    cfg = spec.to_dict()
    report = inspect(spec)
    data = report.to_dict()
    assert report.ok, report.failed_checks
    assert {k: v["shape"] for k, v in data["tensors"].items()} == documented_packed_shapes(cfg)
    assert data["config"]["seq_len"] == max(cfg["lengths"]) and data["config"]["batch_size"] == len(cfg["lengths"])

    # torch's own PackedSequence for these lengths, made here
    x = torch.zeros(len(cfg["lengths"]), max(cfg["lengths"]), 1) if cfg["batch_first"] else torch.zeros(max(cfg["lengths"]), len(cfg["lengths"]), 1)
    packed = pack_padded_sequence(x, torch.tensor(cfg["lengths"]), batch_first=cfg["batch_first"], enforce_sorted=cfg["enforce_sorted"])
    assert data["packing"]["lengths"] == list(cfg["lengths"])
    assert data["packing"]["batch_sizes"] == packed.batch_sizes.tolist() == documented_batch_sizes(cfg["lengths"])
    expected_order = None if packed.sorted_indices is None else packed.sorted_indices.tolist()
    assert data["packing"]["sorted_indices"] == expected_order

    relations = {r["name"]: r["held"] for r in data["relations"]}
    assert relations["forward h_n is each sequence's own last step"] is True
    if cfg["bidirectional"]:
        assert relations["reverse h_n is each sequence's step 0"] is True
    if min(cfg["lengths"]) < max(cfg["lengths"]):
        assert relations["padding is zeros"] is True
    else:
        assert "padding is zeros" not in relations  # nothing is padded


def test_packed_h_n_is_each_sequence_own_last_step_not_the_last_column():
    """Recomputed here with torch alone: the unpacked identity output[-1] == h_n fails for
    a shorter sequence, the per-sequence one holds -- which is why the report checks that one."""
    spec = RNNSpec(mode="gru", input_size=3, hidden_size=4, lengths=(5, 3, 2), bidirectional=True)
    ran = probe.run(spec)
    out, h_n = ran.output, ran.h_n
    H = 4
    for i, n in enumerate(spec.lengths):
        assert torch.equal(out[n - 1, i, :H], h_n[0, i])  # forward: its own last step
        assert torch.equal(out[0, i, H:], h_n[1, i])  # reverse: step 0
        assert not out[n:, i].any()  # zeros after its length
    assert not torch.equal(out[-1, 2, :H], h_n[0, 2])  # the last column is padding for sequence 2

    # and the module agrees when run here from scratch with the same weights and input
    module = build_torch(dict(spec.to_dict(), proj_size=0))
    module.load_state_dict(ran.module.state_dict())
    mine, mine_h = module(pack_padded_sequence(ran.input, torch.tensor(spec.lengths)), ran.h_0)
    assert torch.equal(pad_packed_sequence(mine)[0], out) and torch.equal(mine_h, h_n)


def test_a_wrong_per_sequence_relation_would_fail(monkeypatch):
    """The check can fail: shift sequence 1's h_n and the forward relation no longer holds."""
    spec = RNNSpec(mode="rnn", input_size=3, hidden_size=4, lengths=(4, 2))
    real = probe._check_relations

    def tampered(torch_, spec_, output, h_n):
        h_n = h_n.clone()
        h_n[0, 1] += 1
        return real(torch_, spec_, output, h_n)

    monkeypatch.setattr(probe, "_check_relations", tampered)
    report = inspect(spec)
    assert not report.ok
    assert [c.name for c in report.failed_checks] == ["forward h_n is each sequence's own last step"]


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--lengths", "5,0,2"], "--lengths must be positive integers: pack_padded_sequence refuses a sequence of length 0"),
        (["--lengths", "5,-1"], "--lengths must be positive integers"),
        (["--lengths", "5,x"], "--lengths must be a comma list of positive integers"),
        (["--lengths", "5,2.5"], "--lengths must be a comma list of positive integers"),
        (["--lengths", ""], "--lengths must be a comma list of positive integers"),
        (["--lengths", "2,5"], "--lengths must be in decreasing order with --enforce-sorted"),
        (["--lengths", "2,5", "--enforce-sorted"], "pass --no-enforce-sorted"),
        (["--lengths", "5,3", "--seq-len", "4"], "--seq-len must equal the longest of --lengths 5,3, 5 (got 4"),
        (["--lengths", "5,3", "--seq-len", "6"], "--seq-len must equal the longest of --lengths 5,3, 5 (got 6"),
        (["--lengths", "5,3", "--batch-size", "3"], "--batch-size must be the number of --lengths"),
        (["--lengths", "5,3", "--unbatched"], "--unbatched cannot be combined with --lengths"),
        (["--no-enforce-sorted"], "--enforce-sorted applies only to packed input"),
    ],
)
def test_bad_lengths_exit_2_with_the_reason(flags, words):
    for command in ("inspect", "verify", "code", "flow"):
        result = runner.invoke(app, [command, *flags])
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith("error: ") and words in result.stderr and result.stderr.count("\n") == 1


def test_given_sizes_equal_to_the_lengths_are_accepted():
    result = runner.invoke(app, ["inspect", "--lengths", "5,3", "--seq-len", "5", "--batch-size", "2", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["lengths"] == [5, 3]


def test_lengths_round_trip_through_the_json_config():
    spec = RNNSpec(mode="lstm", lengths=[4, 4, 1], enforce_sorted=False)
    again = RNNSpec(**json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.lengths == (4, 4, 1)
    with pytest.raises(SpecError):
        RNNSpec(lengths=(3, True))


@settings(max_examples=40, deadline=None)
@given(spec=packed_specs())
def test_packed_no_run_predicts_what_a_run_observes(spec):
    observed, predicted = inspect(spec).to_dict(), inspect(spec, run=False).to_dict()
    assert {k: v["shape"] for k, v in predicted["tensors"].items()} == {k: v["shape"] for k, v in observed["tensors"].items()}
    assert predicted["packing"] == observed["packing"]
    assert predicted["cost"] == observed["cost"]


def test_packed_on_meta_has_shapes_and_says_what_it_cannot_do():
    spec = RNNSpec(mode="lstm", lengths=(2, 5, 5), enforce_sorted=False, device="meta")
    report = inspect(spec)
    data = report.to_dict()
    assert report.ok  # nothing failed; what meta cannot show is skipped, not guessed
    assert data["tensors"]["padded_output"]["shape"] is None and "meta" in data["tensors"]["padded_output"]["unavailable"]
    assert data["tensors"]["packed_output"]["shape"] == [12, 20]
    assert data["packing"]["batch_sizes"] == [3, 3, 2, 2, 2]
    cpu = inspect(RNNSpec(**dict(spec.to_dict(), device="cpu"))).to_dict()
    for name, t in data["tensors"].items():
        if t["shape"] is not None:
            assert t["shape"] == cpu["tensors"][name]["shape"], name


@pytest.mark.parametrize("cfg", [dict(mode="lstm", lengths=(5, 3, 2)), dict(mode="gru", lengths=(2, 4, 4), enforce_sorted=False,
                                                                            bidirectional=True, num_layers=2, batch_first=True),
                                 dict(mode="rnn", lengths=(3, 1), proj_size=0, num_layers=3)])
def test_packed_macs_match_flop_counter(cfg):
    from torch.utils.flop_counter import FlopCounterMode

    spec = RNNSpec(input_size=3, hidden_size=5, **cfg)
    module = build_torch(spec.to_dict()).eval()
    x = torch.randn((spec.batch_size, spec.seq_len, 3) if spec.batch_first else (spec.seq_len, spec.batch_size, 3))
    packed = pack_padded_sequence(x, torch.tensor(spec.lengths), batch_first=spec.batch_first, enforce_sorted=spec.enforce_sorted)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(packed)
    # only the real steps are computed: sum(lengths), not L*N
    assert counter.get_total_flops() == 2 * inspect(spec, run=False).to_dict()["cost"]["macs"]


def test_packed_cpu_lstm_is_not_fused():
    """A packed LSTM runs the decomposed path on CPU: FlopCounterMode counts it, so no oneDNN note."""
    data = inspect(RNNSpec(mode="lstm", lengths=(3, 2)), run=False).to_dict()
    assert data["cost"]["fused_kernel_note"] is None
    assert inspect(RNNSpec(mode="lstm"), run=False).to_dict()["cost"]["fused_kernel_note"] is not None


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_packed_in_every_format(fmt):
    result = runner.invoke(app, ["inspect", "--mode", "gru", "--lengths", "4,2,1", "--bidirectional", "-f", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        assert "weight_ih_l0_reverse" in result.stdout
    else:
        for word in ("packed_input", "padded_output", "batch_sizes"):
            assert word in result.stdout, word
