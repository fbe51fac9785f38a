"""`rnnshape summary TARGET`: the user's model, imported and called, and inputs of the shapes they give.

TARGET is `path/to/file.py:factory` or `package.module:factory`, as uvicorn and
flask name an app: the factory is a callable that returns the model (a class
counts), or a module instance itself. Importing TARGET runs its code; that is
what the user asks for, and `--help` says so. Every way it can fail (no such
file, a syntax error, an import that fails, a factory that raises or returns
something else) is one line naming TARGET, exit 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
from typing import Any

from rnnshape.errors import ArgumentProblem, SpecError
from rnnshape.language import tr
from rnnshape.memory import available_bytes, refuse_if_too_big
from rnnshape.model.shapes import ITEM_BYTES, parse_dtype, parse_shape
from rnnshape.model.module import type_name

def _problem(message: str) -> ArgumentProblem:
    """`message` names TARGET itself (its templates start with {target!r}): error: TARGET 'x.py:f' cannot be imported: ..."""
    return ArgumentProblem("TARGET", "target", message)


def parse_target(target: str) -> tuple[str, str]:
    """(where, attribute) of path/to/file.py:factory or package.module:factory; checked before anything is imported."""
    where, sep, attribute = target.strip().rpartition(":")
    if not sep or not where or not attribute:
        raise _problem(tr("{target!r} must be path/to/file.py:factory or package.module:factory", target=target))
    return where, attribute


def load_model(target: str) -> Any:
    """The nn.Module TARGET names, its factory called; ArgumentProblem (exit 2) for every way that fails."""
    where, attribute = parse_target(target)
    module = _import(target, where)
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            names = ", ".join(n for n in sorted(vars(module)) if not n.startswith("_"))[:300]
            raise _problem(tr("{target!r} names no {attribute!r} in {where} (it has: {names})", target=target,
                              attribute=attribute, where=where, names=names or tr("nothing")))
        obj = getattr(obj, part)
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(obj, torch.nn.Module):
        if not callable(obj):
            raise _problem(tr("{target!r} is a {type}: neither an nn.Module nor a callable that returns one", target=target,
                              type=type_name(obj)))
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 -- the user's factory: whatever it raises, one line
            raise _problem(tr("{target!r} raised {kind} when called: {error}", target=target, kind=type(exc).__name__,
                              error=_first_line(exc))) from None
        torch = sys.modules.get("torch")
    if torch is None or not isinstance(obj, torch.nn.Module):
        raise _problem(tr("{target!r} returned a {type}, not an nn.Module", target=target, type=type_name(obj)))
    return obj


def _import(target: str, where: str) -> Any:
    path = os.path.abspath(where)
    is_file = where.endswith(".py") or os.sep in where or "/" in where
    if is_file and not os.path.isfile(path):
        raise _problem(tr("{target!r} cannot be imported: no file {where}", target=target, where=where))
    folder = os.path.dirname(path) if is_file else os.getcwd()
    # The file's own folder (or the current one, for a package) first, so that its own imports resolve.
    sys.path.insert(0, folder)
    try:
        if is_file:
            name = "rnnshape_target_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise _problem(tr("{target!r} cannot be imported: {where} is not a Python file", target=target, where=where))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look classes up there
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(where)
    except ArgumentProblem:
        raise
    except SystemExit as exc:  # an argparse at import time, say
        raise _problem(tr("{target!r} cannot be imported: it called sys.exit({code!r})", target=target, code=exc.code)) from None
    except Exception as exc:  # noqa: BLE001 -- SyntaxError, ImportError, anything its top level raises
        raise _problem(tr("{target!r} cannot be imported: {kind}: {error}", target=target, kind=type(exc).__name__,
                          error=_first_line(exc))) from None
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass


def parse_inputs(shapes: list[str], dtypes: list[str], high: str | None) -> tuple[list[tuple[tuple[int, ...], str]], int | None]:
    """(shape, dtype) per --input-shape, and --input-high: checked before TARGET is imported (no torch for a refusal)."""
    parsed = [parse_shape("input_shape", text) for text in shapes]
    kinds = [parse_dtype("input_dtype", text) for text in dtypes]
    if len(kinds) > 1 and len(kinds) != len(parsed):
        raise SpecError("input_dtype", tr("must be given once for every input, or once for all: {shapes} --input-shape, "
                                          "{dtypes} --input-dtype", shapes=len(parsed), dtypes=len(kinds)))
    kinds = kinds * len(parsed) if len(kinds) == 1 else (kinds or ["float32"] * len(parsed))
    return list(zip(parsed, kinds)), None if high is None else _positive("input_high", high)


def make_inputs(model: Any, inputs: list[tuple[tuple[int, ...], str]], high: int | None, seed: int,
                max_memory: int | None = None) -> tuple[Any, ...]:
    """One tensor per (shape, dtype), drawn from `seed` on the model's device; integer ids in [0, N)."""
    upper = _high(model, high) if any(kind.startswith("int") for _, kind in inputs) else None
    needed = sum(math.prod(shape) * ITEM_BYTES[kind] for shape, kind in inputs)
    refuse_if_too_big(needed, device="cpu", available=available_bytes(), max_memory=max_memory, what=tr("drawing these inputs"),
                      hint=tr("give smaller --input-shape sizes"))
    from rnnshape import probe

    torch = probe.import_torch()
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    generator = torch.Generator().manual_seed(seed)
    out = []
    for shape, kind in inputs:
        if kind.startswith("int"):
            tensor = torch.randint(0, upper, shape, generator=generator, dtype=getattr(torch, kind))
        else:
            tensor = torch.randn(shape, generator=generator, dtype=torch.float32).to(getattr(torch, kind))
        out.append(tensor.to(device))
    return tuple(out)


def _positive(field: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SpecError(field, tr("must be a positive integer (got {value!r})", value=text)) from None
    if value < 1:
        raise SpecError(field, tr("must be a positive integer (got {value})", value=value))
    return value


def _high(model: Any, high: int | None) -> int:
    """N of the integer inputs' [0, N): --input-high, else the smallest num_embeddings of the model's nn.Embeddings."""
    if high is not None:
        return high
    import torch

    sizes = [m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    if not sizes:
        raise SpecError("input_high", tr("is needed for integer inputs: the model has no nn.Embedding to take the id range from"))
    return min(sizes)


def forward_inputs(model: Any) -> list[str]:
    """The names of the positional inputs model.forward requires (for a refusal that says what to give)."""
    import inspect

    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
