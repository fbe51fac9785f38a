"""How much memory this machine has free, and bytes written for people.

No torch here: the CPU figure comes from the operating system, so a refusal
can be decided (and later, in issue-4 style guards, answered) cheaply.
"""

from __future__ import annotations

import os


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
