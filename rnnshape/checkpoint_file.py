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

A hostile file is bounded before it is read, by what it can honestly hold:

- only a regular file is opened (a pipe or a device would block, or never end);
- a torch zip's members must lie inside the file, and a compressed one may not
  inflate far beyond its stored size (torch.save stores its members uncompressed);
- every storage a torch pickle names must be exactly as long as its record in the
  zip, and every tensor view must stay inside its storage: checked, before
  torch.load, by reading the pickle with every global replaced by an inert stub
  (torch memory-maps the records, and would read whatever lies beyond one);
- what unpickling may allocate is estimated from the pickle's bytes, and refused
  (exit 3) where the machine does not have it;
- the walk over a loaded object visits each container once, and at most
  _MAX_NODES entries (a pickle's memo can make a few KB look like 10**30 items);
- a safetensors header is validated here as the safetensors library validates it,
  at least as strictly, so that --no-run never accepts what a run refuses.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import pickle
import reprlib
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnshape import memory
from rnnshape.errors import EnvironmentProblem, FileProblem
from rnnshape.language import Message, join, message_of, tr
from rnnshape.theory import shape_text

TORCH_ZIP, TORCH_LEGACY, SAFETENSORS = "torch.save zip archive", "torch.save legacy pickle", "safetensors"
# checkpoint(model.state_dict()): no file at all, the mapping already in memory.
IN_MEMORY, IN_MEMORY_NAME = "in memory", "<in memory>"
_ZIP_MAGIC = b"PK\x03\x04"
# torch's legacy format starts with a pickled magic number, pickle protocol 2.
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
# safetensors' own dtype names (every one its library accepts) -> (bits per element, torch's name).
_SAFETENSORS_DTYPES = {
    "F64": (64, "float64"), "F32": (32, "float32"), "F16": (16, "float16"), "BF16": (16, "bfloat16"),
    "F8_E4M3": (8, "float8_e4m3fn"), "F8_E5M2": (8, "float8_e5m2"), "F8_E8M0": (8, "float8_e8m0fnu"),
    "F6_E2M3": (6, "F6_E2M3"), "F6_E3M2": (6, "F6_E3M2"), "F4": (4, "float4_e2m1fn_x2"),
    "C64": (64, "complex64"), "I64": (64, "int64"), "I32": (32, "int32"), "I16": (16, "int16"), "I8": (8, "int8"),
    "U8": (8, "uint8"), "BOOL": (8, "bool"), "U16": (16, "uint16"), "U32": (32, "uint32"), "U64": (64, "uint64"),
}
_SAFETENSORS_FIELDS = ("dtype", "shape", "data_offsets")
# A header larger than this is not a real one (safetensors itself refuses above 100 MB).
_MAX_HEADER = 100_000_000
# Containers nested deeper than this are walked no further: real checkpoints nest two or three.
_MAX_DEPTH = 16
# Places one shared container is searched at, at most ({"model": sd, "ema": sd} is two).
_MAX_ALIASES = 8
# Entries of containers walked in a loaded object, at most: a real checkpoint has a few
# thousand (a state_dict, an optimizer's state); a pickle's memo can make 10**30 of them.
_MAX_NODES = 1_000_000
# A compressed zip member may inflate this much (an honest pickle compresses 5 to 10 times;
# deflate's limit, a bomb's ratio, is 1032), or to _SMALL_MEMBER bytes, whatever its ratio.
_MAX_INFLATION, _SMALL_MEMBER = 100, 16 * 2**20
# Distinct globals a torch pickle may name: torch's whole allow-list is about 200.
_MAX_GLOBALS = 1000
# How much of a legacy torch.save file its pickles may take (the rest is the storages' raw
# bytes): what unpickling allocates is estimated from these bytes, the rest counted at its size.
_LEGACY_PICKLE = 64 * 2**20


@dataclass
class StateDict:
    """One mapping of names to tensors in the file, and where it lies there."""

    path: tuple[str, ...]  # () at the top level; ("model",) for checkpoint["model"]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]  # torch's names: float32, bfloat16, ...
    # Bytes each tensor's values take as stored: what reading them costs (--max-memory).
    nbytes: dict[str, int] = field(default_factory=dict)
    # The keys and indices themselves that reach it (path holds them as text).
    route: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

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
    notes: list[str] = field(default_factory=list)  # what was left unread, and why
    _open: Any = field(default=None, repr=False)  # safetensors: the library's handle, once a value is asked for

    def vet(self) -> None:
        """Let the safetensors library check the file against its header now (the header was checked as strictly)."""
        self._safetensors_values([])

    def close(self) -> None:
        """Let go of the safetensors handle (its memory map), if one was opened."""
        if self._open is not None:
            stack, self._open = self._open, None
            stack.close()

    def tensors(self, where: StateDict, keys: list[str]) -> dict[str, Any]:
        """These keys' tensors, on the CPU, read now (for safetensors, only these are read)."""
        if self.format == SAFETENSORS:
            return self._safetensors_values(keys)
        mapping = _follow(self._objects, where.route if where.route is not None else where.path)
        return {key: mapping[key] for key in keys}

    def _safetensors_values(self, keys: list[str]) -> dict[str, Any]:
        """These tensors, through one handle opened at the first call (opening parses the header again: once is enough)."""
        import contextlib

        safe_open = _safetensors()
        try:
            if self._open is None:
                stack = contextlib.ExitStack()
                handle = stack.enter_context(safe_open(self.file, framework="pt"))  # checks the header against the file
                self._open = stack
                self._handle = handle
            return {key: self._handle.get_tensor(key) for key in keys}
        except MemoryError:
            raise machine_problem(self.file, tr("cannot be read: not enough memory for its tensors")) from None
        except Exception as exc:  # noqa: BLE001 -- whatever safetensors finds wrong, one line
            if _out_of_memory(exc):
                raise machine_problem(self.file, tr("cannot be read: not enough memory ({reason})", reason=_first_line(exc))) from None
            raise FileProblem(self.file, tr("cannot be read as safetensors: {reason}", reason=_first_line(exc))) from None


def read(path: str, *, values: bool = True, max_memory: int | None = None) -> Contents:
    """The file's state_dicts, keys and shapes; raises FileProblem (exit 2) for anything else.

    values=False reads a safetensors file's header only, without torch (--no-run).
    A torch file is always unpickled (its shapes live in the pickle), with torch.
    What reading the file needs in memory is refused (EnvironmentProblem, exit 3)
    beyond `max_memory` bytes or what the machine has available, before it is read.
    """
    kind = sniff(path)
    try:
        if kind == SAFETENSORS:
            # The header is checked here as strictly as the safetensors library checks it, for
            # --no-run and a run alike; the library opens the file when a value is first read.
            return _read_safetensors_header(path, max_memory)
        return _read_torch(path, kind, max_memory)
    except MemoryError:
        raise machine_problem(path, tr("cannot be read: not enough memory")) from None
    except OSError as exc:  # read errors after sniff opened it (an unplugged disk, a file cut under us)
        raise FileProblem(path, tr("cannot be read: {reason}", reason=exc.strerror or _first_line(exc))) from None


def from_object(obj: Any) -> Contents:
    """A state_dict (or a checkpoint dict holding some) already in memory: read as a loaded file is."""
    from rnnshape.probe import import_torch

    torch = import_torch()
    state_dicts, notes = _walk(torch, obj)
    return Contents(IN_MEMORY_NAME, IN_MEMORY, state_dicts, _outline(torch, obj), obj, notes)


def machine_problem(path: str, message: str) -> EnvironmentProblem:
    """Exit 3 for this FILE, on one line that names it as a refused file is named: `FILE <path> ...`."""
    return EnvironmentProblem(FileProblem(path, message).cli_message())  # a Joined: the message is said in the chosen language


_NO_RUN_HINT = tr("--no-run answers from the keys and shapes alone")


def refuse_if_too_big(path: str, needed: int, max_memory: int | None, what: str,
                      hint: str = _NO_RUN_HINT) -> None:
    """EnvironmentProblem (exit 3) when `needed` bytes exceed --max-memory or what this machine has free."""
    try:
        memory.refuse_if_too_big(needed, device="cpu", available=memory.available_bytes(), max_memory=max_memory,
                                 what=what, hint=hint)
    except EnvironmentProblem as exc:
        raise machine_problem(path, tr("is not read: {reason}", reason=message_of(exc))) from None


_NOT_REGULAR = ((stat.S_ISFIFO, tr("a pipe")), (stat.S_ISCHR, tr("a character device")),
                (stat.S_ISBLK, tr("a block device")), (stat.S_ISSOCK, tr("a socket")))


def sniff(path: str) -> str:
    """Which kind of file this is, from its first bytes; FileProblem for what is none of them.

    Only a regular file is opened: a pipe (`/dev/stdin` fed by `cat`), a FIFO or a device
    is refused from its stat alone, since reading one would block or never end, and
    rnnshape memory-maps what it reads.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileProblem(path, tr("does not exist")) from None
    except ValueError:  # a NUL byte in the name
        raise FileProblem(path, tr("is no usable file name: it holds a NUL byte")) from None
    except OSError as exc:
        raise FileProblem(path, tr("cannot be read: {reason}", reason=exc.strerror or str(exc))) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileProblem(path, tr("is a directory, not a checkpoint file"))
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), tr("not a regular file"))
        raise FileProblem(path, tr("is {kind}, not a regular file: save the checkpoint to a file first "
                                   "(rnnshape memory-maps what it reads)", kind=kind))
    size = info.st_size
    if size == 0:
        raise FileProblem(path, tr("is empty (0 bytes): not a checkpoint"))
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise FileProblem(path, tr("cannot be read: {reason}", reason=exc.strerror or str(exc))) from None
    if head.startswith(_ZIP_MAGIC):
        import zipfile

        # A zip's directory is at its end: a cut-off archive has none (and mmapping it fails obscurely).
        if not zipfile.is_zipfile(path):
            raise FileProblem(path, tr("is truncated or corrupt: a zip archive without the directory at its end"))
        return TORCH_ZIP
    if head[:2] in _PICKLE_MAGIC:
        return TORCH_LEGACY
    if len(head) > 8 and head[8:9] == b"{" and 2 <= struct.unpack("<Q", head[:8])[0] <= size - 8:
        return SAFETENSORS
    raise FileProblem(
        path, tr("is not a checkpoint: neither a torch.save file (zip archive or pickle) nor safetensors (it starts with {head!r})",
                 head=head[:8])
    )


# --- torch files ---------------------------------------------------------------------


def _read_torch(path: str, kind: str, max_memory: int | None) -> Contents:
    from rnnshape.probe import import_torch

    torch = import_torch()
    import warnings

    size = os.path.getsize(path)
    mmap = kind == TORCH_ZIP
    if kind == TORCH_ZIP:
        archive = _Archive.check(path, size)
        pickled = archive.pickle_info
        needed = 25 * pickled.size  # the bytes, and what they may make (refined below, once read)
        refuse_if_too_big(path, needed, max_memory, tr("reading its pickle ({size})", size=memory.format_bytes(pickled.size)),
                          hint=_PICKLE_HINT)
        data = archive.read_pickle()
        refuse_if_too_big(path, _unpickled_bytes(data) + len(data), max_memory,
                          tr("unpickling its {size} pickle", size=memory.format_bytes(len(data))),
                          hint=_PICKLE_HINT)
        _scan_torch_pickle(path, torch, data, archive)
        del data
        # torch memory-maps stored records; a compressed one it would map as it lies on disk
        # (its deflated bytes, read as numbers), so such an archive is read into memory.
        mmap = not archive.compressed
        if archive.compressed:
            refuse_if_too_big(path, archive.inflated, max_memory,
                              tr("reading its compressed archive ({size} inflated)", size=memory.format_bytes(archive.inflated)),
                              hint=tr("torch.save writes uncompressed archives, which are memory-mapped instead"))
    else:
        # The legacy format is read whole: its storages, and its pickle's objects. Its pickle comes
        # first, and is small in any file torch.save wrote; the rest is the storages' raw bytes.
        with open(path, "rb") as f:
            head = f.read(min(size, _LEGACY_PICKLE))
        pickles = _legacy_pickles(path, head, size)
        needed = size + _unpickled_bytes(head[:pickles])
        refuse_if_too_big(path, needed, max_memory, tr("reading this legacy torch.save file ({size})", size=memory.format_bytes(size)),
                          hint=tr("the legacy format is read whole; torch.save's default zip format is memory-mapped instead"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's protocol notes: the refusal below says what matters
            # mmap: tensors are paged in when touched, so a large archive is not read whole.
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except MemoryError:
        raise machine_problem(path, tr("cannot be read: not enough memory to unpickle it")) from None
    except Exception as exc:  # noqa: BLE001 -- every way a foreign file fails is answered in one line
        if _out_of_memory(exc):
            raise machine_problem(path, tr("cannot be read: not enough memory ({reason})", reason=_first_line(exc))) from None
        raise FileProblem(path, _torch_load_problem(exc)) from None
    state_dicts, notes = _walk(torch, loaded)
    return Contents(path, kind, state_dicts, _outline(torch, loaded), loaded, notes)


_PICKLE_HINT = tr("the pickle must be read, even for --no-run")


def _torch_load_problem(exc: BaseException) -> str:
    text = str(exc)
    if "Weights only load failed" in text:
        blocked = _blocked_global(text)
        if blocked:
            return tr(
                "was refused: its pickle would call {name}, code that torch.load(weights_only=True) does not run "
                "(nothing from the file was executed; if you trust it, load it yourself and torch.save its state_dict)",
                name=blocked,
            )
        detail = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if "WeightsUnpickler error:" in text else ""
        return tr("was refused: torch.load(weights_only=True) cannot read its pickle ({detail}): not a torch.save file of tensors",
                  detail=_clip(detail) or tr("unsupported content"))
    if isinstance(exc, EOFError) or "truncated" in text or "ran out of input" in text.lower():
        return tr("is truncated: its pickle ends early")
    if "central directory" in text:
        return tr("is truncated or corrupt: its zip archive has no central directory")
    if "not in a subdirectory" in text or "data.pkl" in text:
        return tr("is a zip archive, but not one torch.save wrote")
    if "magic number" in text.lower():
        return tr("is a pickle, but not one torch.save wrote")
    if "storage has wrong byte size" in text:
        return tr("is corrupt: a storage's size in its data section differs from what its pickle says")
    if "resize storage" in text or "out of bounds for storage" in text:
        return tr("is corrupt: a tensor reaches past the end of its storage")
    return tr("cannot be read by torch.load: {reason}", reason=_clip(_first_line(exc)))


def _blocked_global(text: str) -> str | None:
    """The global torch's weights-only unpickler refused, from its message (GLOBAL os.system ...)."""
    start = text.find("GLOBAL ")
    if start < 0:
        return None
    name = text[start + 7:].split()[0] if text[start + 7:].split() else ""
    name = "".join(itertools.takewhile(lambda c: c.isalnum() or c in "._", name))
    return name or None


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "Cannot allocate memory" in text or \
        "out of memory" in text.lower()


def _legacy_pickles(path: str, head: bytes, size: int) -> int:
    """The five pickles a legacy torch.save file begins with (magic number, protocol, system info, the
    object, its storages' keys), checked for shared tuples as a zip's data.pkl is; all within `head`.

    Returns how many bytes of `head` they take (the rest is the storages' raw bytes).
    """
    stream = io.BytesIO(head)
    for _ in range(5):
        if stream.tell() == len(head):
            return len(head)  # ends early: torch says how
        try:
            _shared_tuples(path, stream)
        except FileProblem:
            if len(head) < size and stream.tell() >= len(head):
                raise FileProblem(path, tr("was refused: its pickle is longer than {size}, "
                                           "more than any legacy torch.save file's", size=memory.format_bytes(_LEGACY_PICKLE))) from None
            if stream.tell() >= len(head):
                return len(head)  # truncated: torch says so
            raise
    return stream.tell()


def _unpickled_bytes(data: bytes) -> int:
    """An upper estimate of what unpickling `data` allocates.

    Every opcode pushes at most one object, at most about 24 bytes for each byte of
    pickle (a one-character string: 3 bytes of pickle, 50 of memory and a pointer);
    the containers and tensors that a single byte can make cost more, and are counted
    (a byte that only looks like one, inside a string, is counted too: the estimate errs high).
    """
    containers = 96 * (data.count(b"]") + data.count(b"}")) + 240 * (data.count(b"\x8f") + data.count(b"\x91"))
    calls = 1536 * (data.count(b"R") + data.count(b"\x81") + data.count(b"\x92"))
    return 24 * len(data) + containers + calls


@dataclass
class _Member:
    name: str
    start: int  # where its bytes begin in the file
    stored: int  # bytes in the file
    size: int  # bytes once read (inflated)
    compressed: bool


class _Archive:
    """A torch.save zip archive's members, checked to lie inside the file and not to inflate beyond reason."""

    def __init__(self, path: str, members: dict[str, _Member], prefix: str):
        self.path, self.members, self.prefix = path, members, prefix

    @property
    def pickle_info(self) -> _Member:
        return self.members[f"{self.prefix}/data.pkl"]

    @property
    def compressed(self) -> bool:
        return any(m.compressed for m in self.members.values())

    @property
    def inflated(self) -> int:
        return sum(m.size for m in self.members.values())

    def record(self, key: str) -> _Member | None:
        return self.members.get(f"{self.prefix}/data/{key}")

    def read_pickle(self) -> bytes:
        import zipfile

        try:
            with zipfile.ZipFile(self.path) as z:
                return z.read(self.pickle_info.name)
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise FileProblem(self.path, tr("is corrupt: its member {name} cannot be read ({reason})",
                                            name=_clip(self.pickle_info.name), reason=_clip(_first_line(exc)))) from None

    @classmethod
    def check(cls, path: str, size: int) -> _Archive:
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError, struct.error) as exc:
            raise FileProblem(path, tr("is a corrupt zip archive ({reason})", reason=_clip(_first_line(exc)))) from None
        if not infos:
            raise FileProblem(path, tr("is an empty zip archive, not one torch.save wrote"))
        prefix = infos[0].filename.split("/")[0]
        members: dict[str, _Member] = {}
        with open(path, "rb") as f:
            for info in infos:
                name = info.filename
                if name in members:
                    raise FileProblem(path, tr("is corrupt: its zip archive holds two members named {name}", name=_clip(name)))
                start = _member_start(f, info)
                compressed = info.compress_type != zipfile.ZIP_STORED
                if start is None or start + info.compress_size > size:
                    raise FileProblem(path, tr("is truncated or corrupt: its member {name} ({stored} bytes) "
                                               "reaches past the end of the file ({size} bytes)",
                                               name=_clip(name), stored=info.compress_size, size=size))
                if not compressed and info.file_size != info.compress_size:
                    raise FileProblem(path, tr("is corrupt: its stored member {name} says it holds {size} bytes "
                                               "but takes {stored}", name=_clip(name), size=info.file_size, stored=info.compress_size))
                if compressed and info.file_size > max(_SMALL_MEMBER, _MAX_INFLATION * info.compress_size):
                    raise FileProblem(path, tr("was refused: its member {name} would inflate from {stored} bytes "
                                               "to {size} ({ratio}-fold), a zip bomb's "
                                               "ratio; torch.save stores its members uncompressed",
                                               name=_clip(name), stored=info.compress_size, size=info.file_size,
                                               ratio=info.file_size // max(1, info.compress_size)))
                members[name] = _Member(name, start, info.compress_size, info.file_size, compressed)
        if f"{prefix}/data.pkl" not in members:
            raise FileProblem(path, tr("is a zip archive, but not one torch.save wrote (it has no data.pkl)"))
        return cls(path, members, prefix)


def _member_start(f: Any, info: Any) -> int | None:
    """Where a member's bytes begin: after its local header, whose name and extra field have their own lengths."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != _ZIP_MAGIC:
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


class _Stub:
    """What every global in a torch pickle becomes while it is scanned: called, it records its arguments.

    Nothing the pickle names is imported or run; each distinct global is a subclass
    (`qualname` its name), so that NEWOBJ (which needs a class) works as REDUCE does.
    """

    qualname = ""
    check: Any = None
    scanner: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> _Stub:
        self = object.__new__(cls)
        self.args = args
        if cls.check is not None:
            cls.check(args)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        # BUILD on a tensor is tensor.set_(storage, offset, size, stride): the same view to check.
        if self.scanner is not None and isinstance(state, tuple) and len(state) == 4:
            self.scanner.view(*state)

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def add(self, value: Any) -> None:
        pass


@dataclass
class _Storage:
    """A storage a torch pickle names, as its persistent id gives it."""

    key: str
    nbytes: int
    itemsize: int
    type: str


class _Scan:
    """Read a torch zip's pickle with inert stubs for its globals, checking every storage and tensor view it names."""

    _REBUILDS = {"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
                 "torch._utils._rebuild_qtensor"}

    def __init__(self, path: str, torch: Any, archive: _Archive):
        self.path, self.torch, self.archive = path, torch, archive
        self.globals: dict[tuple[str, str], type] = {}
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> type:
        known = self.globals.get((module, name))
        if known is not None:
            return known
        if len(self.globals) >= _MAX_GLOBALS:
            raise FileProblem(self.path, tr("was refused: its pickle names more than {most} globals, far more than any torch.save file",
                                            most=_MAX_GLOBALS))
        qualname = f"{module}.{name}"
        check = None
        if qualname in self._REBUILDS:
            check = staticmethod(self.rebuild)
        stub = type("Stub", (_Stub,), {"qualname": qualname, "check": check, "scanner": self})
        self.globals[(module, name)] = stub
        return stub

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise FileProblem(self.path, tr("was refused: its pickle names a persistent object {pid}, not a storage as torch.save writes",
                                            pid=_short(pid)))
        _, storage_type, key, _location, numel = pid
        if not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise FileProblem(self.path, tr("is corrupt: its pickle names a storage {pid} without a key and an element count",
                                            pid=_short(pid)))
        itemsize, dtype = self.element(storage_type)
        nbytes = numel * itemsize
        record = self.archive.record(key)
        if record is None:
            raise FileProblem(self.path, tr("is corrupt: its pickle names storage data/{key}, which the archive does not hold",
                                            key=_clip(key)))
        if record.size != nbytes:
            raise FileProblem(self.path, tr("is corrupt: its pickle says storage data/{key} holds {numel} {dtype} elements "
                                            "({nbytes} bytes), but its record holds {held} bytes",
                                            key=_clip(key), numel=numel, dtype=dtype, nbytes=nbytes, held=record.size))
        # torch keeps the first storage loaded for a key (and so does this check).
        return self.storages.setdefault(key, _Storage(key, nbytes, itemsize, dtype))

    def element(self, storage_type: Any) -> tuple[int, str]:
        """Bytes per element and dtype name of a storage class as the pickle names it (torch.FloatStorage)."""
        name = getattr(storage_type, "qualname", "").rpartition(".")[2]
        if name == "UntypedStorage":
            return 1, "uint8"
        try:
            dtype = self.torch.serialization.StorageType(name).dtype
        except Exception:  # noqa: BLE001 -- any name torch does not know
            raise FileProblem(self.path, tr("was refused: its pickle names a storage of type {type}, "
                                            "which torch.save never writes",
                                            type=_short(getattr(storage_type, 'qualname', storage_type)))) from None
        return self.torch._utils._element_size(dtype), str(dtype).removeprefix("torch.")

    def rebuild(self, args: tuple[Any, ...]) -> None:
        """_rebuild_tensor_v2(storage, offset, size, stride, ...): the view must lie inside the storage."""
        if len(args) >= 4 and isinstance(args[0], _Storage):
            itemsize = args[0].itemsize
            if len(args) >= 7 and isinstance(args[6], _Stub):  # v3 carries the tensor's dtype
                dtype = getattr(self.torch, args[6].qualname.rpartition(".")[2], None)
                itemsize = dtype.itemsize if isinstance(dtype, self.torch.dtype) else itemsize
            self.view(args[0], args[1], args[2], args[3], itemsize)

    def view(self, storage: Any, offset: Any, size: Any, stride: Any, itemsize: int | None = None) -> None:
        if not isinstance(storage, _Storage):
            return
        itemsize = itemsize or storage.itemsize
        if isinstance(size, _Stub) and size.qualname == "torch.Size" and size.args:
            size = size.args[0]
        ints = all(type(v) is int for v in (offset, *(size if isinstance(size, tuple) else ()), *(stride if isinstance(stride, tuple) else ())))
        if not (isinstance(size, tuple) and isinstance(stride, tuple) and ints and len(size) == len(stride)):
            raise FileProblem(self.path, tr("is corrupt: a tensor on storage data/{key} has no integer size, "
                                            "stride and offset ({size}, {stride}, {offset})",
                                            key=_clip(storage.key), size=_short(size), stride=_short(stride), offset=_short(offset)))
        if offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
            raise FileProblem(self.path, tr("is corrupt: a tensor on storage data/{key} has a negative size, "
                                            "stride or offset ({size}, {stride}, {offset})",
                                            key=_clip(storage.key), size=_short(size), stride=_short(stride), offset=offset))
        if 0 in size:
            return
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if (last + 1) * itemsize > storage.nbytes:
            raise FileProblem(self.path, tr("is corrupt: a tensor of shape {size} with strides {stride} from offset "
                                            "{offset} reaches element {last}, past the end of its storage data/{key} "
                                            "({elements} elements)",
                                            size=_short(size), stride=_short(stride), offset=offset, last=last,
                                            key=_clip(storage.key), elements=storage.nbytes // itemsize))


def _shared_tuples(path: str, data: bytes | io.BytesIO) -> None:
    """Refuse a pickle that builds a tuple of more than _MAX_TUPLE_ITEMS items, counted with their sharing.

    Unpickling puts tuples into dicts as keys, and Python hashes a tuple by hashing every
    item, again and again for an item its memo shares: ten references to one tuple, thirty
    levels deep, is 10**30 hashes, in torch.load's unpickler as in any other (the "billion
    laughs" of a dict key). Here the pickle's opcodes are only followed, building nothing:
    each stack entry is the number of items it would hash to.
    """
    import pickletools

    stack: list[int] = []
    marks: list[int] = []
    memo: dict[Any, int] = {}
    effects = _effects()
    try:
        for op, arg, _ in pickletools.genops(data):
            code = op.code
            if code == "(":  # MARK
                marks.append(len(stack))
                continue
            if code in _TUPLE_OPS:
                count = _TUPLE_OPS[code]
                if count is None:
                    start = marks.pop() if marks else 0
                    items, stack[start:] = stack[start:], []
                else:
                    items = stack[len(stack) - count:] if count else []
                    del stack[len(stack) - count:]
                weight = 1 + sum(items)
                if weight > _MAX_TUPLE_ITEMS:
                    raise FileProblem(path, tr("was refused: its pickle shares one tuple so often that hashing it would take over "
                                               "{most} steps, and far more (a pickle bomb: no torch.save file holds one)",
                                               most=_MAX_TUPLE_ITEMS))
                stack.append(weight)
            elif code in "qr":  # BINPUT, LONG_BINPUT
                memo[arg] = stack[-1] if stack else 1
            elif code == "p":  # PUT
                memo[arg] = stack[-1] if stack else 1
            elif code == "\x94":  # MEMOIZE
                memo[len(memo)] = stack[-1] if stack else 1
            elif code in "hjg":  # BINGET, LONG_BINGET, GET
                stack.append(memo.get(arg, 1))
            elif code == "2":  # DUP
                stack.append(stack[-1] if stack else 1)
            else:
                mark, below, after = effects[code]
                if mark:
                    del stack[marks.pop() if marks else 0:]
                if below:
                    del stack[max(0, len(stack) - below):]
                if after:
                    stack.extend(_ONES[:after])
    except FileProblem:
        raise
    except Exception as exc:  # noqa: BLE001 -- an opcode pickletools cannot follow: no pickle torch.save wrote
        raise FileProblem(path, tr("is corrupt: its pickle cannot be read ({reason})", reason=_clip(_first_line(exc)))) from None


# Opcodes that make a tuple, and how many stack items each takes (None: back to the mark).
_TUPLE_OPS = {"t": None, ")": 0, "\x85": 1, "\x86": 2, "\x87": 3}
# Items, counted with their sharing, that a tuple in a torch pickle may hash to (torch.save's have a few).
_MAX_TUPLE_ITEMS = 100_000


@functools.cache
def _effects() -> dict[str, tuple[bool, int, int]]:
    """Each opcode's effect on the stack: whether it pops to a mark, how many items below it pops, how many it pushes."""
    import pickletools

    effects = {}
    for op in pickletools.opcodes:
        before = op.stack_before
        mark = pickletools.markobject in before
        effects[op.code] = (mark, before.index(pickletools.markobject) if mark else len(before), len(op.stack_after))
    return effects


_ONES = [1, 1, 1, 1]


def _scan_torch_pickle(path: str, torch: Any, data: bytes, archive: _Archive) -> None:
    """Check every storage and tensor view data.pkl names against the archive, before torch.load reads any."""
    _shared_tuples(path, data)
    scan = _Scan(path, torch, archive)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            return scan.find_class(str(module), str(name))

        def persistent_load(self, pid: Any) -> Any:
            return scan.persistent_load(pid)

    try:
        Unpickler(io.BytesIO(data), encoding="utf-8").load()
    except FileProblem:
        raise
    except MemoryError:
        raise machine_problem(path, tr("cannot be read: not enough memory to unpickle it")) from None
    except RecursionError:
        raise FileProblem(path, tr("was refused: its pickle nests deeper than Python can follow")) from None
    except Exception as exc:  # noqa: BLE001 -- a pickle this reading cannot follow, torch's cannot either
        raise FileProblem(path, _torch_load_problem(exc) if isinstance(exc, EOFError) else
                          tr("is corrupt: its pickle cannot be read ({reason})", reason=_clip(_first_line(exc)))) from None


def _walk(torch: Any, obj: Any) -> tuple[list[StateDict], list[str]]:
    """Every mapping with tensors under string keys, wherever it is nested (checkpoint["model"], ...).

    A pickle can share one object among many places ({"model": sd, "ema": sd}), and
    its memo can make a few KB look like 10**30 of them (a list holding one list ten
    times, thirty levels deep). So each container is searched at the first
    _MAX_ALIASES places it appears, no more, at most _MAX_DEPTH levels down and
    _MAX_NODES entries in all; a note says so when a bound cut the search short.
    """
    found: list[StateDict] = []
    visits: dict[int, int] = {}
    tensors_of: dict[int, StateDict] = {}  # a shared state_dict's shapes, read once
    walked, aliased = 0, False
    stack: list[tuple[Any, tuple[str, ...], tuple[Any, ...]]] = [(obj, (), ())]
    while stack:
        node, path, route = stack.pop()
        seen = visits.get(id(node), 0)
        if seen >= _MAX_ALIASES:
            aliased = True
            continue
        visits[id(node)] = seen + 1
        walked += len(node)
        if walked > _MAX_NODES:
            return found, [tr("the file's objects hold more than {most} entries: only the first {most} "
                              "were searched for state_dicts", most=_MAX_NODES)]
        if isinstance(node, Mapping):
            known = tensors_of.get(id(node))
            if known is None:
                tensors = {k: v for k, v in node.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
                known = tensors_of[id(node)] = StateDict(
                    (), {k: tuple(v.shape) for k, v in tensors.items()}, {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()},
                    {k: v.numel() * v.element_size() for k, v in tensors.items()})
            if known.shapes:
                found.append(StateDict(path, known.shapes, known.dtypes, known.nbytes, route))
            children: Any = node.items()
        else:
            children = enumerate(node)
        if len(path) >= _MAX_DEPTH:
            continue
        below = [(value, path + (_key_text(key),), route + (key,)) for key, value in children
                 if isinstance(value, (Mapping, list, tuple))]
        stack.extend(reversed(below))  # depth first, in the file's order
    notes = [tr("an object in the file appears in more than {most} places (its pickle shares it): "
                "only the first {most} were searched for state_dicts", most=_MAX_ALIASES)] if aliased else []
    return found, notes


def _follow(obj: Any, route: tuple[Any, ...]) -> Any:
    for key in route:
        obj = obj[key] if not isinstance(obj, (list, tuple)) else obj[int(key)]
    return obj


def _key_text(key: Any) -> str:
    """A container key as text for a path: strings as they are, anything else briefly (never a huge repr)."""
    if isinstance(key, str):
        return key
    if type(key) is int:
        return str(key) if key.bit_length() < 1000 else f"<int of {key.bit_length()} bits>"
    return _short(key)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 2, 40, 40, 40


def _short(value: Any) -> str:
    """repr(value), bounded: a few items of a few levels, long strings and numbers cut."""
    if type(value) is int and value.bit_length() > 128:
        return f"<int of {value.bit_length()} bits>"
    if isinstance(value, (str, bytes, bytearray)) and len(value) > 40:
        return _REPR.repr(value[:40]) + f"... ({len(value)} in all)"
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 -- a repr that fails says what it is instead
        return f"<{type(value).__name__}>"


def _clip(text: str, limit: int = 200) -> str:
    """A name or message from the file, cut to a line's worth."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _outline(torch: Any, obj: Any) -> list[str]:
    """One line per top-level entry: enough to see what a file with no RNN holds."""
    if isinstance(obj, Mapping):
        return [join(": ", [_short(key), _describe(torch, value)]) for key, value in itertools.islice(obj.items(), _OUTLINE_LINES)] \
            + _more(len(obj))
    return [_describe(torch, obj)]


_OUTLINE_LINES = 12


def _more(count: int) -> list[str]:
    return [tr("... and {count} more", count=count - _OUTLINE_LINES)] if count > _OUTLINE_LINES else []


def _describe(torch: Any, value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return tr("tensor {shape} {dtype}", shape=shape_text(tuple(value.shape)), dtype=str(value.dtype).removeprefix('torch.'))
    if isinstance(value, Mapping):
        tensors = sum(isinstance(v, torch.Tensor) for v in itertools.islice(value.values(), _MAX_NODES))
        if tensors:
            return tr("dict of {count} entries, {tensors} of them tensors", count=len(value), tensors=tensors)
        return tr("dict of {count} entries", count=len(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tr("{type} of {count} items", type=type(value).__name__, count=len(value))
    return f"{type(value).__name__} {_short(value)}"


# --- safetensors files ----------------------------------------------------------------


def _read_safetensors_header(path: str, max_memory: int | None = None) -> Contents:
    """Keys, shapes and dtypes from the header alone: no tensor is read, and no torch is needed.

    The header is validated as the safetensors library validates it when a run opens
    the file, and never less strictly (an entry's unknown fields are refused here, which
    the library ignores), so that --no-run accepts no file a run refuses: UTF-8 JSON
    nested no deeper than its schema; every entry exactly {dtype, shape, data_offsets},
    a dtype of safetensors' own, a shape of non-negative integers, offsets two
    non-negative integers as long as the shape and dtype need; the entries' data laid
    end to end from 0, covering exactly the rest of the file; __metadata__ strings only.

    What parsing may build is bounded before it starts, by counting bytes at C speed:
    at most _MAX_TENSORS entries, and no more arrays, objects, strings and integers
    than that many entries hold (a header of 33 million empty lists, or of one shape
    with 50 million dimensions, is refused without being built).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > _MAX_HEADER:
            raise FileProblem(path, tr("is not safetensors: its header says {length} bytes, more than the {most} safetensors allows",
                                       length=length, most=_MAX_HEADER))
        if length > size - 8:
            raise FileProblem(path, tr("is truncated or not safetensors: its header says {length} bytes, the file has {rest} after the length",
                                       length=length, rest=size - 8))
        raw = f.read(length)
    entries = _header_shape(path, raw)
    refuse_if_too_big(path, _HEADER_ENTRY_BYTES * entries + 3 * length, max_memory,
                      tr("parsing its {size} header", size=memory.format_bytes(length)),
                      hint=tr("no real model has a header near this size"))
    ints = itertools.count()
    most = (2 + _HEADER_RANK) * entries + _header_slack(raw)

    def parse_int(text: str) -> int:
        # Every number in a header is a size or an offset: a non-negative integer (safetensors' usize).
        if next(ints) > most:
            raise ValueError(tr("more integers than {entries} tensors' shapes and offsets hold", entries=entries))
        if text[0] == "-":
            raise ValueError(tr("{number}: sizes and offsets are never negative", number=_clip(text, 40)))
        return int(text)

    try:
        text = raw.decode("utf-8")
        del raw
        header = json.loads(text, parse_int=parse_int, parse_float=_no_fraction, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise FileProblem(path, tr("is not safetensors: its header is not UTF-8 (byte {byte})", byte=exc.start)) from None
    except RecursionError:
        raise FileProblem(path, tr("is not safetensors: its header's JSON nests deeper than any header can")) from None
    except ValueError as exc:  # JSONDecodeError, an integer of more than 4300 digits, the hooks' refusals
        own = message_of(exc)  # the hooks' refusals are Messages (short, one line), the rest json's own English
        raise FileProblem(path, tr("is not safetensors: its header is not JSON as safetensors writes it ({reason})",
                                   reason=own if isinstance(own, Message) else _clip(_first_line(exc)))) from None
    del text
    if not isinstance(header, dict):
        raise FileProblem(path, tr("is not safetensors: its header is not a JSON object"))
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(type(v) is str for v in metadata.values())):
        raise FileProblem(path, tr("is not safetensors: its __metadata__ is {metadata}, not an object of strings",
                                   metadata=_short(metadata)))
    _utf8(path, header, metadata or {})
    shapes, dtypes, nbytes, spans = {}, {}, {}, []
    budget = 8 * size  # bits: a tensor needing more cannot be in the file
    for key, entry in header.items():
        dtype, shape, start, stop = _entry(path, key, entry)
        bits, torch_name = _SAFETENSORS_DTYPES[dtype]
        numel = 0 if 0 in shape else 1
        for n in shape if numel else ():
            numel *= n
            if numel * bits > budget:
                break
        needed, misaligned = divmod(numel * bits, 8)
        if misaligned:
            raise FileProblem(path, tr("is corrupt: {key} {shape} {dtype} is {bits} bits, not whole bytes",
                                       key=_shown(key), shape=_shape(shape), dtype=dtype, bits=numel * bits))
        if stop - start != needed:
            if numel * bits <= budget:
                raise FileProblem(path, tr("is corrupt: {key} {shape} {dtype} needs {needed} bytes, its offsets give {given}",
                                           key=_shown(key), shape=_shape(shape), dtype=dtype, needed=needed, given=stop - start))
            raise FileProblem(path, tr("is corrupt: {key} {shape} {dtype} needs more bytes, its offsets give {given}",
                                       key=_shown(key), shape=_shape(shape), dtype=dtype, given=stop - start))
        shapes[key], dtypes[key], nbytes[key] = tuple(shape), torch_name, needed
        spans.append((start, stop, key))
    spans.sort(key=lambda span: span[:2])
    end = 0
    for start, stop, key in spans:  # safetensors' own rule: each tensor begins where the one before ends
        if start != end:
            if start < end:
                raise FileProblem(path, tr("is corrupt: the data_offsets [{start}, {stop}] of {key} overlap the tensor before it "
                                           "(it should begin at {end})", start=start, stop=stop, key=_shown(key), end=end))
            raise FileProblem(path, tr("is corrupt: the data_offsets [{start}, {stop}] of {key} leave {gap} bytes before it "
                                       "that no tensor holds (it should begin at {end})",
                                       start=start, stop=stop, key=_shown(key), gap=start - end, end=end))
        end = stop
    if 8 + length + end > size:
        raise FileProblem(path, tr("is truncated: its header promises {promised} bytes, the file has {size}",
                                   promised=8 + length + end, size=size))
    if 8 + length + end < size:
        raise FileProblem(path, tr("is corrupt: its last {count} bytes belong to no tensor in its header",
                                   count=size - 8 - length - end))
    if metadata:
        outline = [tr("{count} tensors; metadata {metadata}", count=len(shapes), metadata=_metadata_text(metadata))]
    else:
        outline = [tr("{count} tensors", count=len(shapes))]
    state_dicts = [StateDict((), shapes, dtypes, nbytes, ())] if shapes else []
    return Contents(path, SAFETENSORS, state_dicts, outline)


# Tensors one safetensors header may list: a model's shard lists a few thousand; a header of
# millions would take a minute and gigabytes to parse in Python, for no model there is.
_MAX_TENSORS = 250_000
# Dimensions of one shape, as far as the bound on integers counts them (torch allows 64 at most).
_HEADER_RANK = 64
# What json.loads builds, at most, for one entry within the bounds below.
_HEADER_ENTRY_BYTES = 2048


def _header_slack(raw: bytes) -> int:
    """Brackets, quotes and numbers a header may hold beyond its entries' own (in its metadata's text, its keys)."""
    return 10_000 + len(raw) // 100


def _header_shape(path: str, raw: bytes) -> int:
    """How many entries the header may hold, bounded before it is parsed; FileProblem for a header that holds more
    containers or strings than its entries can (each has one object, two arrays, five strings)."""
    entries = raw.count(b'"data_offsets"')
    if entries > _MAX_TENSORS:
        raise FileProblem(path, tr("was refused: its header lists {entries} tensors, more than the {most} rnnshape reads "
                                   "from one file (a model's shard holds a few thousand)", entries=entries, most=_MAX_TENSORS))
    slack = _header_slack(raw)
    for symbol, per_entry, what in ((b"[", 2, tr("arrays")), (b"{", 1, tr("objects")), (b'"', 12, tr("quotation marks"))):
        count = raw.count(symbol)
        if count > per_entry * entries + 2 + slack:
            raise FileProblem(path, tr("is not safetensors: its header holds {count} {what} for {entries} tensors, "
                                       "far more than a header's entries have ({each} each)",
                                       count=count, what=what, entries=entries, each=per_entry))
    return entries


def _entry(path: str, key: str, entry: Any) -> tuple[str, list[int], int, int]:
    """dtype, shape, start, stop of one header entry; FileProblem unless each is what safetensors requires."""
    if type(entry) is dict and len(entry) == 3:  # the common case, checked quickly (parse_int refused negatives)
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if type(dtype) is str and dtype in _SAFETENSORS_DTYPES and type(shape) is list and type(offsets) is list \
                and len(offsets) == 2:
            start, stop = offsets
            if type(start) is int and type(stop) is int and start <= stop and _naturals(shape):
                return dtype, shape, start, stop
    name = _shown(key)
    if not isinstance(entry, dict):
        raise FileProblem(path, tr("is not safetensors: header entry {name} is {entry}, not {{dtype, shape, data_offsets}}",
                                   name=name, entry=_short(entry)))
    missing = [f for f in _SAFETENSORS_FIELDS if f not in entry]
    if missing:
        fields: str = missing[0]
        for more in missing[1:]:
            fields = tr("{fields} and no {field}", fields=fields, field=more)
        raise FileProblem(path, tr("is not safetensors: header entry {name} has no {fields}", name=name, fields=fields))
    if len(entry) != len(_SAFETENSORS_FIELDS):
        extra = ", ".join(_short(f) for f in itertools.islice((f for f in entry if f not in _SAFETENSORS_FIELDS), 3))
        raise FileProblem(path, tr("is not safetensors: header entry {name} has fields besides dtype, shape and data_offsets ({extra})",
                                   name=name, extra=extra))
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not (isinstance(dtype, str) and dtype in _SAFETENSORS_DTYPES):
        raise FileProblem(path, tr("is not safetensors: {name} has dtype {dtype}, none of safetensors' own ({known})",
                                   name=name, dtype=_short(dtype), known=", ".join(_SAFETENSORS_DTYPES)))
    if not (isinstance(shape, list) and _naturals(shape)):
        raise FileProblem(path, tr("is not safetensors: {name} has shape {shape}, not a list of non-negative integers",
                                   name=name, shape=_short(shape)))
    if not (isinstance(offsets, list) and len(offsets) == 2 and _naturals(offsets) and offsets[0] <= offsets[1]):
        raise FileProblem(path, tr("is not safetensors: {name} has data_offsets {offsets}, not [begin, end] with "
                                   "0 <= begin <= end, both integers", name=name, offsets=_short(offsets)))
    return dtype, shape, offsets[0], offsets[1]


def _naturals(values: list[Any]) -> bool:
    """Whether every item is an int >= 0 (not a bool, not a float)."""
    for n in values:
        if type(n) is not int or n < 0:
            return False
    return True


def _no_fraction(text: str) -> Any:
    raise ValueError(tr("{number}: a safetensors header holds integers only", number=_clip(text, 40)))


def _no_constant(name: str) -> Any:
    raise ValueError(tr("{name} is not JSON", name=name))


def _utf8(path: str, header: dict[str, Any], metadata: dict[str, str]) -> None:
    """A JSON escape can spell half a surrogate pair, which is no text: safetensors refuses it, and so does this."""
    texts = (header, metadata, metadata.values())
    try:
        "".join(itertools.chain(*texts)).encode("utf-8")  # all at once: one C call for a million keys
    except UnicodeEncodeError:
        bad = next(t for t in itertools.chain(*texts) if not _encodes(t))
        raise FileProblem(path, tr("is not safetensors: its header holds {text}, which is not valid Unicode", text=_short(bad))) from None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(key: str) -> str:
    return repr(key) if len(key) <= 80 else repr(key[:80]) + f"... ({len(key)} characters)"


def _shape(shape: list[int]) -> str:
    return shape_text(tuple(shape)) if len(shape) <= 8 and all(n.bit_length() < 64 for n in shape) else _short(shape)


def _metadata_text(metadata: dict[str, str]) -> str:
    shown = {k: v for k, v in itertools.islice(metadata.items(), 5)}
    if len(metadata) > 5:
        return tr("{shown} and {count} more", shown=_short(shown), count=len(metadata) - 5)
    return _short(shown)


def _safetensors() -> Any:
    try:
        from safetensors import safe_open
    except ImportError as exc:
        raise EnvironmentProblem(tr("reading .safetensors values needs the safetensors library ({reason}); "
                                    "install it with: pip install safetensors", reason=str(exc))) from None
    return safe_open


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
