"""Read a checkpoint FILE safely: which state_dicts it holds, their keys, shapes and dtypes.

No code from a file ever runs. torch files load with `torch.load(weights_only=True)`,
whose unpickler refuses every global outside tensors and plain containers, so a
pickle that would call `os.system` is refused before anything is called.
safetensors files are data only: their header (8 bytes of length, then JSON) is
read here without torch, and a tensor's values are read, through the safetensors
library, only when asked for, one tensor at a time (a large file is never
loaded whole). torch zip archives are memory-mapped for the same reason.

The kind of file is decided by its first bytes, not its name: `.bin` is used
for both torch and safetensors files.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnshape.errors import EnvironmentProblem, FileProblem
from rnnshape.theory import shape_text

TORCH_ZIP, TORCH_LEGACY, SAFETENSORS = "torch.save zip archive", "torch.save legacy pickle", "safetensors"
# checkpoint(model.state_dict()): no file at all, the mapping already in memory.
IN_MEMORY, IN_MEMORY_NAME = "in memory", "<in memory>"
_ZIP_MAGIC = b"PK\x03\x04"
# torch's legacy format starts with a pickled magic number, pickle protocol 2.
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
# safetensors' dtype names -> torch's (safetensors' own spelling is shown nowhere).
_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2", "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
    "BOOL": "bool", "U16": "uint16", "U32": "uint32", "U64": "uint64",
}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}
# A header larger than this is not a real one (safetensors itself refuses above 100 MB).
_MAX_HEADER = 100_000_000
# Containers nested deeper than this are walked no further: real checkpoints nest two or three.
_MAX_DEPTH = 16


@dataclass
class StateDict:
    """One mapping of names to tensors in the file, and where it lies there."""

    path: tuple[str, ...]  # () at the top level; ("model",) for checkpoint["model"]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]  # torch's names: float32, bfloat16, ...

    @property
    def where(self) -> str:
        """How Python reaches it: checkpoint["model"], or the whole file."""
        return "".join(f"[{key!r}]" for key in self.path) if self.path else ""


@dataclass
class Contents:
    """What a checkpoint holds: its state_dicts, and a brief outline of everything else."""

    file: str
    format: str
    state_dicts: list[StateDict]
    outline: list[str]  # one line per top-level entry (what a file with no RNN holds)
    _objects: Any = field(default=None, repr=False)  # torch files: the loaded object, tensors mmapped

    def vet(self) -> None:
        """Let the safetensors library check the file against its header now, before any answer."""
        self._safetensors_values([])

    def tensors(self, where: StateDict, keys: list[str]) -> dict[str, Any]:
        """These keys' tensors, on the CPU, read now (for safetensors, only these are read)."""
        if self.format == SAFETENSORS:
            return self._safetensors_values(keys)
        mapping = _follow(self._objects, where.path)
        return {key: mapping[key] for key in keys}

    def _safetensors_values(self, keys: list[str]) -> dict[str, Any]:
        safe_open = _safetensors()
        try:
            with safe_open(self.file, framework="pt") as handle:  # opening checks the header against the file
                return {key: handle.get_tensor(key) for key in keys}
        except Exception as exc:  # noqa: BLE001 -- whatever safetensors finds wrong, one line
            raise FileProblem(self.file, f"cannot be read as safetensors: {_first_line(exc)}") from None


def read(path: str, *, values: bool = True) -> Contents:
    """The file's state_dicts, keys and shapes; raises FileProblem (exit 2) for anything else.

    values=False reads a safetensors file's header only, without torch (--no-run).
    A torch file is always unpickled (its shapes live in the pickle), with torch.
    """
    kind = sniff(path)
    if kind == SAFETENSORS:
        contents = _read_safetensors_header(path)
        if values:
            contents.vet()
        return contents
    return _read_torch(path, kind)


def from_object(obj: Any) -> Contents:
    """A state_dict (or a checkpoint dict holding some) already in memory: read as a loaded file is."""
    from rnnshape.probe import import_torch

    torch = import_torch()
    return Contents(IN_MEMORY_NAME, IN_MEMORY, list(_state_dicts(torch, obj, ())), _outline(torch, obj), obj)


def sniff(path: str) -> str:
    """Which kind of file this is, from its first bytes; FileProblem for what is none of them."""
    if not os.path.exists(path):
        raise FileProblem(path, "does not exist")
    if os.path.isdir(path):
        raise FileProblem(path, "is a directory, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        size = os.path.getsize(path)
    except OSError as exc:
        raise FileProblem(path, f"cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise FileProblem(path, "is empty (0 bytes): not a checkpoint")
    if head.startswith(_ZIP_MAGIC):
        import zipfile

        # A zip's directory is at its end: a cut-off archive has none (and mmapping it fails obscurely).
        if not zipfile.is_zipfile(path):
            raise FileProblem(path, "is truncated or corrupt: a zip archive without the directory at its end")
        return TORCH_ZIP
    if head[:2] in _PICKLE_MAGIC:
        return TORCH_LEGACY
    if len(head) > 8 and head[8:9] == b"{" and 2 <= struct.unpack("<Q", head[:8])[0] <= size - 8:
        return SAFETENSORS
    raise FileProblem(
        path, f"is not a checkpoint: neither a torch.save file (zip archive or pickle) nor safetensors (it starts with {head[:8]!r})"
    )


# --- torch files ---------------------------------------------------------------------


def _read_torch(path: str, kind: str) -> Contents:
    from rnnshape.probe import import_torch

    torch = import_torch()
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's protocol notes: the refusal below says what matters
            # mmap: tensors are paged in when touched, so a large archive is not read whole.
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=kind == TORCH_ZIP)
    except Exception as exc:  # noqa: BLE001 -- every way a foreign file fails is answered in one line
        raise FileProblem(path, _torch_load_problem(exc)) from None
    state_dicts = list(_state_dicts(torch, loaded, ()))
    return Contents(path, kind, state_dicts, _outline(torch, loaded), loaded)


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _torch_load_problem(exc: Exception) -> str:
    text = str(exc)
    if "Weights only load failed" in text:
        blocked = _GLOBAL.search(text)
        if blocked:
            return (
                f"was refused: its pickle would call {blocked[1]}, code that torch.load(weights_only=True) does not run "
                "(nothing from the file was executed; if you trust it, load it yourself and torch.save its state_dict)"
            )
        detail = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if "WeightsUnpickler error:" in text else ""
        return f"was refused: torch.load(weights_only=True) cannot read its pickle ({detail or 'unsupported content'}): not a torch.save file of tensors"
    if isinstance(exc, EOFError) or "truncated" in text:
        return "is truncated: its pickle ends early"
    if "central directory" in text:
        return "is truncated or corrupt: its zip archive has no central directory"
    if "not in a subdirectory" in text or "data.pkl" in text:
        return "is a zip archive, but not one torch.save wrote"
    if "magic number" in text.lower():
        return "is a pickle, but not one torch.save wrote"
    return f"cannot be read by torch.load: {_first_line(exc)}"


def _state_dicts(torch: Any, obj: Any, path: tuple[str, ...], depth: int = 0) -> Iterator[StateDict]:
    """Every mapping with tensors under string keys, wherever it is nested (checkpoint["model"], ...)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(obj, Mapping):
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
        if tensors:
            yield StateDict(path, {k: tuple(v.shape) for k, v in tensors.items()}, {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()})
        children: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        children = enumerate(obj)
    else:
        return
    for key, value in children:
        if isinstance(value, (Mapping, list, tuple)):
            yield from _state_dicts(torch, value, path + (str(key),), depth + 1)


def _follow(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj[int(key)] if isinstance(obj, (list, tuple)) else next(v for k, v in obj.items() if str(k) == key)
    return obj


def _outline(torch: Any, obj: Any) -> list[str]:
    """One line per top-level entry: enough to see what a file with no RNN holds."""
    if isinstance(obj, Mapping):
        return [f"{key!r}: {_describe(torch, value)}" for key, value in list(obj.items())[:_OUTLINE_LINES]] + _more(len(obj))
    return [_describe(torch, obj)]


_OUTLINE_LINES = 12


def _more(count: int) -> list[str]:
    return [f"... and {count - _OUTLINE_LINES} more"] if count > _OUTLINE_LINES else []


def _describe(torch: Any, value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor {shape_text(tuple(value.shape))} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, Mapping):
        tensors = sum(isinstance(v, torch.Tensor) for v in value.values())
        return f"dict of {len(value)} entries" + (f", {tensors} of them tensors" if tensors else "")
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)} items"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


# --- safetensors files ----------------------------------------------------------------


def _read_safetensors_header(path: str) -> Contents:
    """Keys, shapes and dtypes from the header alone: no tensor is read, and no torch is needed."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > min(_MAX_HEADER, size - 8):
            raise FileProblem(path, f"is truncated or not safetensors: its header says {length} bytes, the file has {size - 8} after the length")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileProblem(path, f"is not safetensors: its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise FileProblem(path, "is not safetensors: its header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    shapes, dtypes, end = {}, {}, 0
    for key, entry in header.items():
        try:
            dtype, shape, (start, stop) = entry["dtype"], tuple(int(s) for s in entry["shape"]), entry["data_offsets"]
            expected = math.prod(shape) * _ITEM_BYTES[dtype]
        except (KeyError, TypeError, ValueError):
            raise FileProblem(path, f"is not safetensors: header entry {key!r} is not {{dtype, shape, data_offsets}}") from None
        if stop - start != expected:
            raise FileProblem(path, f"is corrupt: {key!r} {shape_text(shape)} {dtype} needs {expected} bytes, its offsets give {stop - start}")
        shapes[key], dtypes[key], end = shape, _SAFETENSORS_DTYPES.get(dtype, dtype), max(end, stop)
    if 8 + length + end > size:
        raise FileProblem(path, f"is truncated: its header promises {8 + length + end} bytes, the file has {size}")
    outline = [f"{len(shapes)} tensors" + (f"; metadata {metadata}" if metadata else "")]
    state_dicts = [StateDict((), shapes, dtypes)] if shapes else []
    return Contents(path, SAFETENSORS, state_dicts, outline)


def _safetensors() -> Any:
    try:
        from safetensors import safe_open
    except ImportError as exc:
        raise EnvironmentProblem(f"reading .safetensors values needs the safetensors library ({exc}); install it with: pip install safetensors") from None
    return safe_open


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
