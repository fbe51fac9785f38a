"""rnnshape sweep: lists and ranges, the cartesian product, per-row refusals,
every format, and each row against inspect's own answer and torch's."""

from __future__ import annotations

import csv
import io
import itertools
import json
import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from typer.testing import CliRunner

from rnnshape import RNNSpec, inspect
from rnnshape.cli import app
from rnnshape.errors import SpecError
from rnnshape.sweep import MAX_CONFIGURATIONS, values
from test_theory_vs_torch import build_torch, documented_shapes


def sweep(*args: str):
    return CliRunner().invoke(app, ["sweep", *args], prog_name="rnnshape")


def sweep_json(*args: str) -> list[dict]:
    result = sweep(*args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- lists and ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("16", ["16"]), ("16,32,64", ["16", "32", "64"]), ("1..4", ["1", "2", "3", "4"]), ("3..3", ["3"]),
     ("1..2,8,4..5", ["1", "2", "8", "4", "5"]), (" rnn , lstm ", ["rnn", "lstm"]), ("2,2,1..2", ["2", "1"])],
)
def test_values(text, expected):
    assert values("hidden_size", text) == expected


@pytest.mark.parametrize("text, words", [("1,,2", "empty item"), ("4..1", "backwards"), (",", "empty item"),
                                          (f"1..{MAX_CONFIGURATIONS + 5}", "more than")])
def test_bad_lists_are_refused_naming_the_flag(text, words):
    with pytest.raises(SpecError, match=words):
        values("hidden_size", text)
    result = sweep("--hidden-size", text)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --hidden-size ") and words in result.stderr
    assert result.stdout == ""


def test_too_many_configurations_is_refused_before_any_runs():
    result = sweep("--hidden-size", "1..1000", "--input-size", "1..1000")
    assert result.exit_code == 2
    assert "1000000 configurations" in result.stderr and result.stdout == ""


def test_the_product_in_flag_order():
    rows = sweep_json("--mode", "rnn,gru", "--hidden-size", "3,4", "--layers", "1..3", "--no-run")
    got = [(r["config"]["mode"], r["config"]["hidden_size"], r["config"]["num_layers"]) for r in rows]
    assert got == list(itertools.product(["rnn", "gru"], [3, 4], [1, 2, 3]))


def test_a_flag_and_its_opposite_sweep_both():
    rows = sweep_json("--bidirectional", "--unidirectional", "--batched", "--unbatched", "--no-run")
    assert sorted((r["config"]["bidirectional"], r["config"]["unbatched"]) for r in rows) == [
        (False, False), (False, True), (True, False), (True, True)]
    assert [r["config"]["bidirectional"] for r in sweep_json("--bidirectional", "--no-run")] == [True]
    assert [r["config"]["bias"] for r in sweep_json("--no-bias", "--no-run")] == [False]


# --- rows against inspect and torch -----------------------------------------------------


def test_rows_equal_inspect_and_torch():
    rows = sweep_json("--mode", "rnn,lstm,gru", "--hidden-size", "4,6", "--layers", "1..2", "--bidirectional",
                      "--unidirectional", "--batch-first", "--seq-first", "--seq-len", "1,3")
    assert len(rows) == 3 * 2 * 2 * 2 * 2 * 2
    for row in rows:
        config = row["config"]
        report = inspect(RNNSpec(**config)).to_dict()
        assert row["output"] == report["tensors"]["output"]["shape"]
        assert row["h_n"] == report["tensors"]["h_n"]["shape"]
        assert row["c_n"] == (report["tensors"]["c_n"]["shape"] if config["mode"] == "lstm" else None)
        assert row["total_parameters"] == report["total_parameters"]
        assert row["macs"] == report["cost"]["macs"]
        assert {k: row[k] for k in (i["key"] for i in report["cost"]["items"])} == {i["key"]: i["value"] for i in report["cost"]["items"]}
        assert row["observed"] is True and row["ok"] is True and row["error"] is None
        # torch itself, built here from the row's config
        module = build_torch(config)
        assert row["total_parameters"] == sum(p.numel() for p in module.parameters())
        documented = documented_shapes(config)
        assert row["output"] == documented["output"] and row["h_n"] == documented["h_n"]


def test_invalid_combinations_are_rows_not_the_end():
    result = sweep("--mode", "rnn,lstm", "--proj-size", "0,3", "-f", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 4
    refused = [r for r in rows if r["error"]]
    assert [(r["config"]["mode"], r["config"]["proj_size"]) for r in refused] == [("rnn", 3)]
    assert refused[0]["error"].startswith("--proj-size is for --mode lstm only")
    assert refused[0]["output"] is None and refused[0]["ok"] is None and refused[0]["total_parameters"] is None
    assert "1 of 4 configurations refused" in result.stderr


def test_all_rows_refused_exits_with_their_code():
    result = sweep("--mode", "rnn,gru", "--proj-size", "2")
    assert result.exit_code == 2
    result = sweep("--hidden-size", "64,128", "--max-memory", "1KB")
    assert result.exit_code == 3
    assert "--max-memory" in result.stdout  # the reasons, in the table


def test_a_failed_check_in_any_row_exits_1(monkeypatch):
    from rnnshape import theory

    real = theory.total_parameters
    monkeypatch.setattr(theory, "total_parameters", lambda spec: real(spec) + (spec.hidden_size == 5))
    result = sweep("--hidden-size", "4,5")
    assert result.exit_code == 1
    assert "checks failed for 1 of 2 configurations" in result.stderr


# --- formats ----------------------------------------------------------------------------


ARGS = ("--mode", "rnn,lstm", "--hidden-size", "4,8", "--proj-size", "0,2")


def test_json_jsonl_csv_hold_the_same_rows():
    as_json = sweep_json(*ARGS)
    jsonl = sweep(*ARGS, "-f", "jsonl")
    assert jsonl.exit_code == 0
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == as_json
    table = list(csv.DictReader(io.StringIO(sweep(*ARGS, "-f", "csv").stdout)))
    assert len(table) == len(as_json) == 8
    for row, record in zip(table, as_json):
        assert row["mode"] == record["config"]["mode"] and int(row["hidden_size"]) == record["config"]["hidden_size"]
        if record["error"]:
            assert row["error"] == record["error"] and row["output"] == "" and row["total_parameters"] == ""
        else:
            assert row["output"] == "x".join(map(str, record["output"]))
            assert int(row["total_parameters"]) == record["total_parameters"]
            assert int(row["macs"]) == record["macs"]
            assert row["c_n"] == ("x".join(map(str, record["c_n"])) if record["c_n"] else "")


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_table_shows_the_varying_flags_and_the_refusals(fmt):
    result = sweep(*ARGS, "-f", fmt)
    assert result.exit_code == 0
    out = result.stdout
    assert "sweep: 8 configurations, 6 answered, 2 refused" in out
    for header in ("mode", "H", "proj", "output", "h_n", "c_n", "params", "MACs"):
        assert header in out
    assert "H_in" not in out  # not varied, not shown
    assert out.count("refused: rnn") == 2 and "--proj-size is for --mode lstm only" in out


def test_no_progress_bar_when_not_a_terminal():
    result = sweep("--hidden-size", "1..20", "-f", "csv")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_no_run_sweep_does_not_run_torch(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a module was built under --no-run")

    monkeypatch.setattr(torch.nn, "LSTM", forbidden)
    rows = sweep_json("--mode", "lstm", "--hidden-size", "4..6", "--no-run")
    assert [r["observed"] for r in rows] == [False] * 3
    assert all(r["ok"] is None for r in rows)


def test_bad_format_for_sweep():
    result = sweep("-f", "yaml")
    assert result.exit_code == 2
    assert "jsonl" in result.stderr


# --- cells and packed input in a sweep ------------------------------------------------


def test_cells_sweep_beside_layers_with_their_own_names():
    rows = sweep_json("--mode", "gru,grucell", "--hidden-size", "4,6", "--batch-size", "2")
    assert [(r["config"]["mode"], r["config"]["hidden_size"]) for r in rows] == [("gru", 4), ("gru", 6), ("grucell", 4), ("grucell", 6)]
    for row in rows:
        H = row["config"]["hidden_size"]
        if row["config"]["mode"] == "grucell":
            # PyTorch's cell docs: h_1 is (N, H); a cell has no output and no h_n
            assert row["h_1"] == [2, H] and row["output"] is None and row["h_n"] is None
            assert row["total_parameters"] == sum(p.numel() for p in torch.nn.GRUCell(10, H).parameters())
        else:
            assert row["h_1"] is None and row["h_n"] == [1, 2, H]


def test_a_cell_with_layer_flags_is_a_refused_row():
    result = sweep("--mode", "lstm,lstmcell", "--layers", "1..2", "-f", "json")
    assert result.exit_code == 0, result.stderr
    refused = [r for r in json.loads(result.stdout) if r["error"]]
    assert [(r["config"]["mode"], r["config"]["num_layers"]) for r in refused] == [("lstmcell", 2)]
    assert refused[0]["error"].startswith("--layers is for layers, not cells")
    assert list(refused[0]["config"]) == list(RNNSpec.field_names())  # the config's own order, typed


def test_lengths_alternatives_are_separated_by_slashes():
    assert values("lengths", "5,3,2/4,4") == ["5,3,2", "4,4"]
    with pytest.raises(SpecError):
        values("lengths", "5,3//4")
    rows = sweep_json("--mode", "lstm", "--lengths", "5,3,2/4,4/1")
    assert [r["config"]["lengths"] for r in rows] == [[5, 3, 2], [4, 4], [1]]
    for row in rows:
        lengths = row["config"]["lengths"]
        # the padded output is (max(lengths), len(lengths), H_out); MACs cover only sum(lengths) steps
        assert row["output"] == [max(lengths), len(lengths), 20] and row["h_n"] == [1, len(lengths), 20]
        assert row["macs_recurrences"] == sum(lengths) * 4 * 20 * 20


def test_lengths_in_csv_are_written_as_the_flag_takes_them():
    result = sweep("--lengths", "3,1/2", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["lengths"] for r in records] == ["3,1", "2"]
    assert [r["seq_len"] for r in records] == ["3", "2"]
