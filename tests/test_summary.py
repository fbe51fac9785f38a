"""summary(model, *args) and watch(model) on real models, against what torch itself produces.

The truth for each model is taken without rnnshape: every module's output
shapes from the test's own forward hooks, every recurrent call's from calling
the module directly, parameter counts from model.parameters(), MACs from the
closed form written out here.
"""

from __future__ import annotations

import threading
import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

import rnnshape
from rnnshape import Summary, summary, watch


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(12, 5)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.classifier(out)


class Seq2Seq(nn.Module):
    def __init__(self, steps=20):
        super().__init__()
        self.steps = steps
        self.encoder = nn.GRU(4, 6, batch_first=True)
        self.decoder = nn.GRUCell(4, 6)
        self.out = nn.Linear(6, 4)

    def forward(self, x):
        _, h = self.encoder(x)
        h, y, ys = h[0], torch.zeros(x.size(0), 4), []
        for _ in range(self.steps):
            h = self.decoder(y, h)
            y = self.out(h)
            ys.append(y)
        return torch.stack(ys, 1)


class PackedClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2)
        self.head = nn.Linear(5, 2)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])


class Twice(nn.Module):
    """One LSTM called twice: on the question, then on the answer (which may be longer)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, proj_size=2)

    def forward(self, a, b):
        _, state = self.rnn(a)
        out, _ = self.rnn(b, state)
        return out


def truth_outputs(model, *args):
    """Each module's output shapes per call, by the test's own hooks."""
    seen: dict[str, list] = {}

    def hook(name):
        def record(module, inputs, output):
            seen.setdefault(name, []).append(output)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(*args)
    finally:
        for h in handles:
            h.remove()
    return seen


def shapes(value):
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return ("packed", tuple(value.data.shape))
    return tuple(shapes(v) for v in value)


def structure_shapes(structure):
    kind = structure["kind"]
    if kind == "tensor":
        return tuple(structure["shape"])
    if kind == "packed":
        return ("packed", tuple(structure["shape"]))
    return tuple(structure_shapes(s) for s in structure["items"])


def assert_rows_are_torchs(result: Summary, model, *args):
    truth = truth_outputs(model, *args)
    rows = {row["path"]: row for row in result.to_dict()["modules"]}
    assert list(rows) == [name for name, _ in model.named_modules()]  # tree order, every module
    for name, outputs in truth.items():
        row = rows[name]
        assert row["calls"] == len(outputs)
        counted = {}
        for out in outputs:
            counted[shapes(out)] = counted.get(shapes(out), 0) + 1
        assert {structure_shapes(o["structure"]): o["calls"] for o in row["outputs"]} == counted


def test_tagger():
    model, tokens = Tagger(), torch.randint(0, 50, (4, 7))
    result = summary(model, tokens)
    assert result.ok and result.model == "Tagger"
    assert_rows_are_torchs(result, model, tokens)
    (group,) = result.groups
    assert (group.where, group.calls) == ("lstm", 1)
    seen = group.report.observation.tensors
    assert seen["input"] == (4, 7, 8) and seen["output"] == (4, 7, 12) and seen["h_n"] == seen["c_n"] == (2, 4, 6)
    assert group.report.observation.unavailable.keys() == {"h_0", "c_0"}  # left out: zeros
    assert result.total_parameters == sum(p.numel() for p in model.parameters())
    assert result.recurrent_parameters == sum(p.numel() for p in model.lstm.parameters())
    # L*N*D*G*H*(H_in + H): input projections and recurrences of a one-layer bidirectional LSTM
    assert result.recurrent_macs == 7 * 4 * 2 * 4 * 6 * (8 + 6)
    data = result.to_dict()
    assert data["recurrent"][0]["given"]["input"] == {"kind": "tensor", "shape": [4, 7, 8], "dtype": "float32", "device": "cpu"}
    assert data["recurrent"][0]["given"]["h_0"] is None


def test_seq2seq_groups_the_decoder_loop():
    model, x = Seq2Seq(steps=20), torch.randn(3, 5, 4)
    result = summary(model, x)
    assert result.ok
    assert_rows_are_torchs(result, model, x)
    groups = {g.where: g for g in result.groups}
    assert groups["encoder"].calls == 1 and groups["decoder"].calls == 20  # one group of 20, not 20 rows
    decoder = groups["decoder"].report.observation.tensors
    assert decoder == {"input": (3, 4), "h_0": (3, 6), "h_1": (3, 6)}
    # the MACs count every step: 20 cell calls, G=3, (H_in + H)
    encoder_macs = 5 * 3 * 3 * 6 * (4 + 6)
    assert result.recurrent_macs == encoder_macs + 20 * (3 * 3 * 6 * (4 + 6))


def test_packed_classifier():
    model = PackedClassifier()
    x, lengths = torch.randn(6, 4, 3), torch.tensor([3, 6, 1, 4])
    result = summary(model, x, lengths)
    assert result.ok
    assert_rows_are_torchs(result, model, x, lengths)
    (group,) = result.groups
    assert group.given.input.lengths == (3, 6, 1, 4)
    report = group.report
    assert report.spec.lengths == (3, 6, 1, 4) and not report.spec.enforce_sorted
    assert report.observation.packing["batch_sizes"] == [4, 3, 3, 2, 1, 1]
    assert report.observation.tensors["packed_input"] == (14, 3)
    assert all(report.observation.relations.values())  # each sequence's own last step is its h_n, checked


def test_one_lstm_called_twice_with_proj_size():
    model = Twice()
    a, b = torch.randn(4, 2, 3), torch.randn(6, 2, 3)
    result = summary(model, a, b)
    assert result.ok
    assert_rows_are_torchs(result, model, a, b)
    first, second = result.groups  # different L, and the second call got a state: two groups
    assert (first.calls, second.calls) == (1, 1)
    assert first.report.observation.tensors["h_n"] == (1, 2, 2) and first.report.observation.tensors["c_n"] == (1, 2, 4)
    assert second.report.observation.tensors["h_0"] == (1, 2, 2) and second.report.observation.tensors["c_0"] == (1, 2, 4)
    same = summary(model, a, a.clone())
    assert [g.calls for g in same.groups] == [1, 1]  # the second got (h_0, c_0): not the same given
    loop = nn.Module()
    loop.rnn = nn.GRU(3, 4)
    loop.forward = lambda x: [loop.rnn(x) for _ in range(3)][-1][0]
    assert [g.calls for g in summary(loop, a).groups] == [3]


def test_data_parallel_paths():
    model = nn.DataParallel(Tagger())  # no GPU here: DataParallel calls its module directly
    tokens = torch.randint(0, 50, (2, 5))
    result = summary(model, tokens)
    assert result.ok
    assert [g.where for g in result.groups] == ["module.lstm"]
    assert [row.path for row in result.rows][:3] == ["", "module", "module.embedding"]


def test_forward_that_raises_is_reraised_with_the_note_and_every_hook_removed():
    model, x = Seq2Seq(), torch.randn(3, 5, 7)
    torch.manual_seed(5)
    rng = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size") as info:
        summary(model, x)
    notes = info.value.__notes__
    assert len(notes) == 1 and notes[0].startswith("rnnshape: encoder (nn.GRU(4, 6, batch_first=True)) refused")
    assert info.value.rnnshape_explanation.causes[0][0] == "input features"
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_forward_that_raises_something_else_is_left_alone_but_hooks_still_go():
    class Angry(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(2, 3)

        def forward(self, x):
            self.rnn(x)
            raise KeyError("not a shape problem")

    model = Angry()
    with pytest.raises(KeyError) as info:
        summary(model, torch.randn(3, 1, 2))
    # the model is where it raised: its own arguments and torch's words, no cause guessed
    assert info.value.rnnshape_explanation.causes == []
    assert all(not m._forward_hooks for m in model.modules())


def test_watch_a_training_step_and_a_generate_loop():
    model = Seq2Seq(steps=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model) as w:
        for _ in range(2):
            loss = model(torch.randn(2, 5, 4)).pow(2).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    result = w.summary()
    assert {g.where: g.calls for g in result.groups} == {"encoder": 2, "decoder": 6}
    assert all(not m._forward_hooks for m in model.modules())
    assert result.ok


def test_watch_removes_its_hooks_when_the_code_inside_raises():
    model = Tagger()
    with pytest.raises(ValueError):
        with watch(model):
            model(torch.randint(0, 50, (2, 3)))
            raise ValueError("the user's own error")
    assert all(not m._forward_hooks for m in model.modules())


def test_watch_counts_calls_from_threads():
    model = Seq2Seq(steps=2)
    with watch(model) as w:
        threads = [threading.Thread(target=lambda: [model(torch.randn(2, 3, 4)) for _ in range(5)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {g.where: g.calls for g in w.summary().groups} == {"encoder": 20, "decoder": 40}


def test_only_modules_are_watched():
    for value in (lambda x: x, "model", None):
        with pytest.raises(TypeError, match="torch.nn.Module"):
            summary(value)
        with pytest.raises(TypeError, match="torch.nn.Module"):
            watch(value)


def test_render_every_format():
    from rnnshape.render import render

    result = summary(Seq2Seq(steps=4), torch.randn(2, 3, 4))
    table = render(result, "table", width=100)
    assert "decoder: nn.GRUCell(4, 6), called 4 times with these shapes: tensors" in table
    assert "×4" in table and "recurrent MACs" in table
    markdown = render(result, "markdown")
    assert "| module | type | output | parameters |" in markdown
    csv = render(result, "csv").splitlines()
    assert csv[0] == "path,type,depth,parameters,calls,outputs" and len(csv) == 1 + len(result.rows)
    assert rnnshape.summary is summary


def test_calls_that_raised_are_rows_and_watch_keeps_the_explanation():
    from rnnshape.model.summary import run_model

    model = Seq2Seq()
    kept = run_model(model, (torch.randn(3, 5, 7),), {}, keep_error=True)  # the command line's way: not re-raised
    rows = {row.path: row.outputs.shown for row in kept.rows}
    assert rows[""] == {"raised RuntimeError": 1} and rows["encoder"] == {"raised RuntimeError": 1}
    assert rows["decoder"] == {} and kept.error.where == "encoder" and not kept.ok
    with pytest.raises(RuntimeError):
        with watch(model) as w:
            model(torch.randn(3, 5, 4))  # a call that works
            model(torch.randn(3, 5, 7))  # and one that does not
    result = w.summary()
    assert result.error is not None and result.error.causes[0][0] == "input features" and not result.ok
    assert {row.path: row.outputs.calls for row in result.rows}["encoder"] == 2


def test_the_training_note_only_where_something_drops():
    quiet = summary(Tagger(), torch.randint(0, 50, (2, 3)))
    assert not any("training mode" in n for n in quiet.notes)
    dropping = nn.Sequential(nn.Dropout(0.1), nn.GRU(3, 4))
    assert any("training mode" in n for n in summary(dropping, torch.randn(2, 1, 3)).notes)
    assert not any("training mode" in n for n in summary(dropping.eval(), torch.randn(2, 1, 3)).notes)
