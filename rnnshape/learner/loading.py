"""FILE.py:FUNCTION (or package.module:FUNCTION) -> the learner's function.

Imported exactly as `rnnshape summary TARGET` imports a model (model/target.py):
the file's own folder first on sys.path, its code run, every failure one line.
Here each of those lines names --against (exit 2). What the file prints while it
is imported goes to stderr: stdout is the report's (a JSON consumer reads it).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Any, Callable

from rnnshape.errors import ArgumentProblem, SpecError
from rnnshape.language import fill, tr

# Every sentence this module says to a person, in one place (for translation).
MESSAGES = {
    "form": tr("must be FILE.py:FUNCTION or package.module:FUNCTION (got {target!r})"),
    "missing": tr("{target!r} names no {name!r} in {where} (its functions: {names})"),
    "not_callable": tr("{target!r} is a {kind}, not a function: give the function that runs your forward pass"),
    "a_class": tr("{target!r} is a class: give the function that runs your forward pass (a class would be built, not "
                  "run)"),
    "no_signature": tr("{target!r}: the parameters of {name} cannot be read ({error}), so nothing can be passed to it by "
                       "name"),
    "none": tr("none"),
}


def _problem(key: str, **values: Any) -> SpecError:
    return SpecError("against", fill(MESSAGES[key], **values))


def check_target(target: str) -> tuple[str, str]:
    """(where, attribute) of FILE.py:FUNCTION, checked before anything is imported (a typo costs no torch)."""
    where, sep, attribute = str(target).strip().rpartition(":")
    if not sep or not where.strip() or not attribute.strip():
        raise _problem("form", target=target)
    return where.strip(), attribute.strip()


def load_function(target: str) -> Callable[..., Any]:
    """The function TARGET names, its file imported; SpecError (exit 2, naming --against) for every way that fails."""
    # The loader of `summary TARGET`: one place decides how user code is imported.
    from rnnshape.model.target import _import

    where, attribute = check_target(target)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            module = _import(target, where)
    except ArgumentProblem as exc:
        raise SpecError("against", exc.message) from None  # the same sentence, naming the flag rather than TARGET
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            names = ", ".join(n for n, v in sorted(vars(module).items()) if inspect.isfunction(v) and not n.startswith("_"))
            raise _problem("missing", target=target, name=attribute, where=where, names=names[:300] or MESSAGES["none"])
        found = getattr(found, part)
    return checked_function(found, target)


def checked_function(function: Any, target: str) -> Callable[..., Any]:
    """The function itself, once it is known that it can be called by the names of its parameters."""
    if inspect.isclass(function):
        raise _problem("a_class", target=target)
    if not callable(function):
        raise _problem("not_callable", target=target, kind=type(function).__name__)
    try:
        inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise _problem("no_signature", target=target, name=function_name(function), error=exc) from None
    return function


def function_name(function: Any) -> str:
    return getattr(function, "__name__", None) or type(function).__name__


def target_of(function: Any) -> str:
    """How a function given from Python is named in the report: module:qualname."""
    module = getattr(function, "__module__", None) or "?"
    return f"{module}:{getattr(function, '__qualname__', function_name(function))}"
