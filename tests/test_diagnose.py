"""Why torch refused a call (rnnshape/model/diagnose.py), each cause reproduced with real torch calls.

Every entry of CAUSES is reproduced here through inspect(module, ...), summary(model, ...)
or check(spec, ...); test_every_cause_has_a_reproduction fails for a cause added without one.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest

with warnings.catch_warnings():
    # A CPU wheel without NumPy warns on import; nothing here needs NumPy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from torch import nn

import rnnshape
import rnnshape.model.diagnose as diagnose
from rnnshape import RNNSpec
from rnnshape.model.check import check

x = torch.randn
z = torch.zeros
NO_CAUSE = "none of the known causes fits; the differences above are what torch refused"


def refused(call):
    """Run call(), which must raise; (torch's exception, the Explanation rnnshape attached)."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the type is checked by the tests
        return exc, getattr(exc, "rnnshape_explanation", None)
    raise AssertionError("torch accepted the call")


def names(explanation) -> list[str]:
    return [name for name, _, _ in explanation.causes]


def first_line(exc: BaseException) -> str:
    return " ".join(str(exc).splitlines()[0].split())


# --- inspect(module, *args): (cause, module, args, torch's type, its message, words the cause says, others allowed)
def case(cause, make, error, match, says="", also=(), id=None):
    return pytest.param(cause, make, error, match, says, set(also), id=id or cause)


INSPECT_CASES = [
    case("batch-first data, seq-first layer", lambda: (nn.GRU(4, 8), x(3, 5, 4), z(1, 3, 8)),
         RuntimeError, r"Expected hidden size \(1, 5, 8\), got \[1, 3, 8\]", "batch of 3"),
    case("seq-first data, batch-first layer", lambda: (nn.GRU(4, 8, batch_first=True), x(5, 3, 4), z(1, 3, 8)),
         RuntimeError, r"Expected hidden size \(1, 5, 8\)", "batch_first=True"),
    case("last batch smaller", lambda: (nn.LSTM(4, 8, num_layers=2), x(5, 2, 4), (z(2, 3, 8), z(2, 3, 8))),
         RuntimeError, r"Expected hidden\[0\] size \(2, 2, 8\)", "made for a batch of 3", id="last-batch-layer"),
    case("last batch smaller", lambda: (nn.GRUCell(4, 8), x(2, 4), z(3, 8)),
         RuntimeError, "Input batch size 2 doesn't match hidden0 batch size 3", "this batch has 2", id="last-batch-cell"),
    case("last batch smaller", lambda: (nn.LSTMCell(4, 8), x(2, 4), (z(3, 8), z(3, 8))),
         RuntimeError, "Input batch size 2", "made for a batch of 3", id="last-batch-lstmcell"),
    case("state rows", lambda: (nn.GRU(4, 8, bidirectional=True), x(5, 3, 4), z(1, 3, 8)),
         RuntimeError, r"Expected hidden size \(2, 3, 8\)", "the reverse direction is missing", id="rows-bidirectional"),
    case("state rows", lambda: (nn.LSTM(4, 8, num_layers=2), x(5, 3, 4), (z(1, 3, 8), z(1, 3, 8))),
         RuntimeError, r"Expected hidden\[0\] size \(2, 3, 8\)", "the stacked layers are missing", id="rows-stacked"),
    case("2-D state for batched input", lambda: (nn.GRU(4, 8), x(5, 3, 4), z(3, 8)),
         RuntimeError, "hx should also be 3-D but got 2-D", "(1, 3, 8)"),
    case("3-D state for unbatched input", lambda: (nn.GRU(4, 8), x(5, 4), z(1, 1, 8)),
         RuntimeError, "hx should also be 2-D but got 3-D"),
    case("state laid out batch-first", lambda: (nn.GRU(4, 8, num_layers=2, batch_first=True), x(3, 5, 4), z(3, 2, 8)),
         RuntimeError, r"Expected hidden size \(2, 3, 8\), got \[3, 2, 8\]", "(3, 2, 8)", also={"state rows"}),
    case("LSTM state not a tuple", lambda: (nn.LSTM(4, 8), x(5, 3, 4), z(1, 3, 8)),
         IndexError, "index 1 is out of bounds", "missing c_0", id="lstm-h0-alone"),
    case("LSTM state not a tuple", lambda: (nn.LSTM(4, 8), x(5, 3, 4), (z(1, 3, 8),)),
         IndexError, "tuple index out of range", "(h_0, c_0)", id="lstm-tuple-of-one"),
    case("h_0 of hidden_size with proj_size", lambda: (nn.LSTM(4, 8, proj_size=4), x(5, 3, 4), (z(1, 3, 8), z(1, 3, 8))),
         RuntimeError, r"Expected hidden\[0\] size \(1, 3, 4\)", "H_out = proj_size = 4"),
    case("c_0 of proj_size", lambda: (nn.LSTM(4, 8, proj_size=4), x(5, 3, 4), (z(1, 3, 4), z(1, 3, 4))),
         RuntimeError, r"Expected hidden\[1\] size \(1, 3, 8\)", "hidden_size = 8"),
    case("input features", lambda: (nn.GRU(4, 8), x(5, 3, 6)),
         RuntimeError, r"input.size\(-1\) must be equal to input_size. Expected 4, got 6", "has 6"),
    case("input dims", lambda: (nn.GRU(4, 8), x(5, 1, 3, 4)),
         ValueError, "Expected input to be 2D or 3D, got 4D", "4-D (5, 1, 3, 4)"),
    case("a sequence to a cell", lambda: (nn.GRUCell(4, 8), x(5, 3, 4)),
         ValueError, "Expected input to be 1D or 2D, got 3D", "a whole sequence"),
    case("input too few dims", lambda: (nn.GRUCell(4, 8), x(())),
         ValueError, "Expected input to be 1D or 2D, got 0D", "0-D"),
    case("token ids", lambda: (nn.GRU(4, 8), torch.randint(0, 5, (5, 3, 4))),
         ValueError, r"input dtype \(torch.int64\) does not match", "nn.Embedding"),
    case("input dtype", lambda: (nn.GRU(4, 8), x(5, 3, 4, dtype=torch.float64)),
         ValueError, r"input dtype \(torch.float64\) does not match", "float64"),
    case("state dtype", lambda: (nn.GRU(4, 8), x(5, 3, 4), z(1, 3, 8, dtype=torch.float64)),
         RuntimeError, "must have the same dtype", "state is float64"),
    case("device", lambda: (nn.GRU(4, 8), x(5, 3, 4, device="meta")),
         RuntimeError, "not at the same device", "on meta and the weights on cpu"),
    case("state a tuple where a tensor belongs", lambda: (nn.GRU(4, 8), x(5, 3, 4), (z(1, 3, 8), z(1, 3, 8))),
         AttributeError, "'tuple' object has no attribute 'dim'", "nn.LSTM's state"),
    case("input is not a tensor", lambda: (nn.GRU(4, 8), [x(5, 4), x(3, 4)]),
         AttributeError, "'list' object has no attribute 'dim'", "a list"),
    case("layer state to a cell", lambda: (nn.GRUCell(4, 8), x(3, 4), z(1, 3, 8)),
         ValueError, "Expected hidden to be 1D or 2D, got 3D", "one step"),
    case("empty sequence", lambda: (nn.GRU(4, 8, batch_first=True), x(3, 0, 4)),
         RuntimeError, "sequence length to be larger than 0", "dim 1 of (3, 0, 4)"),
]


def assert_well_formed(explanation, exc=None):
    """Torch's words quoted, each fix one line, one block naming the module, with a fix in it."""
    text = explanation.text()
    assert text.startswith(f"rnnshape: {explanation.place} refused what it was given")
    assert explanation.module in text.splitlines()[0]
    assert "\n\n" not in text and "fix" in text
    for name, says, fix in explanation.causes:
        assert "\n" not in says and "\n" not in fix and fix.strip() == fix and fix
        assert "{" not in says + fix, name  # every template word filled
        assert "?" not in fix, (name, fix)
    if exc is not None:
        assert explanation.message == first_line(exc)
        assert type(exc).__name__ == explanation.error_type
        assert f"  torch     {explanation.error_type}: {explanation.message}" in text
        notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("rnnshape:")]
        assert notes == [text]


@pytest.mark.parametrize("cause, make, error, match, says, also", INSPECT_CASES)
def test_inspect_explains_each_cause(cause, make, error, match, says, also):
    module, *args = make()
    module.train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with pytest.raises(error, match=match) as info:
        rnnshape.inspect(module, *args)
    exc = info.value
    assert type(exc) is error  # torch's own exception, not a wrapper
    explanation = exc.rnnshape_explanation
    assert names(explanation)[0] == cause
    assert set(names(explanation)[1:]) <= also
    assert says in dict((n, s) for n, s, _ in explanation.causes)[cause]
    assert explanation.module.startswith(f"nn.{type(module).__name__}(")
    assert_well_formed(explanation, exc)
    # The module is left as it was: mode, weights, no hooks.
    assert module.training
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not module._forward_hooks and not module._forward_pre_hooks


def test_constructor_text_and_fix_read_as_code():
    _, explanation = refused(lambda: rnnshape.inspect(nn.LSTM(4, 8), x(5, 2, 4), (z(1, 3, 8), z(1, 3, 8))))
    text = explanation.text()
    assert text.splitlines()[0] == "rnnshape: nn.LSTM(4, 8) refused what it was given"
    assert "  fix       h_0 = c_0 = torch.zeros(1, input.size(1), 8)" in text  # both states, made per batch
    _, projected = refused(lambda: rnnshape.inspect(nn.LSTM(4, 8, proj_size=3), x(5, 2, 4), (z(1, 3, 3), z(1, 3, 8))))
    assert projected.causes[0][2].startswith("h_0, c_0 = torch.zeros(1, input.size(1), 3), torch.zeros(1, input.size(1), 8)")
    _, explanation = refused(lambda: rnnshape.inspect(nn.GRU(4, 8), x(3, 5, 4), z(1, 3, 8)))
    assert explanation.causes[0][2] == "rnn = nn.GRU(4, 8, batch_first=True)  # or: input = input.transpose(0, 1)"
    assert explanation.differences == ["h_0: N is 3, expected 5"]


def test_batch_first_data_without_h0_is_accepted_by_torch():
    """The premise of the batch-first causes: without h_0 torch takes (N, L, H_in) as (L, N, H_in) and says nothing."""
    report = rnnshape.inspect(nn.GRU(4, 8), x(3, 5, 4))
    assert report.spec.batch_size == 5 and report.spec.seq_len == 3


# --- summary(model, ...): the innermost module that raised, by its path ------


class Packer(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 8, batch_first=True)

    def forward(self, padded, lengths):
        return self.rnn(nn.utils.rnn.pack_padded_sequence(padded, lengths, batch_first=True))


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 8)

    def forward(self, ids):
        return self.rnn(self.emb(ids))


class Encoder(nn.Module):
    """init_hidden(batch_size) called once, as in many tutorials."""

    def __init__(self, batch_size=3):
        super().__init__()
        self.enc = Tagger()
        self.hidden = (z(1, batch_size, 8), z(1, batch_size, 8))

    def forward(self, ids):
        return self.enc.rnn(self.enc.emb(ids), self.hidden)


SUMMARY_CASES = [
    pytest.param("unsorted lengths", Packer, lambda: (x(3, 5, 4), torch.tensor([2, 5, 3])), RuntimeError,
                 "must be sorted in decreasing order", "", "Packer", id="unsorted-lengths"),
    pytest.param("float ids to nn.Embedding", Tagger, lambda: (x(5, 3),), RuntimeError,
                 "'indices'", "emb", "emb (nn.Embedding)", id="float-ids"),
    pytest.param("token id out of range", Tagger, lambda: (torch.full((5, 3), 12),), IndexError,
                 "index out of range", "emb", "emb (nn.Embedding)", id="id-out-of-range"),
    pytest.param("last batch smaller", Encoder, lambda: (torch.randint(0, 10, (5, 2)),), RuntimeError,
                 r"Expected hidden\[0\] size \(1, 2, 8\)", "enc.rnn", "enc.rnn (nn.LSTM(4, 8))", id="nested-last-batch"),
]


def assert_no_hooks(model):
    for path, module in model.named_modules():
        assert not module._forward_hooks and not module._forward_pre_hooks, path


@pytest.mark.parametrize("cause, make_model, make_args, error, match, where, place", SUMMARY_CASES)
def test_summary_explains_where_the_innermost_module_raised(cause, make_model, make_args, error, match, where, place):
    model, args = make_model(), make_args()
    rng = torch.get_rng_state()  # the caller's random state is kept, also when the forward raises
    with pytest.raises(error, match=match) as info:
        rnnshape.summary(model, *args)
    exc = info.value
    assert type(exc) is error
    explanation = exc.rnnshape_explanation
    assert names(explanation) == [cause]
    assert explanation.where == where
    assert place in explanation.text().splitlines()[0]
    assert_well_formed(explanation, exc)
    assert_no_hooks(model)
    assert torch.equal(torch.get_rng_state(), rng)


def test_summary_of_a_model_that_runs_leaves_no_hooks():
    model = Tagger()
    result = rnnshape.summary(model, torch.randint(0, 10, (5, 3)))
    assert result.ok and result.error is None
    assert_no_hooks(model)


# --- check(spec, shapes): the refusal explained, not raised -------------------

CHECK_CASES = [
    pytest.param("unsorted lengths", RNNSpec(mode="gru", input_size=4, hidden_size=8), (5, 3, 4), {"lengths": (2, 5, 3)},
                 "must be sorted in decreasing order", id="unsorted-lengths"),
    pytest.param("batch-first data, seq-first layer", RNNSpec(mode="gru", input_size=4, hidden_size=8), (3, 5, 4),
                 {"h0_shape": (1, 3, 8)}, "Expected hidden size (1, 5, 8)", id="batch-first"),
    pytest.param("LSTM state not a tuple", RNNSpec(mode="lstm", input_size=4, hidden_size=8), (5, 3, 4),
                 {"h0_shape": (1, 3, 8)}, "index 1 is out of bounds", id="lstm-h0-alone"),
    pytest.param("token ids", RNNSpec(mode="lstm", input_size=4, hidden_size=8), (5, 3, 4), {"input_dtype": "int64"},
                 "input dtype (torch.int64)", id="token-ids"),
    pytest.param("h_0 of hidden_size with proj_size", RNNSpec(mode="lstm", input_size=4, hidden_size=8, proj_size=4),
                 (5, 3, 4), {"h0_shape": (1, 3, 8), "c0_shape": (1, 3, 8)}, "Expected hidden[0] size (1, 3, 4)", id="proj"),
    pytest.param("one length per sequence", RNNSpec(mode="gru", input_size=4, hidden_size=8), (5, 2, 4), {"lengths": (5, 3, 2)},
                 "Expected `len(lengths)` to be equal to batch_size", id="lengths-per-sequence"),
    pytest.param("state rows", RNNSpec(mode="gru", input_size=4, hidden_size=8, num_layers=2, bidirectional=True),
                 (5, 3, 4), {"h0_shape": (2, 3, 8)}, "Expected hidden size (4, 3, 8)", id="rows"),
]


@pytest.mark.parametrize("cause, spec, input_shape, flags, message", CHECK_CASES)
def test_check_reports_the_refusal_explained(cause, spec, input_shape, flags, message):
    report = check(spec, input_shape, **flags)
    assert not report.accepted and report.report is None and not report.ok
    explanation = report.explanation
    assert names(explanation)[0] == cause
    assert message in explanation.message
    assert_well_formed(explanation)
    assert report.to_dict()["explanation"]["causes"][0]["name"] == cause


def test_check_accepts_unsorted_lengths_without_enforce_sorted():
    report = check(RNNSpec(mode="gru", input_size=4, hidden_size=8), (5, 3, 4), lengths=(2, 5, 3), enforce_sorted=False)
    assert report.accepted and report.explanation is None


# --- every cause reproduced; no guess where none fits ---------------------------


def every_reproduction():
    """(id, Explanation) for every case above: each refusal run again."""
    for p in INSPECT_CASES:
        make = p.values[1]
        yield p.id, refused(lambda: rnnshape.inspect(*make()))[1]
    for p in SUMMARY_CASES:
        make_model, make_args = p.values[1], p.values[2]
        yield p.id, refused(lambda: rnnshape.summary(make_model(), *make_args()))[1]
    for p in CHECK_CASES:
        _, spec, shape, flags, _ = p.values
        yield p.id, check(spec, shape, **flags).explanation


def test_every_cause_has_a_reproduction():
    hit = {name for _, explanation in every_reproduction() for name in names(explanation)}
    assert hit == {c.name for c in diagnose.CAUSES}
    assert len({c.name for c in diagnose.CAUSES}) == len(diagnose.CAUSES)


def test_a_refusal_no_cause_fits_lists_the_differences_and_does_not_guess():
    """h_0 made for a batch of 2 fed a batch of 3: no known cause, only facts."""
    exc, explanation = refused(lambda: rnnshape.summary(Encoder(batch_size=2), torch.randint(0, 10, (5, 3))))
    assert isinstance(exc, RuntimeError)
    assert explanation.causes == []
    assert explanation.where == "enc.rnn"
    assert explanation.differences == ["h_0: N is 2, expected 3", "c_0: N is 2, expected 3"]
    assert explanation.message == first_line(exc)
    text = explanation.text()
    assert f"  cause     {NO_CAUSE}" in text and "  fix " not in text


@pytest.mark.parametrize("cause, make, error, match, says, also", INSPECT_CASES)
def test_with_no_causes_known_the_differences_alone_carry_the_facts(monkeypatch, cause, make, error, match, says, also):
    module, *args = make()
    with_causes = refused(lambda: rnnshape.inspect(module, *args))[1]
    monkeypatch.setattr(diagnose, "CAUSES", ())
    exc, explanation = refused(lambda: rnnshape.inspect(module, *args))
    assert isinstance(exc, error) and re.search(match, str(exc))
    assert explanation.causes == []
    assert explanation.differences and explanation.differences == with_causes.differences
    assert f"  cause     {NO_CAUSE}" in explanation.text()


@pytest.mark.parametrize("make", [lambda: (nn.GRU(4, 8), x(5, 1, 3, 4)), lambda: (nn.GRUCell(4, 8), x(())),
                                  lambda: (nn.GRU(4, 8), x(0, 3, 4))], ids=["4-D", "0-D-cell", "L=0"])
def test_no_cause_input_of_the_wrong_rank_still_lists_a_difference(monkeypatch, make):
    monkeypatch.setattr(diagnose, "CAUSES", ())
    _, explanation = refused(lambda: rnnshape.inspect(*make()))
    assert explanation.differences
    assert "the shapes are the ones the module takes" not in explanation.text()


@pytest.mark.parametrize("cause, make, error, match, says, also", INSPECT_CASES)
def test_a_broken_cause_is_no_longer_named(monkeypatch, cause, make, error, match, says, also):
    module, *args = make()
    assert cause in names(refused(lambda: rnnshape.inspect(module, *args))[1])
    broken = tuple(dataclasses.replace(c, recognise=lambda s: False) if c.name == cause else c for c in diagnose.CAUSES)
    monkeypatch.setattr(diagnose, "CAUSES", broken)
    exc, explanation = refused(lambda: rnnshape.inspect(module, *args))
    assert isinstance(exc, error)
    assert cause not in names(explanation)
    assert explanation.message == first_line(exc)


def test_input_dims_fix_is_code_without_a_singleton_dimension():
    _, explanation = refused(lambda: rnnshape.inspect(nn.GRU(4, 8), x(2, 5, 3, 4)))
    assert names(explanation) == ["input dims"]
    assert explanation.causes[0][2] == "input = input.flatten(2)  # then input_size = 12"
    _, explanation = refused(lambda: rnnshape.inspect(nn.GRU(4, 8), x(2, 5, 1, 4)))
    assert explanation.causes[0][2] == "input = input.squeeze(2)"


def test_a_failure_to_explain_never_hides_torchs_error(monkeypatch):
    import rnnshape.model.call as call

    def broken(situation):
        raise ZeroDivisionError("a bug in the explainer")

    monkeypatch.setattr(call, "explain", broken)
    with pytest.raises(RuntimeError, match=r"Expected hidden size") as info:
        rnnshape.inspect(nn.GRU(4, 8), x(5, 3, 4), z(1, 2, 8))
    assert info.value.__notes__ == ["rnnshape could not explain this error (ZeroDivisionError: a bug in the explainer)"]
    assert getattr(info.value, "rnnshape_explanation", None) is None
