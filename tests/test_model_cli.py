"""rnnshape check and rnnshape summary TARGET from the command line: exit codes, formats, refusals.

Shapes are checked against what torch itself produces for the same call; every
refusal is one `error:` line and exit 2, a refusal by torch is exit 1 with the
explanation on stdout and one `failed:` line on stderr.
"""

from __future__ import annotations

import json
import textwrap
import warnings

import pytest
from typer.testing import CliRunner

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

from rnnshape.cli import app

CHECK = ["check", "--mode", "lstm", "--input-size", "256", "--hidden-size", "256", "--input-shape", "8,8,256"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="rnnshape")


def one_error_line(result, *words: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    for word in words:
        assert word in result.stderr, result.stderr


# --- check ------------------------------------------------------------------------------


def test_the_issues_example_is_refused_explained_and_exit_1():
    result = invoke(*CHECK, "--h0-shape", "1,32,256", "--c0-shape", "1,32,256")
    assert result.exit_code == 1
    assert "torch said: RuntimeError: Expected hidden[0] size (1, 8, 256), got [1, 32, 256]" in result.stdout
    assert "likely cause: h_0 was made for a batch of 32" in result.stdout
    assert "fix: h_0 = c_0 = torch.zeros(1, input.size(1), 256)  # per batch; or DataLoader(drop_last=True)" in result.stdout
    assert result.stderr.startswith("failed: torch refused these shapes: Expected hidden[0] size") and result.stderr.count("\n") == 1


def test_accepted_shapes_are_torchs_own():
    result = invoke(*CHECK, "--h0-shape", "1,8,256", "--c0-shape", "1,8,256", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    lstm = nn.LSTM(256, 256)
    output, (h_n, c_n) = lstm(torch.zeros(8, 8, 256), (torch.zeros(1, 8, 256), torch.zeros(1, 8, 256)))
    tensors = data["report"]["tensors"]
    assert tensors["output"]["shape"] == list(output.shape) and tensors["h_n"]["shape"] == list(h_n.shape)
    assert tensors["c_n"]["shape"] == list(c_n.shape)
    assert data["accepted"] is True and data["explanation"] is None and data["ok"] is True
    assert data["given"]["h_0"] == {"kind": "tensor", "shape": [1, 8, 256], "dtype": "float32", "device": "cpu"}


MODES = {
    "rnn relu": (["--mode", "rnn", "--nonlinearity", "relu", "--input-size", "3", "--hidden-size", "4"], "5,2,3", {"output": [5, 2, 4]}),
    "gru batch_first bidirectional": (["--mode", "gru", "--batch-first", "--bidirectional", "--input-size", "3", "--hidden-size", "4"],
                                      "2,5,3", {"output": [2, 5, 8], "h_n": [2, 2, 4]}),
    "lstm proj": (["--mode", "lstm", "--proj-size", "2", "--input-size", "3", "--hidden-size", "4", "--layers", "2"], "5,2,3",
                  {"output": [5, 2, 2], "h_n": [2, 2, 2], "c_n": [2, 2, 4]}),
    "unbatched": (["--mode", "gru", "--input-size", "3", "--hidden-size", "4"], "5,3", {"output": [5, 4], "h_n": [1, 4]}),
    "rnncell": (["--mode", "rnncell", "--input-size", "3", "--hidden-size", "4"], "2,3", {"h_1": [2, 4]}),
    "lstmcell unbatched": (["--mode", "lstmcell", "--input-size", "3", "--hidden-size", "4"], "3", {"h_1": [4], "c_1": [4]}),
    "grucell": (["--mode", "grucell", "--input-size", "3", "--hidden-size", "4"], "6,3", {"h_1": [6, 4]}),
    "packed": (["--mode", "lstm", "--input-size", "3", "--hidden-size", "4", "--lengths", "2,5,3", "--no-enforce-sorted"], "5,3,3",
               {"packed_output": [10, 4], "padded_output": [5, 3, 4], "h_n": [1, 3, 4]}),
    "meta": (["--mode", "gru", "--device", "meta", "--input-size", "3", "--hidden-size", "4", "--layers", "3"], "5,2,3",
             {"output": [5, 2, 4], "h_n": [3, 2, 4]}),
    "float64": (["--mode", "rnn", "--dtype", "float64", "--input-size", "3", "--hidden-size", "4"], "5,2,3", {"output": [5, 2, 4]}),
}


@pytest.mark.parametrize("flags,shape,expected", MODES.values(), ids=MODES.keys())
def test_check_every_mode(flags, shape, expected):
    result = invoke("check", *flags, "--input-shape", shape, "-f", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    tensors = json.loads(result.stdout)["report"]["tensors"]
    assert {name: tensors[name]["shape"] for name in expected} == expected


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_check_formats(fmt):
    accepted = invoke(*CHECK, "-f", fmt)
    refused = invoke(*CHECK, "--h0-shape", "2,8,256", "--c0-shape", "2,8,256", "-f", fmt)
    assert accepted.exit_code == 0 and refused.exit_code == 1
    if fmt == "csv":
        assert accepted.stdout.splitlines()[0] == "tensor,given,shape,dtype,device,predicted_shape"
        assert "output,false,8x8x256,float32,cpu,8x8x256" in accepted.stdout
        assert "h_0,true,2x8x256,float32,cpu," in refused.stdout
    else:
        assert "torch accepted these shapes" in accepted.stdout
        assert "D*num_layers is 2, expected 1" in refused.stdout
        assert ("| tensor | given | expected | dims |" in refused.stdout) == (fmt == "markdown")


def test_check_packs_with_the_given_lengths_and_torch_decides():
    refused = invoke("check", "--mode", "gru", "--input-size", "3", "--hidden-size", "4", "--input-shape", "5,3,3", "--lengths", "2,5,3")
    assert refused.exit_code == 1 and "likely cause: pack_padded_sequence was given lengths that are not in decreasing order" in refused.stdout
    too_long = invoke("check", "--mode", "gru", "--input-size", "3", "--hidden-size", "4", "--input-shape", "5,3,3", "--lengths", "9,5,3")
    assert too_long.exit_code == 1 and "torch said:" in too_long.stdout


@pytest.mark.parametrize("args,words", [
    (["--input-shape", "8,a,256"], ["--input-shape", "8,a,256"]),
    (["--input-shape", "8,8,256", "--h0-shape", "1,-1,256"], ["--h0-shape"]),
    (["--input-shape", "8,8,256", "--input-dtype", "complex64"], ["--input-dtype", "int64"]),
    (["--input-shape", "1,2,3,4,5,6,7"], ["--input-shape", "1 to 6 sizes"]),
    (["--input-shape", "99999999999,99999999999,256"], ["--input-shape", "too large"]),
    (["--input-shape", "8,8,256", "--seq-len", "4"], ["--seq-len"]),  # L comes from the input's shape
    (["--input-shape", "8,8,256", "--layers", "0"], ["--layers"]),
    ([], ["--input-shape"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("-") else None)
def test_check_refuses_malformed_flags(args, words):
    one_error_line(invoke("check", "--mode", "lstm", "--input-size", "256", "--hidden-size", "256", *args), *words)


def test_check_refuses_flags_that_cannot_apply():
    one_error_line(invoke("check", "--mode", "gru", "--input-shape", "5,3,10", "--c0-shape", "1,3,20"), "--c0-shape", "no cell state")
    one_error_line(invoke("check", "--mode", "lstm", "--input-shape", "5,3,10", "--c0-shape", "1,3,20"), "--c0-shape", "--h0-shape")
    one_error_line(invoke("check", "--mode", "grucell", "--input-shape", "3,10", "--lengths", "3,2"), "--lengths", "cells")


def test_check_memory_guard_is_exit_3():
    result = invoke("check", "--input-shape", "100000,100000,10", "--max-memory", "1MB")
    assert result.exit_code == 3 and result.stderr.startswith("error: --max-memory") and result.stdout == ""


# --- summary TARGET ---------------------------------------------------------------------

MODELS = textwrap.dedent('''
    import torch
    from torch import nn


    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(30, 8)
            self.lstm = nn.LSTM(8, 6, batch_first=True, bidirectional=True)
            self.classifier = nn.Linear(12, 4)

        def forward(self, tokens):
            out, _ = self.lstm(self.embedding(tokens))
            return self.classifier(out)


    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(3, 5)

        def forward(self, a, b):
            return self.rnn(a)[0], self.rnn(b)[0]


    def tagger():
        return Tagger()


    instance = Pair()
    not_a_model = [1, 2]


    def broken():
        raise ValueError("no weights here")


    def nothing():
        return 42
''')


@pytest.fixture()
def models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    (tmp_path / "missing.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    return tmp_path


def test_summary_of_a_file_factory(models):
    result = invoke("summary", f"{models}/models.py:tagger", "--input-shape", "4,9", "--input-dtype", "int64", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [m["path"] for m in data["modules"]] == ["", "embedding", "lstm", "classifier"]
    assert data["modules"][0]["outputs"][0]["structure"] == {"kind": "tensor", "shape": [4, 9, 4], "dtype": "float32"}
    (group,) = data["recurrent"]
    assert group["report"]["tensors"]["h_n"]["shape"] == [2, 4, 6]
    assert group["given"]["input"]["shape"] == [4, 9, 8]


def test_summary_of_a_class_an_instance_and_a_package_module(models, monkeypatch):
    assert invoke("summary", f"{models}/models.py:Tagger", "--input-shape", "2,3", "--input-dtype", "int64").exit_code == 0
    pair = invoke("summary", f"{models}/models.py:instance", "--input-shape", "4,2,3", "--input-shape", "6,2,3", "-f", "json")
    assert pair.exit_code == 0, pair.stderr
    assert [g["given"]["input"]["shape"] for g in json.loads(pair.stdout)["recurrent"]] == [[4, 2, 3], [6, 2, 3]]
    monkeypatch.chdir(models)
    assert invoke("summary", "models:tagger", "--input-shape", "2,3", "--input-dtype", "long").exit_code == 0


def test_summary_integer_inputs_are_drawn_below_the_embeddings_size(models):
    high = invoke("summary", f"{models}/models.py:tagger", "--input-shape", "2,3", "--input-dtype", "int64", "--input-high", "31")
    assert high.exit_code in (0, 1)  # 31 > num_embeddings: an id of 30 would be out of range
    wrong = invoke("summary", f"{models}/models.py:tagger", "--input-shape", "64,64", "--input-dtype", "int64", "--input-high", "1000")
    assert wrong.exit_code == 1 and "likely cause: a token id is at least num_embeddings" in wrong.stdout
    ok = [invoke("summary", f"{models}/models.py:tagger", "--input-shape", "64,64", "--input-dtype", "int64", "--seed", str(s))
          for s in range(3)]
    assert all(r.exit_code == 0 for r in ok)  # the default range is the embedding's own
    no_embedding = invoke("summary", f"{models}/models.py:instance", "--input-shape", "4,2,3", "--input-shape", "4,2,3",
                          "--input-dtype", "int64")
    one_error_line(no_embedding, "--input-high", "nn.Embedding")


def test_summary_forward_that_raises_is_exit_1_explained(models):
    result = invoke("summary", f"{models}/models.py:tagger", "--input-shape", "2,3")  # float ids
    assert result.exit_code == 1
    assert "✗ embedding (nn.Embedding) refused what it was given" in result.stdout
    assert "fix: input = input.long()" in result.stdout
    assert result.stderr.startswith("failed: embedding (nn.Embedding) raised RuntimeError") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("target,words", [
    ("models.py", "path/to/file.py:factory"),
    ("nowhere.py:make", "no file"),
    ("models.py:nope", "names no 'nope'"),
    ("models.py:not_a_model", "neither an nn.Module nor a callable"),
    ("models.py:broken", "raised ValueError when called: no weights here"),
    ("models.py:nothing", "returned a int, not an nn.Module"),
    ("syntax.py:broken", "SyntaxError"),
    ("missing.py:x", "ModuleNotFoundError"),
    ("exits.py:x", "sys.exit(3)"),
    ("no_such_package_here.models:x", "ModuleNotFoundError"),
])
def test_summary_target_that_cannot_be_imported_or_called_is_one_line(models, monkeypatch, target, words):
    monkeypatch.chdir(models)
    one_error_line(invoke("summary", target, "--input-shape", "2,3"), "TARGET", words)


def test_summary_needs_an_input_shape_per_forward_input(models):
    one_error_line(invoke("summary", f"{models}/models.py:instance", "--input-shape", "4,2,3"), "--input-shape", "a, b")
    one_error_line(invoke("summary", f"{models}/models.py:tagger", "--input-shape", "2,3", "--input-shape", "2,3",
                          "--input-dtype", "int64", "--input-dtype", "int64", "--input-dtype", "int64"), "--input-dtype")


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_summary_formats(models, fmt):
    result = invoke("summary", f"{models}/models.py:tagger", "--input-shape", "2,3", "--input-dtype", "int64", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "csv":
        assert result.stdout.splitlines()[0] == "path,type,depth,parameters,calls,outputs"
    else:
        assert "lstm: nn.LSTM(8, 6, batch_first=True, bidirectional=True), called once" in result.stdout
        assert "recurrent MACs" in result.stdout


def test_summary_and_check_schemas():
    for kind in ("summary", "check"):
        result = invoke("schema", kind)
        assert result.exit_code == 0 and json.loads(result.stdout)["$id"].endswith(f":{kind}")
