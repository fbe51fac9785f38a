"""One call of a live recurrent module, on inspect's own path.

A Call holds the module, the arguments exactly as its forward took them, and
their facts (given.Given). `run()` feeds them through probe.run, as inspect
feeds its dummy input; `seen(result)` records a call a hook watched, without
running it again. Either way the result is a probe.Run, which
probe.observation_of and Report turn into the same report inspect gives.

When torch refuses the arguments, the original exception goes on, with the
Explanation (diagnose.py) attached as a note: never swallowed, never replaced.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from rnnshape import probe, theory
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import say, said, tr
from rnnshape.model.diagnose import Explanation, Situation, explain
from rnnshape.model.given import STATE_OMITTED, STATE_TENSOR, Given, PackedFacts, facts_of
from rnnshape.model.module import short_type_name, spec_of
from rnnshape.spec import RNNSpec

# Where the explanation of a refused call is kept on the exception, beside its note.
EXPLANATION_ATTRIBUTE = "rnnshape_explanation"


def split_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(input, hx) as RNNBase.forward(input, hx=None) and the cells' forward(input, hx=None) bind them."""
    input = args[0] if args else kwargs.get("input")
    hx = args[1] if len(args) > 1 else kwargs.get("hx")
    return input, hx


class Call:
    """One call of a recurrent module: what it was given, and where it sits in the model."""

    def __init__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None, *, where: str = "",
                 module_spec: RNNSpec | None = None):
        self.module = module
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.where = where
        self.module_spec = module_spec or spec_of(module)
        self.input, self.hx = split_arguments(self.args, self.kwargs)
        self.given = Given.of(self.input, self.hx)

    @property
    def spec(self) -> RNNSpec | None:
        """The module's config with L, N, unbatched and lengths from the input; None if torch cannot take it."""
        return self.given.spec_for(self.module_spec)

    def tensors(self, spec: RNNSpec) -> dict[str, Any]:
        """The arguments named as theory.tensors names them, for probe.run."""
        named: dict[str, Any] = {}
        if isinstance(self.given.input, PackedFacts):
            torch = probe.import_torch()
            named["packed_input"] = self.input
            # The padded batch the packed one stands for, in the batch's own order: what the
            # reference (verify) reads, and what `input` means in theory's packed tensors.
            named["input"] = torch.nn.utils.rnn.pad_packed_sequence(self.input, batch_first=spec.batch_first)[0]
        else:
            named["input"] = self.input
        if self.hx is not None:
            h_0, c_0 = self.hx if spec.lstm else (self.hx, None)
            named["h_0"] = h_0
            if c_0 is not None:
                named["c_0"] = c_0
        return named

    def run(self, *, max_memory: int | None = None) -> probe.Run:
        """Run the module on these arguments (eval mode, no grad, the caller's random state kept)."""
        spec = self.spec
        if spec is None:
            self._refused_by_torch()
        try:
            return probe.run(spec, module=self.module, inputs=self.tensors(spec), max_memory=max_memory)
        except (SpecError, EnvironmentProblem):
            raise
        except Exception as exc:
            attach(exc, partial(self.explain, exc))
            raise

    def seen(self, result: Any) -> probe.Run | None:
        """The Run of a call a forward hook watched, from what it returned: nothing runs again."""
        spec = self.spec
        if spec is None:
            return None
        torch = probe.import_torch()
        ran = probe.prepared(torch, spec, torch.device(spec.device), self.module, self.tensors(spec))
        probe.record(ran, result)
        return ran

    def explain(self, exc: BaseException) -> Explanation:
        return explain(Situation(self.where, theory.constructor_text(self.module_spec), exc, self.module_spec, self.given,
                                 type(self.module).__name__))

    def _refused_by_torch(self) -> None:
        """Arguments rnnshape cannot lay out as the module's input: let torch say why, in its own words."""
        torch = probe.import_torch()
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad(), probe.in_eval_mode(self.module):
                self.module(*self.args, **self.kwargs)
        except Exception as exc:
            attach(exc, partial(self.explain, exc))
            raise
        shown = self.given.input.text() if self.given.input is not None else tr("no input")
        form = self.given.state_form
        state = {STATE_OMITTED: tr("omitted"), STATE_TENSOR: tr("tensor")}.get(form, form)
        raise SpecError("input", tr("torch accepted {given} with state {state}, but rnnshape cannot lay it out as "
                                    "nn.{module}'s input", given=shown, state=state, module=self.module_spec.module_name))


def explain_module_call(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], exc: BaseException, where: str) -> Explanation:
    """The Explanation for any module's refused call: a recurrent one's in full, another's by its arguments."""
    from rnnshape.model.module import is_recurrent

    if is_recurrent(module):
        try:
            return Call(module, args, kwargs, where=where).explain(exc)
        except (TypeError, SpecError):  # a module rnnshape cannot read (a dtype it does not run): by its arguments
            pass
    arguments = [(tr("argument {i}", i=i), facts_of(a)) for i, a in enumerate(args)] + [(k, facts_of(v)) for k, v in kwargs.items()]
    return explain(Situation(where, short_type_name(module), exc, module_type=type(module).__name__, arguments=arguments))


def attach(exc: BaseException, explain: Callable[[], Explanation]) -> None:
    """The explanation as a note on the exception (PEP 678), once; the exception itself is left as torch raised it.

    `explain` makes it. Should explaining fail, the user's exception still goes
    on as torch raised it, with a note saying so: rnnshape never replaces it.
    """
    if getattr(exc, EXPLANATION_ATTRIBUTE, None) is not None:
        return
    try:
        explanation = explain()
    except Exception as failure:  # noqa: BLE001 -- a bug of ours must not hide the user's error
        _add_note(exc, said("rnnshape could not explain this error ({kind}: {failure})", kind=type(failure).__name__,
                            failure=failure))
        return
    try:
        setattr(exc, EXPLANATION_ATTRIBUTE, explanation)
    except AttributeError:  # an exception type with __slots__: the note still goes on
        pass
    _add_note(exc, say(explanation.text()))  # the note is read as it is: said in the chosen language now


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: keep the notes where 3.11's traceback would read them
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def explanation_of(exc: BaseException) -> Explanation | None:
    return getattr(exc, EXPLANATION_ATTRIBUTE, None)
