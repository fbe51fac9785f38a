"""The meta device's shapes from torch's C++ meta functions rather than its Python ones.

probe.run uses this for --device meta: the same shapes, computed in microseconds
per op instead of Python-level decompositions per time step.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


# The swap costs 50-55 ms each way (torch re-registers a few hundred kernels): a sweep of
# meta configs holds it once around its loop, and each run inside is a nested no-op.
# Held by one thread at a time (RLock: nesting in that thread is free); runs take turns
# anyway (probe.RUN_LOCK).
_LOCK = threading.RLock()
_held = {"depth": 0, "swapped": False}


@contextlib.contextmanager
def native_meta_kernels(torch: Any) -> Iterator[bool]:
    """The swap below, once: nested inside another, it changes nothing and yields what the outer one did."""
    with _LOCK:
        if _held["depth"]:
            _held["depth"] += 1
            try:
                yield _held["swapped"]
            finally:
                _held["depth"] -= 1
            return
        with _swapped(torch) as swapped:
            _held.update(depth=1, swapped=swapped)
            try:
                yield swapped
            finally:
                _held.update(depth=0, swapped=False)


@contextlib.contextmanager
def _swapped(torch: Any) -> Iterator[bool]:
    """Let torch's C++ meta functions compute meta shapes; put the Python ones back after.

    torch registers Python meta kernels over its C++ ones for tracing
    (torch._meta_registrations). On plain meta tensors they cost about 20
    Python-level ops per time step and import torch._dynamo on first use:
    seconds for a deep stack. The C++ meta functions are the shape checks every
    CPU and CUDA call runs before computing, so the shapes are still torch's own
    -- only cheaper (microseconds per op). The Python registrations are saved
    and restored, so the caller's process is left as it was. Yields False (and
    changes nothing) where this torch does not keep them where expected.
    """
    try:
        import torch._meta_registrations as registrations

        library = registrations._meta_lib_dont_use_me_use_register_meta
        meta = torch._C.DispatchKey.Meta
        saved = []
        for name in sorted(library._op_impls):  # "aten/addmm.out/Meta"
            namespace, op_name, _key = name.split("/")
            packet, _, overload = op_name.partition(".")
            op = getattr(getattr(getattr(torch.ops, namespace), packet), overload or "default")
            saved.append((op, op.py_kernels[meta]))
    except (ImportError, AttributeError, KeyError, ValueError):
        yield False
        return
    library._destroy()
    kept = torch.library.Library("aten", "IMPL", "Meta")
    try:
        # Ops with no C++ meta function at all keep a Python kernel: their own, but for
        # relu, whose is torch._refs' Python reference (type promotion, broadcasting,
        # strides: 0.6 ms a call, once per layer and step of a relu RNN, so 36-70 s for
        # a 100,000-step stack). An elementwise op's output has its input's shape, dtype
        # and layout: empty_like (preserve_format) says exactly that, in C++.
        for op, kernel in saved:
            if not _has_native_meta(torch, op.name()):
                kept.impl(op, torch.empty_like if op.name() in _SAME_AS_INPUT else kernel)
        yield True
    finally:
        kept._destroy()
        restored = torch.library.Library("aten", "IMPL", "Meta")
        for op, kernel in saved:
            restored.impl(op, kernel)
        registrations._meta_lib_dont_use_me_use_register_meta = restored


_SAME_AS_INPUT = ("aten::relu",)


_NATIVE_META_KEYS = ("Meta", "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional", "CompositeImplicitAutograd")


def _has_native_meta(torch: Any, name: str) -> bool:
    """A C++ kernel that serves meta tensors: a Meta one, or a composite that decomposes."""
    return any(torch._C._dispatch_has_kernel_for_dispatch_key(name, key) for key in _NATIVE_META_KEYS)
