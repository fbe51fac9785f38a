"""--h0 / --c0: the dummy states' values, fed as chosen, reported, and nothing else changes."""

import pytest
import torch
from typer.testing import CliRunner

from rnnshape import RNNSpec, inspect, probe, verify
from rnnshape.cli import app
from rnnshape.errors import SpecError


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru", "rnncell", "lstmcell", "grucell"])
@pytest.mark.parametrize("init, value", [("zeros", 0.0), ("ones", 1.0)])
def test_the_states_are_what_was_chosen_and_the_input_is_unchanged(mode, init, value):
    fields = {"mode": mode, "h0": init, **({"c0": init} if "lstm" in mode else {})}
    default = probe.run(RNNSpec(mode=mode))
    chosen = probe.run(RNNSpec(**fields))
    assert torch.equal(chosen.input, default.input)  # drawn as usual, whatever the states
    assert bool((chosen.h_0 == value).all())
    if "lstm" in mode:
        assert bool((chosen.c_0 == value).all())
    assert not torch.equal(chosen.h_n, default.h_n)  # and torch really started from them
    assert verify(**fields).ok


def test_c0_beside_a_chosen_h0_is_the_default_draw():
    default, chosen = probe.run(RNNSpec(mode="lstm")), probe.run(RNNSpec(mode="lstm", h0="ones"))
    assert torch.equal(chosen.c_0, default.c_0)


def test_zeros_is_what_torch_does_without_h0():
    ran = probe.run(RNNSpec(mode="gru", h0="zeros", num_layers=2))
    output, h_n = ran.module(ran.input)  # no h_0 at all: torch's zeros
    assert torch.equal(output, ran.output) and torch.equal(h_n, ran.h_n)


def test_the_report_says_so_and_json_holds_it():
    report = inspect(mode="lstm", h0="zeros", c0="ones")
    assert any(n.startswith("--h0 zeros: h_0 is all zeros") for n in report.notes)
    assert any(n.startswith("--c0 ones: c_0 is all ones") for n in report.notes)
    assert report.to_dict()["config"]["h0"] == "zeros" and report.to_dict()["config"]["c0"] == "ones"
    assert not any("--h0" in n for n in inspect(mode="lstm").notes)


@pytest.mark.parametrize("fields, flag", [({"h0": "twos"}, "h0"), ({"c0": "ones"}, "c0"), ({"mode": "gru", "c0": "zeros"}, "c0")])
def test_bad_values_are_refused(fields, flag):
    with pytest.raises(SpecError) as exc:
        RNNSpec(**fields)
    assert exc.value.field == flag


@pytest.mark.parametrize("command", ["inspect", "verify", "code"])
def test_every_running_command_takes_them_and_refuses_a_bad_one(command):
    runner = CliRunner()
    ok = runner.invoke(app, [command, "--mode", "lstm", "--h0", "ones", "--c0", "zeros"], prog_name="rnnshape")
    assert ok.exit_code == 0, ok.stderr
    bad = runner.invoke(app, [command, "--h0", "twos"], prog_name="rnnshape")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --h0 must be one of randn, zeros, ones")


def test_flow_and_check_have_no_state_values():
    for command in ("flow", "check"):
        result = CliRunner().invoke(app, [command, "--h0", "ones"], prog_name="rnnshape")
        assert result.exit_code == 2 and "--h0" in result.stderr
