"""How much memory this machine has free, the guard that refuses a run that
cannot fit, and bytes written for and read from people.

No torch here: the CPU figure comes from the operating system, so a run too
big for this machine is refused before torch is even imported.
"""

from __future__ import annotations

import math
import os
import re

from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import tr


def available_bytes() -> int | None:
    """Memory a new allocation can use now: MemAvailable on Linux, else None (unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'; binary units, as free(1) and torch's memory summaries use."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# SI units are powers of 1000 (2GB = 2e9 bytes), IEC ones of 1024 (2GiB); a bare
# K/M/G/T is read as IEC, as docker's --memory and ulimit do.
_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e(\d+))?\s*([a-z]*)\s*$", re.I)


def parse_bytes(text: str, field: str = "max_memory") -> int:
    """'2GB' -> 2000000000, '512MiB' -> 536870912, '1e9' -> 1000000000; SpecError otherwise."""
    match = _SIZE.match(str(text))
    unit = match.group(3).lower() if match else None
    if not match or unit not in _UNITS:
        raise SpecError(field, tr("must be a size such as 2GB, 512MiB or 1000000 bytes (got {value!r})", value=text))
    exponent = int(match.group(2) or 0)
    # No machine holds 10**30 bytes: a larger exponent is refused before 10**exponent is computed
    # (1e99999999 would take minutes to build, 1e400 overflows a float).
    value = float(match.group(1)) * 10.0 ** exponent * _UNITS[unit] if exponent <= _MAX_EXPONENT else math.inf
    if not math.isfinite(value) or value > _MAX_BYTES:
        raise SpecError(field, tr("must be at most 2**63 bytes (got {value!r})", value=text))
    if value < 1:
        raise SpecError(field, tr("must be at least 1 byte (got {value!r})", value=text))
    return int(value)


_MAX_EXPONENT, _MAX_BYTES = 30, 2**63


# What refuse_if_too_big says by default: the run refused, and the way out.
THIS_RUN = tr("this run")
META_HINT = tr("use --device meta for shapes without memory")


def refuse_if_too_big(
    needed: int,
    *,
    device: str,
    available: int | None,
    max_memory: int | None,
    what: str = THIS_RUN,
    hint: str = META_HINT,
) -> None:
    """Exit 3 with the estimate, what is available (or allowed), and the way out.

    Decided before anything is allocated: an OOM kill has no message, and a run
    that only fits by swapping takes minutes to answer what meta answers at once.
    """
    if max_memory is not None and needed > max_memory:
        raise EnvironmentProblem(tr(
            "--max-memory: {what} needs about {size} ({needed} bytes), more than the {allowed} ({max_memory} bytes) "
            "allowed; {hint}",
            what=what, size=format_bytes(needed), needed=needed, allowed=format_bytes(max_memory), max_memory=max_memory,
            hint=hint))
    if available is not None and needed > available:
        raise EnvironmentProblem(tr(
            "--device {device}: {what} needs about {size} ({needed} bytes) but {available} is available; {hint}",
            device=device, what=what, size=format_bytes(needed), needed=needed, available=format_bytes(available),
            hint=hint))
