"""Why torch refused what a module was given, in plain words.

A refusal becomes an Explanation: which module (its path in the model), what
it got (each argument's shape, dtype, device), what torch expected (theory's
shapes for the module's config and the input's L and N), exactly which
dimension, dtype or device differs, torch's own message, and the likely
causes, each with its fix as one line of code.

The causes are data: one Cause per entry in CAUSES, each a test on the
Situation and two sentences (what it means, the fix) written as templates over
Situation.words(). Adding a cause is adding an entry. Where none is
recognised, the differences alone are reported: they are facts, not guesses.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from rnnshape import theory
from rnnshape.language import Message, fill, join, tr
from rnnshape.model.given import Facts, Given, OtherFacts, PackedFacts, TensorFacts
from rnnshape.spec import RNNSpec
from rnnshape.theory import shape_text


@dataclass
class Situation:
    """A refused call: the module, what it got, and torch's exception."""

    where: str  # the module's path in the model ("" for the model itself)
    module: str  # its constructor (nn.LSTM(256, 256)) or type name
    error: BaseException
    spec: RNNSpec | None = None  # a recurrent module's config
    given: Given | None = None  # a recurrent module's input, h_0, c_0
    module_type: str = ""  # the class name (Embedding, LSTM, Tagger)
    arguments: list[tuple[str, Facts | None]] = field(default_factory=list)  # any module's arguments

    # --- what the causes test -------------------------------------------
    @property
    def message(self) -> str:
        return str(self.error)

    @property
    def layer(self) -> bool:
        return self.spec is not None and not self.spec.is_cell

    @property
    def cell(self) -> bool:
        return self.spec is not None and self.spec.is_cell

    def tensor(self, name: str) -> TensorFacts | None:
        facts = None if self.given is None else dict(self.given.items())[name]
        return facts if isinstance(facts, TensorFacts) else None

    @property
    def x(self) -> TensorFacts | None:
        return self.tensor("input")

    @property
    def h(self) -> TensorFacts | None:
        return self.tensor("h_0")

    @property
    def c(self) -> TensorFacts | None:
        return self.tensor("c_0")

    @property
    def states(self) -> list[TensorFacts]:
        return [s for s in (self.h, self.c) if s is not None]

    @property
    def input_ndim(self) -> tuple[int, int]:
        """(batched, unbatched) input dims: 3 and 2 for a layer, 2 and 1 for a cell."""
        return (2, 1) if self.cell else (3, 2)

    @property
    def batched(self) -> bool:
        return self.x is not None and len(self.x.shape) == self.input_ndim[0]

    @property
    def batch_dim(self) -> int:
        """Where the input holds N: 1 seq-first, 0 batch_first or a cell."""
        return 0 if self.cell or (self.spec is not None and self.spec.batch_first) else 1

    @property
    def seq_dim(self) -> int:
        """Where a layer's input holds L: dim 0 unbatched, else the dim that is not N."""
        return 0 if not self.batched else 1 - self.batch_dim

    @property
    def N(self) -> int | None:
        return self.x.shape[self.batch_dim] if self.batched and self.x is not None else None

    @property
    def other(self) -> int | None:
        """The input's other leading dim: L as this layer reads it."""
        return self.x.shape[1 - self.batch_dim] if self.batched and self.layer and self.x is not None else None

    @property
    def rows(self) -> int:
        return 1 if self.spec is None or self.spec.is_cell else self.spec.num_directions * self.spec.num_layers

    @property
    def weight_dtype(self) -> str:
        return "" if self.spec is None else self.spec.dtype

    @property
    def weight_device(self) -> str:
        return "" if self.spec is None else self.spec.device

    def state_batch(self, s: TensorFacts) -> int | None:
        """A state's N: dim 1 of a layer's 3-D state, dim 0 of a cell's 2-D one."""
        if self.layer and len(s.shape) == 3:
            return s.shape[1]
        if self.cell and len(s.shape) == 2:
            return s.shape[0]
        return None

    def words(self) -> dict[str, Any]:
        """Every value a cause's sentences name (the templates in CAUSES); a value this call lacks is left out."""
        spec, x, h = self.spec, self.x, self.h
        words: dict[str, Any] = {"where": self.where or self.module, "var": _variable(self.where), "rows": self.rows,
                                 "bd": self.batch_dim, "seq_dim": self.seq_dim, "w_dtype": self.weight_dtype,
                                 "w_device": self.weight_device}
        if self.N is not None:
            words["N"] = self.N
        if spec is not None:
            words.update(name=spec.module_name, layer_name=spec.module_name.removesuffix("Cell"), H_in=spec.input_size,
                         H=spec.hidden_size, H_out=spec.h_out, P=spec.proj_size, D=spec.num_directions, layers=spec.num_layers,
                         ndim_wanted=_INPUT_DIMS[spec.is_cell], reshape="1, -1" if spec.is_cell else "1, 1, -1")
            # Fresh states, made for the batch at hand: (h_0, c_0) both for an LSTM, c_0 of hidden_size.
            batch = "input.size(0)" if spec.is_cell else f"input.size({self.batch_dim})"
            words["states_for_batch"] = _zeros(spec, self.rows, batch)
            words["states_for_N"] = _zeros(spec, self.rows, str(words.get("N", "N")))
            if not spec.is_cell:
                words["flipped_module"] = theory.constructor_text(replace(spec, batch_first=not spec.batch_first))
        if self.given is not None and isinstance(self.given.input, OtherFacts):
            words["input_type"] = self.given.input.type
        if x is not None:
            words.update(x_shape=shape_text(x.shape), x_dtype=x.dtype, ndim=len(x.shape))
            if x.shape:
                words["got"] = x.shape[-1]
                if spec is not None:
                    words["fixed_module"] = theory.constructor_text(replace(spec, input_size=max(1, x.shape[-1])))
            if len(x.shape) > self.input_ndim[0]:
                singleton = next((i for i, n in enumerate(x.shape) if n == 1), None)
                keep = self.input_ndim[0] - 1  # the dims before the features: (L, N) or (N,)
                words["extra_dims_fix"] = (f"input = input.squeeze({singleton})" if singleton is not None else
                                           tr("input = input.flatten({keep})  # then input_size = {size}",
                                              keep=keep, size=math.prod(x.shape[keep:])))
        if h is not None and h.shape:
            words.update(h_shape=shape_text(h.shape),
                         h_rows_text=tr("{n} row", n=h.shape[0]) if h.shape[0] == 1 else tr("{n} rows", n=h.shape[0]))
            if spec is not None:
                words["forgot"] = _forgotten(spec, h.shape[0])
            if self.state_batch(h) is not None:
                words["hN"] = self.state_batch(h)
        odd = next((t for t in self.states if t.dtype != self.weight_dtype), None)
        if odd is not None:
            words["state_dtype"] = odd.dtype
        away = next((t for t in [x, *self.states] if t is not None and t.device != self.weight_device), None)
        if away is not None:
            words["state_device"] = away.device
        return words


def _zeros(spec: RNNSpec, rows: int, batch: str) -> str:
    """The assignment that makes fresh states for this module: h_0 (and c_0, of hidden_size, for an LSTM)."""
    lead = f"{batch}" if spec.is_cell else f"{rows}, {batch}"
    h = f"torch.zeros({lead}, {spec.h_out})"
    if spec.lstm and spec.h_out != spec.hidden_size:  # proj_size: h_0 projected, c_0 of hidden_size
        return f"h_0, c_0 = {h}, torch.zeros({lead}, {spec.hidden_size})"
    return f"h_0 = c_0 = {h}" if spec.lstm else f"h_0 = {h}"


def _variable(where: str) -> str:
    """How the user's code likely names the module: self.<its attribute>, or rnn."""
    return f"self.{where.rsplit('.', 1)[-1]}" if where else "rnn"


def _forgotten(spec: RNNSpec, got: int) -> str:
    if spec.num_directions == 2 and got == spec.num_layers:
        return tr("one per layer: the reverse direction is missing")
    if spec.num_layers > 1 and got == spec.num_directions:
        return tr("one per direction: the stacked layers are missing")
    return tr("{got} given", got=got)


@dataclass(frozen=True)
class Cause:
    """One way a call goes wrong: how to recognise it, what to say, and the fix (templates over Situation.words()).

    `says` is a tr() template; `fix` is one line of code, a tr() template where its comment has words to translate.
    """

    name: str
    recognise: Callable[[Situation], bool]
    says: str
    fix: str


def _is_int(dtype: str) -> bool:
    return dtype.startswith(("int", "uint")) or dtype == "bool"


def _state_rows_short(s: Situation) -> bool:
    return s.layer and not _state_laid_out_batch_first(s) and any(len(t.shape) == 3 and t.shape[0] != s.rows for t in s.states)


def _batch_first_data(s: Situation) -> bool:
    return (s.layer and s.batched and s.h is not None and len(s.h.shape) == 3
            and s.h.shape[1] == s.other and s.h.shape[1] != s.N)


def _state_laid_out_batch_first(s: Situation) -> bool:
    return (s.layer and s.batched and s.N is not None and s.N != s.rows
            and any(len(t.shape) == 3 and t.shape[:2] == (s.N, s.rows) for t in s.states))


def _last_batch_smaller(s: Situation) -> bool:
    if s.N is None or _batch_first_data(s) or _state_laid_out_batch_first(s):
        return False
    return any((s.state_batch(t) or 0) > s.N for t in s.states)


# The causes, most specific first; every one that matches is reported.
CAUSES: tuple[Cause, ...] = (
    Cause("input is not a tensor",
          lambda s: s.given is not None and isinstance(s.given.input, OtherFacts),
          tr("{where} was given a {input_type} as its input; nn.{name} takes one tensor, or a PackedSequence for sequences of different lengths"),
          tr("input = nn.utils.rnn.pack_sequence(input, enforce_sorted=False)  # or torch.stack(input)")),
    Cause("LSTM state not a tuple",
          lambda s: s.spec is not None and s.spec.lstm and s.given is not None and s.given.state_form in ("tensor", "tuple of 1"),
          tr("nn.{name} takes its state as one tuple (h_0, c_0); it was given h_0 alone, and torch read h_0[0] as h_0 and h_0[1] as c_0, so its error says nothing of the missing c_0"),
          tr("output, (h_n, c_n) = {var}(input, (h_0, c_0))  # c_0: torch.zeros_like(h_0) without proj_size")),
    Cause("state a tuple where a tensor belongs",
          lambda s: s.spec is not None and not s.spec.lstm and s.given is not None and s.given.state_form.startswith("tuple"),
          tr("nn.{name} takes h_0 as one tensor; a tuple (h_0, c_0) is nn.LSTM's state"),
          tr("output, h_n = {var}(input, h_0)  # not (h_0, c_0)")),
    Cause("a sequence to a cell",
          lambda s: s.cell and s.x is not None and len(s.x.shape) == 3,
          tr("nn.{name} takes one time step (N, H_in); this input {x_shape} is a whole sequence (L, N, H_in): the cell is stepped in a loop"),
          tr("for x_t in input: h = {var}(x_t, h)  # or nn.{layer_name} for the whole sequence")),
    Cause("input dims",
          lambda s: s.x is not None and s.spec is not None and len(s.x.shape) > s.input_ndim[0] and not (s.cell and len(s.x.shape) == 3),
          tr("nn.{name} takes {ndim_wanted} input; this one is {ndim}-D {x_shape}: an extra dimension (a channel, or a batch of batches)"),
          "{extra_dims_fix}"),
    Cause("input too few dims",
          lambda s: s.x is not None and s.spec is not None and len(s.x.shape) < s.input_ndim[1],
          tr("nn.{name} takes {ndim_wanted} input; this one is {ndim}-D {x_shape}"),
          "input = input.reshape({reshape})"),
    Cause("empty sequence",
          lambda s: s.layer and s.x is not None and len(s.x.shape) in s.input_ndim and s.x.shape[s.seq_dim] == 0,
          tr("the input has L = 0 time steps (dim {seq_dim} of {x_shape}); nn.{name} needs at least one"),
          tr("if input.size({seq_dim}) > 0: output, h_n = {var}(input)  # skip empty sequences, or pack them away")),
    Cause("token ids",
          lambda s: s.x is not None and s.spec is not None and _is_int(s.x.dtype),
          tr("{x_dtype} input looks like token ids; nn.{name} takes float features, so ids go through an nn.Embedding first"),
          "input = embedding(input)  # embedding = nn.Embedding(num_embeddings, {H_in})"),
    Cause("input dtype",
          lambda s: s.x is not None and s.spec is not None and not _is_int(s.x.dtype) and s.x.dtype != s.weight_dtype,
          tr("the input is {x_dtype} and the weights are {w_dtype}; torch converts neither"),
          tr("input = input.to(torch.{w_dtype})  # or {var}.to(torch.{x_dtype})")),
    Cause("state dtype",
          lambda s: s.spec is not None and any(t.dtype != s.weight_dtype for t in s.states),
          tr("the state is {state_dtype} and the weights are {w_dtype}; torch converts neither"),
          "h_0 = h_0.to(torch.{w_dtype})"),
    Cause("device",
          lambda s: s.spec is not None and any(t is not None and t.device != s.weight_device for t in [s.x, *s.states]),
          tr("a tensor is on {state_device} and the weights on {w_device}; torch moves neither"),
          tr("input = input.to({w_device!r})  # and h_0, c_0 likewise; or {var}.to(input.device)")),
    Cause("input features",
          lambda s: s.x is not None and s.spec is not None and len(s.x.shape) in s.input_ndim and s.x.shape[-1] != s.spec.input_size,
          tr("nn.{name} was built for input_size={H_in} features per step; the input's last dimension has {got}"),
          tr("{var} = {fixed_module}  # or nn.Linear({got}, {H_in}) before it")),
    Cause("2-D state for batched input",
          lambda s: s.layer and s.batched and any(len(t.shape) == 2 for t in s.states),
          tr("batched 3-D input needs 3-D states (D*num_layers, N, H_out) = ({rows}, {N}, {H_out}); a 2-D (N, H) state is a cell's"),
          tr("h_0 = h_0.unsqueeze(0)  # ({rows}, N, H_out) needs {rows} row(s)")),
    Cause("3-D state for unbatched input",
          lambda s: s.layer and s.x is not None and len(s.x.shape) == 2 and any(len(t.shape) == 3 for t in s.states),
          tr("unbatched 2-D input (L, H_in) takes 2-D states (D*num_layers, H_out); a 3-D state is for a batch"),
          tr("input = input.unsqueeze({bd})  # a batch of one; or h_0 = h_0.squeeze(1)")),
    Cause("layer state to a cell",
          lambda s: s.cell and any(len(t.shape) == 3 for t in s.states),
          tr("nn.{name} is one step: its state is (N, H), not a layer's (num_layers, N, H)"),
          tr("h_0 = h_0[0]  # the layer's first row, (N, {H})")),
    Cause("state laid out batch-first",
          _state_laid_out_batch_first,
          tr("the state is laid out (N, D*num_layers, H) = {h_shape}; batch_first changes input and output only, never h_0/c_0, which stay (D*num_layers, N, H_out)"),
          "h_0 = h_0.transpose(0, 1).contiguous()  # ({rows}, {N}, {H_out})"),
    Cause("batch-first data, seq-first layer",
          lambda s: _batch_first_data(s) and s.spec is not None and not s.spec.batch_first,
          tr("the input {x_shape} looks batch-first (N, L, H_in) but the layer is seq-first (batch_first=False): torch took its dim 1, {N}, for the batch, while h_0 was made for a batch of {hN}"),
          tr("{var} = {flipped_module}  # or: input = input.transpose(0, 1)")),
    Cause("seq-first data, batch-first layer",
          lambda s: _batch_first_data(s) and s.spec is not None and s.spec.batch_first,
          tr("the input {x_shape} looks seq-first (L, N, H_in) but the layer has batch_first=True: torch took its dim 0, {N}, for the batch, while h_0 was made for a batch of {hN}"),
          tr("{var} = {flipped_module}  # or: input = input.transpose(0, 1)")),
    Cause("last batch smaller",
          _last_batch_smaller,
          tr("h_0 was made for a batch of {hN} (by an init_hidden(batch_size) called once, say), but this batch has {N}: the last batch of an epoch is smaller unless the data divides by the batch size"),
          tr("{states_for_batch}  # per batch; or DataLoader(drop_last=True)")),
    Cause("state rows",
          _state_rows_short,
          tr("the state has {h_rows_text}; nn.{name} with num_layers={layers} and D={D} needs D*num_layers = {rows}, one per layer and direction ({forgot})"),
          "{states_for_N}  # row = layer * D + direction"),
    Cause("h_0 of hidden_size with proj_size",
          lambda s: s.spec is not None and s.spec.proj_size > 0 and s.h is not None and s.h.shape[-1:] == (s.spec.hidden_size,),
          tr("with proj_size={P}, h_0 and h_n hold the projected state: H_out = proj_size = {P}, not hidden_size {H} (only c_0 keeps hidden_size)"),
          "h_0 = torch.zeros({rows}, {N}, {P})"),
    Cause("c_0 of proj_size",
          lambda s: s.spec is not None and s.spec.proj_size > 0 and s.c is not None and s.c.shape[-1:] == (s.spec.proj_size,),
          tr("c_0 is the cell state: it keeps hidden_size = {H} even with proj_size={P} (only h_0 is projected)"),
          "c_0 = torch.zeros({rows}, {N}, {H})"),
    Cause("unsorted lengths",
          lambda s: "must be sorted in decreasing order" in s.message,
          tr("pack_padded_sequence was given lengths that are not in decreasing order, with enforce_sorted=True (its default)"),
          tr("packed = pack_padded_sequence(x, lengths, enforce_sorted=False)  # torch sorts, h_n comes back in order")),
    Cause("one length per sequence",
          lambda s: "Expected `len(lengths)` to be equal to batch_size" in s.message,
          tr("pack_padded_sequence takes one length per sequence of the batch, and the batch is dim 1 of the padded input (dim 0 with batch_first=True)"),
          tr("packed = pack_padded_sequence(x, lengths, batch_first=True)  # if x is (N, L, H_in)")),
    Cause("float ids to nn.Embedding",
          lambda s: s.module_type == "Embedding" and "'indices'" in s.message,
          tr("nn.Embedding takes integer token ids, and was given floats"),
          "input = input.long()  # summary: --input-dtype int64"),
    Cause("token id out of range",
          lambda s: s.module_type == "Embedding" and "index out of range" in s.message,
          tr("a token id is at least num_embeddings: nn.Embedding has a row for ids 0 .. num_embeddings-1 only"),
          tr("ids = ids.clamp(max=embedding.num_embeddings - 1)  # summary: --input-high N draws ids in [0, N)")),
)


@dataclass
class Explanation:
    """A refused call in plain words; `text()` is the note added to the exception."""

    where: str
    module: str
    error_type: str
    message: str  # torch's own words
    given: list[tuple[str, str]]  # (name, "shape dtype device") of what came in; "not given" where left out
    expected: list[tuple[str, str | None, str]]  # (name, shape, dims) of what the module takes; shape None where the input fixes none
    differences: list[str]
    causes: list[tuple[str, str, str]]  # (name, what it means, the fix)

    @property
    def place(self) -> str:
        """The module, by its path in the model where it has one: encoder.rnn (nn.GRU(16, 32))."""
        return f"{self.where} ({self.module})" if self.where else self.module

    def text(self) -> str:
        """The note, one line each; a Message (the English note), said in the chosen language where it is added."""
        # Each line's label is part of its template, so that a language pads its own labels to one column.
        lines: list[Any] = [tr("rnnshape: {place} refused what it was given", place=self.place)]
        lines += [tr("  given     {name}: {facts}", name=name, facts=facts) for name, facts in self.given]
        lines += [tr("  expected  {name}: {shape}{dims}", name=name, shape=shape + " " if shape else "", dims=dims)
                  for name, shape, dims in self.expected]
        lines += [tr("  differs   {difference}", difference=d) for d in self.differences]
        lines += [f"  torch     {self.error_type}: {self.message}"]
        for _, says, fix in self.causes:
            lines += [tr("  cause     {cause}", cause=says), tr("  fix       {fix}", fix=fix)]
        if not self.causes:
            lines.append(tr("  cause     {cause}", cause=self.no_cause))
        return join("\n", lines)

    @property
    def no_cause(self) -> str:
        """What is said where no known cause fits: the facts, without a guess."""
        if self.differences:
            return tr("none of the known causes fits; the differences above are what torch refused")
        if not self.expected:  # no formulas for what it takes: nothing to compare, so nothing is claimed
            return tr("none of the known causes fits; torch's message is all there is")
        return tr("none of the known causes fits, and the shapes are the ones the module takes: torch's message is all there is")

    def to_dict(self) -> dict[str, Any]:
        return {
            "module_path": self.where,
            "module": self.module,
            "error": {"type": self.error_type, "message": self.message},
            "given": [{"name": n, "facts": f} for n, f in self.given],
            "expected": [{"name": n, "shape": s, "dims": d} for n, s, d in self.expected],
            "differences": list(self.differences),
            "causes": [{"name": n, "says": s, "fix": f} for n, s, f in self.causes],
        }


NOT_GIVEN = tr("not given (torch starts from zeros)")
_INPUT_DIMS = {True: tr("2-D (N, H_in) or unbatched 1-D (H_in,)"), False: tr("3-D (L, N, H_in) or unbatched 2-D (L, H_in)")}


def explain(situation: Situation) -> Explanation:
    filled = _Words(situation.words())
    causes = [(c.name, _fill(c.says, filled), _fill(c.fix, filled)) for c in CAUSES if _safely(c.recognise, situation)]
    expected = _expected(situation)
    return Explanation(
        where=situation.where,
        module=situation.module,
        error_type=type(situation.error).__name__,
        message=" ".join(situation.message.split()),
        given=_given(situation),
        expected=[(name, None if shape is None else shape_text(shape), dims) for name, shape, dims in expected],
        differences=_differences(situation, expected),
        causes=causes,
    )


class _Words(dict):
    """A cause's template names what this call may lack: shown as ?, never a KeyError."""

    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, words: _Words) -> Message:
    """A cause's template filled with the words it names (a word this call lacks: ?), still translatable."""
    names = {name for _, name, _, _ in string.Formatter().parse(getattr(template, "template", template)) if name}
    return fill(template, **{name: words[name] for name in names})


def _safely(test: Callable[[Situation], bool], situation: Situation) -> bool:
    try:
        return bool(test(situation))
    except (TypeError, IndexError, AttributeError):  # facts of a shape the test did not foresee: not this cause
        return False


def _given(s: Situation) -> list[tuple[str, str]]:
    if s.given is None:
        return [(name, "None" if facts is None else facts.text()) for name, facts in s.arguments]
    wanted = ["input", "h_0"] + (["c_0"] if s.spec is not None and s.spec.lstm else [])
    return [(name, NOT_GIVEN if facts is None else facts.text()) for name, facts in s.given.items()
            if name in wanted or facts is not None]


def _expected(s: Situation) -> list[tuple[str, tuple[int, ...] | None, str]]:
    """(name, shape where the input fixes it, dims) for input, h_0 and c_0 of this module."""
    if s.spec is None or s.given is None:
        return []
    # L and N as torch reads them from the input, whatever the states say.
    by_input = replace(s.given, h_0=None, c_0=None, state_form="omitted").spec_for(s.spec)
    spec = by_input or s.spec
    out = []
    for t in theory.tensors(spec):
        if t.name not in ("input", "h_0", "c_0"):
            continue
        dims = "(" + ", ".join(t.dims) + ")"
        out.append((t.name, t.shape if by_input is not None else None, _with_sizes(t.dims, spec) if by_input is None else dims))
    return out


def _input_form(s: Situation, x: TensorFacts) -> list[str]:
    """What keeps an input from being one the module takes at all: its number of dims, or no time steps."""
    batched, unbatched = s.input_ndim
    if len(x.shape) not in (batched, unbatched):
        return [tr("input: {ndim}-D {shape}, expected {wanted}", ndim=len(x.shape), shape=shape_text(x.shape),
                   wanted=_INPUT_DIMS[s.cell])]
    if s.layer and x.shape[s.seq_dim] == 0:
        return [tr("input: L (dim {dim}) is 0, expected at least one time step", dim=s.seq_dim)]
    return []


def _with_sizes(dims: tuple[str, ...], spec: RNNSpec) -> str:
    """Dims with the sizes the config fixes: (L, N, H_in=10)."""
    sizes = {"H_in": spec.input_size, "H": spec.hidden_size, "H_out": spec.h_out, "H_cell": spec.hidden_size,
             "D*num_layers": spec.num_directions * spec.num_layers}
    return "(" + ", ".join(f"{d}={sizes[d]}" if d in sizes else d for d in dims) + ")"


def _differences(s: Situation, expected: list[tuple[str, tuple[int, ...] | None, str]]) -> list[str]:
    """Exactly what differs, tensor by tensor: its dims, dtype, device; nothing inferred."""
    out = []
    wanted = {name: (shape, dims) for name, shape, dims in expected}
    for name, facts in ([] if s.given is None else s.given.items()):
        if name not in wanted:
            if facts is not None:
                out.append(tr("{name}: given, but nn.{module} takes no {name}", name=name, module=s.spec.module_name if s.spec else "?"))
            continue
        if facts is None:
            continue
        if isinstance(facts, OtherFacts):
            out.append(fill("{name}: {facts}", name=name, facts=facts.text()))  # no words of its own: facts says them
            continue
        tensor = facts.data if isinstance(facts, PackedFacts) else facts
        shape, dims = wanted[name]
        names = dims.strip("()").split(", ")
        if shape is not None and not isinstance(facts, PackedFacts):
            if len(tensor.shape) != len(shape):
                out.append(tr("{name}: {ndim}-D {shape}, expected {wanted_ndim}-D {dims} = {wanted}", name=name,
                              ndim=len(tensor.shape), shape=shape_text(tensor.shape), wanted_ndim=len(shape), dims=dims,
                              wanted=shape_text(shape)))
            else:
                out += [tr("{name}: {dim} is {got}, expected {want}", name=name, dim=names[i], got=got, want=want)
                        for i, (got, want) in enumerate(zip(tensor.shape, shape)) if got != want]
        elif s.spec is not None and name == "input" and tensor.shape and tensor.shape[-1] != s.spec.input_size:
            out.append(tr("{name}: H_in is {got}, expected input_size {want}", name=name, got=tensor.shape[-1],
                          want=s.spec.input_size))
        if s.spec is not None and name == "input" and shape is None and not isinstance(facts, PackedFacts):
            out += _input_form(s, tensor)
        if s.spec is not None and tensor.dtype != s.spec.dtype:
            out.append(tr("{name}: dtype {dtype}, expected {wanted} (the weights' dtype)", name=name, dtype=tensor.dtype,
                          wanted=s.spec.dtype))
        if s.spec is not None and tensor.device != s.spec.device:
            out.append(tr("{name}: on {device}, expected {wanted} (where the weights are)", name=name, device=tensor.device,
                          wanted=s.spec.device))
    if s.spec is not None and s.spec.lstm and s.given is not None and s.given.h_0 is not None and s.given.c_0 is None:
        out.append(tr("c_0: not given while h_0 is; nn.LSTM takes both, as the tuple (h_0, c_0), or neither"))
    return out
