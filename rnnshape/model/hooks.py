"""Forward hooks around a whole model: what every module returned, call by call.

`watch(model)` puts one forward hook on every module (with_kwargs, and
always_call, so that it also runs when the forward raises) and takes them all
off again on leaving, whatever happened inside. Each hook knows its module's
path in the model from its closure, so DataParallel's replicas, which share
their original's hooks, are recorded under the original's path.

A recurrent module's calls are grouped by what they were given (a decoder cell
stepping 20 times is one group of 20); the first call of each group becomes a
Report on inspect's own path (call.Call.seen: from the tensors the call really
got and returned, nothing run again). A forward that raises is explained where
it raised: the innermost module's hook sees the exception first (it is the
one being handled when always_call hooks run) and attaches the explanation as
a note; the hooks of the modules around it see it already explained.

A hook never raises into the user's forward: whatever rnnshape cannot record
becomes a note in the summary.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from rnnshape.language import tr
from rnnshape.model.call import Call, attach, explain_module_call, explanation_of
from rnnshape.model.given import Given
from rnnshape.model.module import is_recurrent, type_name
from rnnshape.model.structure import structure, structure_text
from rnnshape.report import Report


@dataclass
class Outputs:
    """One module's calls: what each returned, equal returns counted together, in the order first seen."""

    calls: int = 0
    shown: dict[str, int] = field(default_factory=dict)  # structure_text -> how many calls returned it
    data: dict[str, Any] = field(default_factory=dict)  # structure_text -> structure() (the JSON form)

    def add(self, result: Any) -> None:
        self._count(structure_text(result), lambda: structure(result))

    def add_raised(self, exc: BaseException) -> None:
        """A call that raised: counted, and shown by what it raised."""
        kind = type(exc).__name__
        self._count(tr("raised {kind}", kind=kind), lambda: {"kind": "raised", "type": kind})

    def _count(self, text: str, data: Any) -> None:
        self.calls += 1
        self.shown[text] = self.shown.get(text, 0) + 1
        if text not in self.data:
            self.data[text] = data()


@dataclass
class Group:
    """Calls of one recurrent module given the same shapes: one Report, and how many calls it stands for."""

    where: str
    module: str  # its constructor, nn.LSTM(...)
    given: Given
    calls: int
    report: Report | None  # None where rnnshape could not describe the call (problem says why)
    problem: str | None = None


class Recorder:
    def __init__(self, model: Any):
        self.model = model
        self.outputs: dict[str, Outputs] = {}
        self.groups: dict[tuple[Any, ...], Group] = {}
        self.notes: list[str] = []
        self.error: Any = None  # the Explanation of an exception a forward raised, once it left the watched code
        self._handles: list[Any] = []
        self._lock = threading.Lock()  # DataParallel runs its replicas' forwards in threads

    def install(self) -> None:
        try:
            for path, module in self.model.named_modules():
                self._handles.append(module.register_forward_hook(self._hook(path), with_kwargs=True, always_call=True))
        except BaseException:
            self.remove()
            raise

    def remove(self) -> None:
        while self._handles:
            self._handles.pop().remove()

    def _hook(self, path: str) -> Any:
        def after_forward(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            raised = sys.exc_info()[1]
            try:
                if result is None and raised is not None:
                    self._refused(path, module, args, kwargs, raised)
                else:
                    self._returned(path, module, args, kwargs, result)
            except Exception as exc:  # noqa: BLE001 -- never break the user's forward
                with self._lock:
                    self.notes.append(tr("rnnshape could not record a call of {module}: {kind}: {error}",
                                         module=path or tr("the model"), kind=type(exc).__name__, error=exc))
            return None

        return after_forward

    def _refused(self, path: str, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], raised: BaseException) -> None:
        with self._lock:
            self.outputs.setdefault(path, Outputs()).add_raised(raised)
        if explanation_of(raised) is None:  # the innermost module's hook runs first
            attach(raised, lambda: explain_module_call(module, args, kwargs, raised, path))

    def _returned(self, path: str, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        with self._lock:
            self.outputs.setdefault(path, Outputs()).add(result)
        if not is_recurrent(module):
            return
        call = Call(module, args, kwargs, where=path)
        key = (path, call.given.signature(), structure_text(result))
        with self._lock:
            group = self.groups.get(key)
            if group is not None:
                group.calls += 1
                return
            group = self.groups[key] = Group(path, _constructor(call), call.given, 1, None)
        group.report, group.problem = _report(call, result)


def _constructor(call: Call) -> str:
    from rnnshape.theory import constructor_text

    return constructor_text(call.module_spec)


def _report(call: Call, result: Any) -> tuple[Report | None, str | None]:
    """inspect's Report of a call a hook watched: its real tensors, the module's own weights."""
    from rnnshape import probe
    from rnnshape.model.live import LIVE_WEIGHTS

    torch = probe.import_torch()
    with torch.no_grad():
        ran = call.seen(result)
        if ran is None:
            given = call.given.input.text() if call.given.input else tr("no input")
            return None, tr("torch accepted {given}, which rnnshape cannot lay out as a layer's input", given=given)
        observation = probe.observation_of(ran, weights=dict(call.module.named_parameters()), weights_from=LIVE_WEIGHTS)
    return Report(ran.spec, observation), None


class watch:
    """`with watch(model) as w: ...` records every forward of the model inside; `w.summary()` afterwards.

    Every hook comes off on leaving, also when the code inside raises; an
    exception a module raised leaves with its explanation attached as a note.
    """

    def __init__(self, model: Any):
        _require_module(model)
        self.model = model
        self._recorder = Recorder(model)

    def __enter__(self) -> watch:
        self._recorder.install()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> bool:
        self._recorder.remove()
        if exc is not None and explanation_of(exc) is not None:  # a module refused its arguments: the summary says so
            self._recorder.error = explanation_of(exc)
        return False  # never swallow

    def summary(self) -> Any:
        from rnnshape.model.summary import summary_of

        return summary_of(self.model, self._recorder)


def _require_module(model: Any) -> None:
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        raise TypeError(tr("rnnshape watches a torch.nn.Module (a whole model, or one layer); got {type}", type=type_name(model)))
