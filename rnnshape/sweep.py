"""Many configurations in one process: lists and ranges of flag values, their
cartesian product, and one row per configuration.

`--hidden-size 16,32,64 --layers 1..4 --mode rnn,lstm,gru` is parsed here into
choices per field; each combination becomes an RNNSpec through the same
parser the single commands use, so a combination torch would refuse is a row
with its error, not the end of the sweep.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rnnshape import cost, theory
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import tr
from rnnshape.render.shown import Shown
from rnnshape.spec import RNNSpec, from_flags, parse_field

# A sweep is answered in one process; past this many rows a loop in the shell
# (or several sweeps) is the better tool, and a typo like 1..100000 is caught.
MAX_CONFIGURATIONS = 100_000
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def values(field: str, text: str | None) -> list[str | None]:
    """'16,32..34' -> ['16', '32', '33', '34']: a comma list whose items may be inclusive ranges.

    --lengths is itself a comma list, so its alternatives are separated by '/':
    '5,3,2/4,4' -> ['5,3,2', '4,4']. None (a flag not given) stays [None].
    """
    if text is None:
        return [None]
    if field == "lengths":
        alternatives = [item.strip() for item in str(text).split("/")]
        if not all(alternatives):
            raise SpecError(field, tr("has an empty item in its list of alternatives, separated by '/' (got {value!r})",
                                      value=text))
        return list(dict.fromkeys(alternatives))
    out: list[str] = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            raise SpecError(field, tr("has an empty item in its list (got {value!r})", value=text))
        match = _RANGE.match(item)
        if match:
            start, stop = int(match.group(1)), int(match.group(2))
            if stop < start:
                raise SpecError(field, tr("range {item} runs backwards; write {stop}..{start}", item=item, stop=stop, start=start))
            if stop - start >= MAX_CONFIGURATIONS:
                raise SpecError(field, tr("range {item} has more than {most} values", item=item, most=MAX_CONFIGURATIONS))
            out += [str(v) for v in range(start, stop + 1)]
        else:
            out.append(item)
    # Repeats would only duplicate rows: keep the first of each, in order.
    return list(dict.fromkeys(out))


@dataclass
class Pace:
    """How long a sweep will take, from the configurations answered so far: said once, early, if it is long.

    A sweep of 100,000 configurations is accepted, but it can run for hours: after the
    first few seconds the measured pace is enough to say so, once, on stderr.
    """

    total: int
    started: float = 0.0  # when the first configuration was answered: it paid for torch's import
    done: int = 0
    said: bool = False

    # Told once the first MEASURE_S seconds have passed, if what remains would take LONG_S or more.
    MEASURE_S = 2.0
    LONG_S = 30.0

    def step(self, now: float) -> str | None:
        """Count one answered configuration; the one line to say, when it is time to say it."""
        self.done += 1
        if self.done == 1:
            self.started = now
            return None
        elapsed = now - self.started
        if self.said or elapsed < self.MEASURE_S or self.done >= self.total:
            return None
        self.said = True
        each = elapsed / (self.done - 1)
        remaining = each * (self.total - self.done)
        if remaining < self.LONG_S:
            return None
        # A Message: the CLI says it (language.say) in the chosen language where it writes it.
        return tr("sweep: {total} configurations at about {each:.1f} ms each (measured on {measured}): "
                  "about {remaining} more; Ctrl-C stops it",
                  total=self.total, each=each * 1000, measured=self.done - 1, remaining=_duration(remaining))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def configurations(choices: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The cartesian product, the first field varying slowest (the flags' order)."""
    names = list(choices)
    for combination in itertools.product(*(choices[n] for n in names)):
        yield dict(zip(names, combination))


def check_count(choices: dict[str, list[Any]]) -> int:
    """How many configurations the product holds; SpecError past MAX_CONFIGURATIONS."""
    n = math.prod(len(v) for v in choices.values())
    if n > MAX_CONFIGURATIONS:
        widest = max(choices, key=lambda f: len(choices[f]))
        raise SpecError(widest, tr("and the other lists make {count} configurations; a sweep runs at most {most}",
                                   count=n, most=MAX_CONFIGURATIONS))
    return n


COST_KEYS = tuple(cost.KEYS.values())
# The shapes a row shows: a layer's output and final states, a cell's next state.
SHAPES = ("output", "h_n", "c_n", "h_1", "c_1")


@dataclass(repr=False)
class Row(Shown):
    """One configuration's answer; `error` set (and the rest None) when it could not be answered."""

    config: dict[str, Any]
    output: list[int] | None = None  # packed input: the padded output
    h_n: list[int] | None = None
    c_n: list[int] | None = None
    h_1: list[int] | None = None  # a cell's next state
    c_1: list[int] | None = None
    total_parameters: int | None = None
    macs: int | None = None
    costs: dict[str, int] | None = None
    observed: bool = False
    ok: bool | None = None
    error: str | None = None
    exit_code: int = 0

    def headline(self) -> str:
        flags = ", ".join(f"{k}={v}" for k, v in self.config.items() if k in ("mode", "input_size", "hidden_size", "num_layers"))
        if self.error:
            return f"{flags}: refused: {self.error}"
        shown = ", ".join(f"{name} {theory.shape_text(getattr(self, name))}" for name in SHAPES if getattr(self, name) is not None)
        return f"{flags}: {shown}, {self.total_parameters} parameters"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": self.config, **{name: getattr(self, name) for name in SHAPES},
                               "total_parameters": self.total_parameters, "macs": self.macs}
        out.update(self.costs or {key: None for key in COST_KEYS})
        out.update({"observed": self.observed, "ok": self.ok, "error": self.error})
        return out


@dataclass(repr=False)
class Sweep(Shown):
    """Every row of a sweep, and the fields that vary (the columns a table needs to tell rows apart)."""

    rows: list[Row]
    varying: list[str]

    def headline(self) -> str:
        refused = sum(1 for r in self.rows if r.error)
        return f"{len(self.rows)} configurations, {len(self.rows) - refused} answered" + (f", {refused} refused" if refused else "")

    def to_dict(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [row.to_dict() for row in self.rows]


def sweep(*, run: bool = True, max_memory: int | None = None, **lists: Any) -> Sweep:
    """Inspect every combination of these RNNSpec fields (each a value or a list of values), one Row each.

    `sweep(mode=["rnn", "lstm"], hidden_size=[16, 32])`: a combination rnnshape or torch
    refuses is a row with its error, as on the command line.
    """
    choices = {name: list(value) if isinstance(value, (list, tuple, range)) and name != "lengths" else [value]
               for name, value in lists.items()}
    unknown = set(choices) - set(RNNSpec.field_names())
    if unknown:
        raise TypeError(f"sweep() takes RNNSpec's fields, not {', '.join(sorted(unknown))}")
    check_count(choices)
    with held_for(choices, run=run):
        rows = [answer(flags, run=run, max_memory=max_memory) for flags in configurations(choices)]
    return Sweep(rows, varying(choices))


@contextlib.contextmanager
def held_for(choices: dict[str, list[Any]], *, run: bool) -> Iterator[None]:
    """What every run of the sweep would set up and undo, set up once around all of them.

    For meta runs, torch's C++ meta kernels (meta_kernels.py): 50-55 ms to swap in
    and out, against a few ms for the run itself.
    """
    devices = {str(d).strip().lower() for d in choices.get("device") or ()}
    if not run or "meta" not in devices:
        yield
        return
    from rnnshape import meta_kernels
    from rnnshape.probe import RUN_LOCK, import_torch

    torch = import_torch()
    with RUN_LOCK, meta_kernels.native_meta_kernels(torch):
        yield


def answer(flags: dict[str, Any], *, run: bool, max_memory: int | None) -> Row:
    """One row: the spec from these flag values, inspected (or only predicted)."""
    from rnnshape.core import inspect

    try:
        spec = from_flags(flags)
        report = inspect(spec, run=run, max_memory=max_memory)
    except SpecError as exc:
        return Row(_typed(flags), error=exc.cli_message(), exit_code=2)
    except EnvironmentProblem as exc:
        return Row(_typed(flags), error=str(exc), exit_code=3)
    tensors = dict(report.observation.tensors)
    if "padded_output" in tensors:
        tensors["output"] = tensors["padded_output"]
    items = cost.costs(spec)
    return Row(
        config=spec.to_dict(),
        **{name: list(tensors[name]) if name in tensors else None for name in SHAPES},
        total_parameters=report.observed_total,
        macs=cost.macs_of(items),
        costs={i.key: i.value for i in items},
        observed=report.ran,
        ok=report.ok if report.ran else None,
        exit_code=int(report.exit_status),
    )


_FIELD_ORDER = RNNSpec.field_names()


def _typed(flags: dict[str, Any]) -> dict[str, Any]:
    """An unanswerable row's config: each value as the type its field has, where it parses."""
    out: dict[str, Any] = {}
    for name in sorted(flags, key=_FIELD_ORDER.index):  # the order of a config everywhere else
        value = flags[name]
        try:
            value = parse_field(name, value)
        except SpecError:
            pass  # shown as given: the row's error says what is wrong with it
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def varying(choices: dict[str, list[Any]]) -> list[str]:
    """Fields given more than one value: the columns a table needs to tell rows apart."""
    return [name for name, vals in choices.items() if len(vals) > 1]


