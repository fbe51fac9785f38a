"""`rnnshape checkpoint` on hostile files: every one is answered, at once, in one line, and never wrongly.

Each hostile file is built here, in pytest's tmp_path, and its case id starts with the
class of attack it belongs to:

1. pickles whose memo shares one container over and over ("billion laughs");
2. zip members that inflate far beyond their stored size (zip bombs), or lie about it;
3. storages that claim more bytes than their record holds, views that reach past their storage;
4. safetensors headers that are not what the safetensors library accepts;
5. files of 20,000 recurrent layers;
6. paths that are not regular files (a FIFO, a pipe on /dev/stdin, a device, a socket);
7. key prefixes holding newlines and other characters a regex's `.` skips;
8. files whose reading needs more memory than allowed (exit 3, never 2).

The table is run through the CLI in-process (CliRunner) in three ways (plain, --no-run,
-f json): exit code, exactly one `error: FILE` line, no traceback, nothing on stdout when
refused. Where a real process matters (a hang, a blocked open, peak memory) the case
also runs as `python -m rnnshape checkpoint FILE` in a subprocess with a timeout. Each
guard has a control that takes it away in-process and shows the harm it prevents.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from safetensors import safe_open
from safetensors.torch import save_file
from typer.testing import CliRunner

from rnnshape import checkpoint_file, checkpoint_report, state_dict
from rnnshape.checkpoint_report import checkpoint
from rnnshape.cli import app
from rnnshape.errors import EnvironmentProblem, FileProblem

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # seconds: a hang fails the test instead of the suite


# --------------------------------------------------------------------------- running the CLI
@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0
    peak_mib: float | None = None  # the child's peak resident memory (subprocess runs only)


def invoke(path: Path | str, *args: str) -> Ran:
    """The CLI in-process: what a user sees, without paying for a new interpreter and torch's import."""
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["checkpoint", str(path), *args], prog_name="rnnshape")
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"crashed: {type(exc).__name__}: {exc}"
    return Ran(result.exit_code, result.stdout, result.stderr, time.perf_counter() - start)


# Runs `python -m rnnshape` and writes its own peak RSS (KiB) to a side file as it exits.
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the forking
# process (here a pytest worker holding torch), while VmHWM belongs to the new image alone.
_MEASURED = """
import atexit, re, runpy, sys
side = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as f:
        return re.search(r"VmHWM:\\s+(\\d+)", f.read()).group(1)
atexit.register(lambda: open(side, "w").write(peak()))
sys.argv[0] = "rnnshape"
runpy.run_module("rnnshape", run_name="__main__", alter_sys=True)
"""


def process(path: Path | str, *args: str, tmp_path: Path, stdin: int | None = subprocess.DEVNULL,
            timeout: float = TIMEOUT) -> Ran:
    """`python -m rnnshape checkpoint FILE ARGS` in a subprocess with a timeout, and its peak memory."""
    side = tmp_path / f"peak-{time.monotonic_ns()}"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _MEASURED, str(side), "checkpoint", str(path), *args], cwd=REPO,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"rnnshape checkpoint {path} {' '.join(args)} did not answer within {timeout} s")
    peak = int(side.read_text()) / 1024 if side.exists() else None
    return Ran(proc.returncode, out, err, time.perf_counter() - start, peak)


def assert_refused(ran: Ran, path: Path | str, code: int = 2, words: str = "") -> str:
    """Exit `code`, nothing on stdout, exactly one `error: FILE <path>` line on stderr, no traceback."""
    assert ran.code == code, (ran.code, ran.stdout[-500:], ran.stderr[-2000:])
    assert ran.stdout == ""
    assert "Traceback" not in ran.stderr, ran.stderr
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith(f"error: FILE {path} "), lines[0]
    assert words in lines[0], lines[0]
    return lines[0]


def assert_answered(ran: Ran, code: int = 0) -> None:
    assert ran.code == code, (ran.code, ran.stderr[-2000:])
    assert "Traceback" not in ran.stderr and "error:" not in ran.stderr, ran.stderr
    assert ran.stdout


# --------------------------------------------------------------------------- building hostile files
def gru_state(prefix: str = "rnn.", input_size: int = 3, hidden_size: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {prefix + k: v.contiguous() for k, v in torch.nn.GRU(input_size, hidden_size).state_dict().items()}


def laughs(kind: str, width: int = 10, depth: int = 30):
    """A list holding one list `width` times, `depth` levels deep (10**30 paths from a few KB), or dicts likewise."""
    node: object = [torch.zeros(2)] if kind == "list" else {"leaf": torch.zeros(2)}
    for _ in range(depth):
        node = [node] * width if kind == "list" else {str(i): node for i in range(width)}
    return node


class Storage:
    """A storage reference as a forged torch.save pickle names it: ('storage', FloatStorage, key, 'cpu', numel)."""

    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


class View:
    """Unpickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a tensor as torch.save writes one."""

    def __init__(self, storage: Storage, offset: int, size: tuple, stride: tuple):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Forger(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel) if isinstance(obj, Storage) else None


def forge(path: Path, obj, records: dict[str, bytes]) -> Path:
    """A torch.save zip archive written by hand: data.pkl pickling `obj`, and these data/ records."""
    buf = io.BytesIO()
    _Forger(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")
    return path


def floats(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


# An RNN of input 1, hidden 9 whose weight_hh (81 floats) claims a storage of 81 floats that
# its record holds 9 of; the next record is 0x7f bytes (3.4e38 as float32), for reads past the end to find.
def storage_beyond_record(path: Path) -> Path:
    return forge(path, {"rnn.weight_ih_l0": View(Storage("0", 9), 0, (9, 1), (1, 1)),
                        "rnn.weight_hh_l0": View(Storage("1", 81), 0, (9, 9), (9, 1))},
                 {"0": floats(*range(9)), "1": floats(*range(9)), "2": b"\x7f" * 4096})


def view_of(size: tuple, stride: tuple, offset: int = 0, numel: int = 9, key: str = "1") -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        return forge(path, {"rnn.weight_ih_l0": View(Storage("0", 3), 0, (3, 1), (1, 1)),
                            "rnn.weight_hh_l0": View(Storage(key, numel), offset, size, stride)},
                     {"0": floats(1, 2, 3), "1": floats(*range(9))})
    return build


def rewritten(path: Path, change: Callable[[str, bytes], bytes | None], compress: int = zipfile.ZIP_STORED,
              extra: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """A torch.save zip of a GRU, rewritten member by member (change returns new bytes, or None to drop one)."""
    torch.save(gru_state(), path)
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            data = change(info.filename, data)
            if data is not None:
                z.writestr(zipfile.ZipInfo(info.filename), data, compress_type=compress)
        for name, (data, kind) in (extra or {}).items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=kind)
    return path


def zip_bomb_pickle(path: Path) -> Path:
    """data.pkl is a real pickle followed by 64 MiB of zeros, deflated: torch would inflate it all into memory."""
    pad = b"\0" * (64 * 2**20)
    return rewritten(path, lambda name, data: data + pad if name.endswith("data.pkl") else data, zipfile.ZIP_DEFLATED)


def zip_bomb_member(path: Path) -> Path:
    return rewritten(path, lambda name, data: data,
                     extra={"model/extra": (b"\0" * (64 * 2**20), zipfile.ZIP_DEFLATED)})


def patched_directory(field_offset: int, value: int, member: str = "data.pkl") -> Callable[[Path], Path]:
    """The central directory's record of `member` with one 4-byte field set to `value` (sizes that lie)."""
    def build(path: Path) -> Path:
        torch.save(gru_state(), path)
        data = bytearray(path.read_bytes())
        at = data.rfind(b"PK\x01\x02", 0, data.rfind(member.encode()))
        struct.pack_into("<I", data, at + field_offset, value)
        path.write_bytes(bytes(data))
        return path
    return build


def truncated_record(path: Path) -> Path:
    """A real GRU whose weight_hh record lost its second half (the pickle still claims all of it)."""
    return rewritten(path, lambda name, data: data[: len(data) // 2] if name.endswith("data/1") else data)


def legacy_numel(path: Path) -> Path:
    """A legacy torch.save file whose pickle claims 90 elements of a 6-element storage."""
    torch.save({"w": torch.ones(3, 2)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    at = data.index(b"K\x06", data.index(b"cpu"))
    data = data[:at] + b"K\x5a" + data[at + 2:]
    path.write_bytes(data.replace(b"K\x03K\x02\x86", b"K\x1eK\x03\x86").replace(b"K\x02K\x01\x86", b"K\x03K\x01\x86"))
    return path


def safetensors_with(header: bytes | dict, data: bytes = b"\0" * 8) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        raw = header if isinstance(header, bytes) else json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
        return path
    return build


def entry(dtype="F32", shape=(2,), offsets=(0, 8)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def many_layers(count: int, fmt: str = "safetensors") -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        weights = torch.zeros(6, 2)
        state = {}
        for i in range(count):
            state[f"l{i}.weight_ih_l0"], state[f"l{i}.weight_hh_l0"] = weights.clone(), weights.clone()
        save_file(state, str(path)) if fmt == "safetensors" else torch.save(state, path)
        return path
    return build


def sparse_safetensors(path: Path, big: int = 2**30) -> Path:
    """A GRU and a 1 GiB embedding, the embedding a hole in the file: reading it would page in 1 GiB."""
    header, blobs, offset = {}, [], 0
    for key, tensor in gru_state().items():
        data = bytes(tensor.untyped_storage())
        header[key] = entry("F32", tensor.shape, (offset, offset + len(data)))
        blobs.append(data)
        offset += len(data)
    header["embed.weight"] = entry("F32", (big // 4,), (offset, offset + big))
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
        f.truncate(8 + len(raw) + offset + big)
    return path


class _Holes(io.FileIO):
    """A file that skips (leaves a hole for) every large write of zeros: a 1 GiB member costs no disk."""

    def write(self, data) -> int:
        if len(data) >= 2**20 and bytes(data).count(0) == len(data):
            self.seek(len(data), os.SEEK_CUR)
            return len(data)
        return super().write(data)


def sparse_torch_zip(path: Path, big: int = 2**30) -> Path:
    """A torch zip with a GRU and a 1 GiB embedding stored (as torch.save stores it), the embedding a hole."""
    state = gru_state()
    obj, records = {}, {}
    for i, (key, tensor) in enumerate(state.items()):
        obj[key] = View(Storage(str(i), tensor.numel()), 0, tuple(tensor.shape), tuple(tensor.stride()))
        records[str(i)] = bytes(tensor.untyped_storage())
    obj["embed.weight"] = View(Storage("big", big // 4), 0, (big // 4,), (1,))
    buf = io.BytesIO()
    _Forger(buf, protocol=2).dump(obj)
    zeros = bytes(64 * 2**20)
    with _Holes(path, "w") as f, zipfile.ZipFile(f, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data)
        with z.open(zipfile.ZipInfo("archive/data/big"), "w", force_zip64=True) as member:
            for _ in range(big // len(zeros)):
                member.write(zeros)
        z.writestr("archive/version", "3\n")
    return path


def keys_with_newlines(path: Path) -> Path:
    state = {**gru_state("enc\nx."), **{"cell\r\u2028." + k: v for k, v in torch.nn.LSTMCell(2, 3).state_dict().items()}}
    torch.save(state, path)
    return path


# --------------------------------------------------------------------------- the table
@dataclass
class Case:
    id: str  # "<class>-<what>"
    build: Callable[[Path], Path]
    code: int = 2  # exit code of a plain run
    words: str = ""  # in the one error line
    no_run_code: int | None = None  # exit code with --no-run (default: as a plain run)
    name: str = "model.pt"
    process: bool = False  # also run in a real subprocess (a hang, a blocked open, peak memory)
    args: tuple[str, ...] = ()
    peak_mib: float | None = None  # the subprocess's peak memory must stay below this
    stdout_has: str = ""  # in a successful answer's stdout
    modes: tuple[tuple[str, ...], ...] = ((), ("--no-run",), ("-f", "json"))  # after args
    library_accepts: bool = False  # safetensors: a file the library reads, refused here by a bound of rnnshape's own

    @property
    def klass(self) -> int:
        return int(self.id.split("-")[0])


def _build_laughs(kind: str, legacy: bool, with_rnn: bool = False) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        obj = {"laughs": laughs(kind), **(gru_state() if with_rnn else {})}
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        assert path.stat().st_size < 20_000  # a few KB, 10**30 paths
        return path
    return build


def shared_tuple(depth: int) -> bytes:
    """Pickle opcodes that build a tuple of ten references to one tuple, `depth` levels deep: a few bytes a level."""
    if depth == 0:
        return b")"
    return b"(" + shared_tuple(depth - 1) + b"q" + bytes([depth]) + (b"h" + bytes([depth])) * 9 + b"t"


def hash_bomb(depth: int, legacy: bool = False) -> Callable[[Path], Path]:
    """A torch.save file whose pickle is {that tuple: 1}: putting the key in the dict hashes it, 10**depth steps."""
    def build(path: Path) -> Path:
        pickled = b"\x80\x02}" + shared_tuple(depth) + b"K\x01s."
        torch.save({"a": torch.zeros(1)}, path, _use_new_zipfile_serialization=not legacy)
        if legacy:  # the fourth of the five pickles a legacy file begins with is the object
            import pickletools

            data, stream, ends = path.read_bytes(), None, []
            stream = io.BytesIO(data)
            for _ in range(4):
                for _ in pickletools.genops(stream):
                    pass
                ends.append(stream.tell())
            path.write_bytes(data[:ends[2]] + pickled + data[ends[3]:])
        else:
            rewritten_members(path, {"data.pkl": pickled})
        assert path.stat().st_size < 20_000
        return path
    return build


def rewritten_members(path: Path, new: dict[str, bytes]) -> None:
    """The zip at `path` with the members whose names end in a key of `new` replaced."""
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, next((v for k, v in new.items() if name.endswith(k)), data))


_SHARED = "appears in more than 8 places"
_ST = "model.safetensors"

CASES = [
    # 1. billion laughs: answered (exit 0) with a note, the shared containers searched once each
    Case("1-list-laughs-zip", _build_laughs("list", legacy=False), 0, process=True, stdout_has=_SHARED),
    Case("1-list-laughs-legacy", _build_laughs("list", legacy=True), 0, process=True, stdout_has=_SHARED),
    Case("1-dict-laughs-zip", _build_laughs("dict", legacy=False), 0, stdout_has=_SHARED),
    Case("1-dict-laughs-legacy", _build_laughs("dict", legacy=True), 0, stdout_has=_SHARED),
    Case("1-laughs-beside-a-gru", _build_laughs("list", legacy=False, with_rnn=True), 0, stdout_has="nn.GRU"),
    Case("1-shared-tuple-as-a-dict-key-zip", hash_bomb(30), words="pickle bomb", process=True),
    Case("1-shared-tuple-as-a-dict-key-legacy", hash_bomb(30, legacy=True), words="pickle bomb", process=True),
    Case("1-shared-tuple-4-deep-is-fine", hash_bomb(4), 0, stdout_has="int 1"),
    # 2. zip bombs and zips that lie about their members
    Case("2-data-pkl-inflates-1000-fold", zip_bomb_pickle, words="zip bomb", process=True, peak_mib=400),
    Case("2-extra-member-inflates-1000-fold", zip_bomb_member, words="zip bomb"),
    Case("2-stored-member-claims-4GiB", patched_directory(24, 2**32 - 2), words="says it holds"),
    Case("2-member-reaches-past-the-end", patched_directory(20, 2**31), words="past the end of the file"),
    Case("2-honest-deflated-archive", lambda p: rewritten(p, lambda n, d: d, zipfile.ZIP_DEFLATED), 0, stdout_has="nn.GRU"),
    # 3. storages longer than their records, views beyond their storages
    Case("3-storage-claims-10x-its-record", storage_beyond_record, words="its record holds 36 bytes", process=True),
    Case("3-record-cut-in-half", truncated_record, words="its record holds"),
    Case("3-record-missing", view_of((3, 1), (1, 1), key="7"), words="which the archive does not hold"),
    Case("3-stride-past-the-storage", view_of((3, 1), (100, 1)), words="past the end of its storage"),
    Case("3-offset-past-the-storage", view_of((3, 1), (1, 1), offset=7), words="past the end of its storage"),
    Case("3-negative-stride", view_of((3, 1), (-1, 1)), words="negative"),
    Case("3-stride-0-is-fine", view_of((3, 1), (0, 0)), 0, stdout_has="nn.GRU"),
    Case("3-legacy-numel-beyond-its-data", legacy_numel, words="differs from what its pickle says"),
    # 4. safetensors headers
    Case("4-shape-1e400", safetensors_with(b'{"w": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 8]}}'), name=_ST, words="integers only"),
    Case("4-offset-a-string", safetensors_with({"w": entry(offsets=(0, "8"))}), name=_ST, words="data_offsets"),
    Case("4-offsets-strings", safetensors_with({"w": entry(offsets=("6", "4"))}), name=_ST, words="data_offsets"),
    Case("4-offsets-floats", safetensors_with(b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [6.5, 4]}}'), name=_ST, words="integers only"),
    Case("4-offsets-backwards", safetensors_with({"w": entry(offsets=(8, 0))}), name=_ST, words="0 <= begin <= end"),
    Case("4-json-100000-deep", safetensors_with(b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), name=_ST, words="arrays"),
    Case("4-json-5000-deep", safetensors_with(b'{"w": ' + b"[" * 5000 + b"]" * 5000 + b"}"), name=_ST, words="nests deeper"),
    Case("4-shape-negative", safetensors_with(b'{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}'), name=_ST, words="never negative"),
    Case("4-shape-bool", safetensors_with(b'{"w": {"dtype": "F32", "shape": [true, 2], "data_offsets": [0, 8]}}'), name=_ST, words="shape"),
    Case("4-offsets-overlap", safetensors_with({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, b"\0" * 12), name=_ST, words="overlap"),
    Case("4-offsets-leave-a-gap", safetensors_with({"a": entry(offsets=(4, 12))}, b"\0" * 12), name=_ST, words="before it that no tensor holds"),
    Case("4-bytes-after-the-last-tensor", safetensors_with({"a": entry()}, b"\0" * 12), name=_ST, words="belong to no tensor"),
    Case("4-metadata-a-list", safetensors_with({"__metadata__": ["x"], "w": entry()}), name=_ST, words="__metadata__"),
    Case("4-metadata-a-number", safetensors_with({"__metadata__": {"epoch": 3}, "w": entry()}), name=_ST, words="__metadata__"),
    Case("4-dtype-not-safetensors", safetensors_with({"w": entry(dtype="float32")}), name=_ST, words="none of safetensors' own"),
    Case("4-dtype-a-list", safetensors_with({"w": entry(dtype=["F32"])}), name=_ST, words="dtype"),
    Case("4-entry-not-an-object", safetensors_with({"w": [1, 2]}), name=_ST, words="not {dtype, shape, data_offsets}"),
    Case("4-entry-with-an-extra-field", safetensors_with({"w": {**entry(), "x": 1}}), name=_ST, words="fields besides", library_accepts=True),
    Case("4-entry-missing-a-field", safetensors_with({"w": {"dtype": "F32", "shape": [2]}}), name=_ST, words="has no data_offsets"),
    Case("4-nan", safetensors_with(b'{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 8]}}'), name=_ST, words="not JSON"),
    Case("4-lone-surrogate-key", safetensors_with(b'{"\\ud800": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'), name=_ST, words="not valid Unicode"),
    Case("4-int-of-5000-digits", safetensors_with(b'{"w": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 8]}}'), name=_ST, words="not JSON"),
    Case("4-shape-of-10**30-elements", safetensors_with({"w": entry(shape=(10**15, 10**15))}), name=_ST, words="its offsets give 8"),
    Case("4-header-not-utf8", safetensors_with(b'{"w\xff": 1}'), name=_ST, words="not UTF-8"),
    Case("4-300000-empty-arrays", safetensors_with(b'{"w": {"dtype": "F32", "shape": [' + b",".join([b"[]"] * 300_000) + b'], "data_offsets": [0, 8]}}'), name=_ST, words="arrays"),
    Case("4-shape-of-400000-dims", safetensors_with(b'{"w": {"dtype": "F32", "shape": [' + b",".join([b"1"] * 400_000) + b'], "data_offsets": [0, 8]}}'), name=_ST, words="more integers"),
    Case("4-260000-tensors", safetensors_with(b"{" + b",".join(b'"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}' % i for i in range(260_000)) + b"}", b""), name=_ST, words="260000 tensors", process=True, peak_mib=400, library_accepts=True),
    # 5. 20,000 recurrent layers: a run is refused at once; --no-run lists them all
    Case("5-20000-grus-safetensors", many_layers(20_000), words="holds 20000 recurrent layers", name=_ST, process=True,
         modes=((), ("-f", "json"))),  # --no-run: test_20000_layers_are_found_and_listed_without_running
    Case("5-101-grus-one-over-the-cap", many_layers(101), words="--layer NAME (the first is 'l0')", no_run_code=0, name=_ST),
    # 7. prefixes holding newlines and line separators: found, and named exactly as the keys have them
    Case("7-newline-and-u2028-prefixes", keys_with_newlines, 0, stdout_has="nn.LSTMCell"),
    # 8. not enough memory: exit 3, decided before a value is read
    Case("8-72MiB-gru-over-64MiB-safetensors", lambda p: _big_gru(p, "safetensors"), 3, "is not read: --max-memory: reading layer 'rnn'",
         no_run_code=0, name=_ST, process=True, args=("--max-memory", "64MiB"), peak_mib=300),
    Case("8-72MiB-gru-over-64MiB-torch-zip", lambda p: _big_gru(p, "zip"), 3, "is not read: --max-memory: reading layer 'rnn'",
         no_run_code=0, args=("--max-memory", "64MiB")),
    Case("8-72MiB-gru-over-64MiB-legacy", lambda p: _big_gru(p, "legacy"), 3, "legacy format is read whole", args=("--max-memory", "64MiB")),
    Case("8-1GiB-safetensors-small-gru", sparse_safetensors, 0, no_run_code=0, name=_ST, process=True, args=("--max-memory", "256MiB"), peak_mib=700, stdout_has="nn.GRU"),
    Case("8-1GiB-torch-zip-small-gru", sparse_torch_zip, 0, no_run_code=0, process=True, args=("--max-memory", "256MiB"), peak_mib=700, stdout_has="nn.GRU"),
]


def _big_gru(path: Path, fmt: str) -> Path:
    state = {"rnn." + k: v for k, v in torch.nn.GRU(1024, 2048).state_dict().items()}  # 72 MiB
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path, _use_new_zipfile_serialization=fmt == "zip")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file(tmp_path, case):
    path = case.build(tmp_path / case.name)
    for args in ((*case.args, *mode) for mode in case.modes):
        code = case.no_run_code if "--no-run" in args and case.no_run_code is not None else case.code
        ran = invoke(path, *args)
        if code in (2, 3):
            assert_refused(ran, path, code, case.words)
        else:
            assert_answered(ran, code)
            if "json" in args:
                json.loads(ran.stdout)
            elif case.stdout_has and "--no-run" not in args:
                assert case.stdout_has in ran.stdout.replace("\n  ", " "), ran.stdout[-2000:]
    if case.process:
        ran = process(path, *case.args, tmp_path=tmp_path)
        if case.code in (2, 3):
            assert_refused(ran, path, case.code, case.words)
        else:
            assert_answered(ran, case.code)
        if case.peak_mib is not None:
            assert ran.peak_mib is not None and ran.peak_mib < case.peak_mib, (ran.peak_mib, case.peak_mib)


# --------------------------------------------------------------------------- 1. controls and details
def test_laughs_without_the_bound_would_walk_every_path():
    """The control: with the walk's bounds taken away, a small laughing pickle makes 3**10 state_dicts of one."""
    obj = laughs("dict", width=3, depth=10)
    bounded, notes = checkpoint_file._walk(torch, obj)
    assert len(bounded) <= checkpoint_file._MAX_ALIASES and notes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoint_file, "_MAX_ALIASES", 10**9)
        mp.setattr(checkpoint_file, "_MAX_DEPTH", 100)
        unbounded, _ = checkpoint_file._walk(torch, obj)
    assert len(unbounded) == 3**10  # the same leaf found at every path: 10 levels more and it never ends


def test_a_shared_tuple_costs_ten_times_more_to_hash_each_level():
    """The control for the dict-key bomb: torch.load hashes what the pickle builds, and each level is 10x the work."""
    def tuple_of(depth):
        return pickle.loads(b"\x80\x02" + shared_tuple(depth) + b".")

    def seconds(depth):
        key, best = tuple_of(depth), float("inf")
        for _ in range(3):
            start = time.perf_counter()
            hash(key)
            best = min(best, time.perf_counter() - start)
        return best

    assert seconds(6) > 4 * seconds(5)  # 30 levels: 10**24 times level 6's
    with pytest.raises(FileProblem, match="pickle bomb"):
        checkpoint_file._shared_tuples("x", b"\x80\x02}" + shared_tuple(6) + b"K\x01s.")
    checkpoint_file._shared_tuples("x", b"\x80\x02}" + shared_tuple(4) + b"K\x01s.")


def test_a_state_dict_saved_twice_is_found_at_both_places(tmp_path):
    sd = gru_state("")
    torch.save({"model": sd, "ema": sd}, tmp_path / "model.pt")  # torch.save keeps the sharing
    report = checkpoint(tmp_path / "model.pt", run=False)
    assert [layer.name for layer in report.layers] == ["model", "ema"]
    assert not report.notes


def test_walk_stops_after_max_nodes_and_says_so(monkeypatch):
    monkeypatch.setattr(checkpoint_file, "_MAX_NODES", 1000)
    found, notes = checkpoint_file._walk(torch, {"a": list(range(2000)), "b": gru_state()})
    assert notes and "1000 entries" in notes[0]


# --------------------------------------------------------------------------- 2. controls
def test_zip_bomb_is_what_the_guard_refuses(tmp_path, monkeypatch):
    path = zip_bomb_pickle(tmp_path / "model.pt")
    with pytest.raises(FileProblem, match="zip bomb"):
        checkpoint(path, run=False)
    with zipfile.ZipFile(path) as z:  # the bomb is real: 64 MiB from a few KB
        info = z.getinfo("model/data.pkl")
        assert info.file_size > 1000 * info.compress_size
    monkeypatch.setattr(checkpoint_file, "_MAX_INFLATION", 10**9)
    monkeypatch.setattr(checkpoint_file, "_SMALL_MEMBER", 10**12)
    checkpoint(path, run=False)  # without the guard, every byte of it is inflated and read


def test_a_deflated_archive_is_read_into_memory_not_mapped(tmp_path):
    """torch.load(mmap=True) maps a deflated record as it lies on disk, and reads its compressed bytes as numbers."""
    original, deflated = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save(gru_state(), original)
    rewritten(deflated, lambda name, data: data, zipfile.ZIP_DEFLATED)
    mapped = torch.load(deflated, weights_only=True, mmap=True)
    assert not torch.equal(mapped["rnn.weight_hh_l0"], gru_state()["rnn.weight_hh_l0"])  # the control: wrong numbers
    means = [{p.name: p.mean for p in checkpoint(path).layers[0].report.observation.parameters} for path in (original, deflated)]
    assert means[0] == means[1]


# --------------------------------------------------------------------------- 3. controls
def test_without_the_scan_a_storage_beyond_its_record_reads_the_next_one(tmp_path, monkeypatch):
    path = storage_beyond_record(tmp_path / "model.pt")
    with pytest.raises(FileProblem, match="its record holds 36 bytes"):
        checkpoint(path)
    monkeypatch.setattr(checkpoint_file, "_scan_torch_pickle", lambda *args: None)
    report = checkpoint(path)  # the harm: exit 0, with values read from beyond the record
    (layer,) = report.layers
    assert max(p.max for p in layer.report.observation.parameters) > 1e38


def test_a_view_past_its_storage_is_refused_by_the_scan_before_torch(tmp_path, monkeypatch):
    path = view_of((3, 1), (100, 1))(tmp_path / "model.pt")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on a file the scan refuses"))
    with pytest.raises(FileProblem, match="reaches element 200, past the end of its storage data/1 \\(9 elements\\)"):
        checkpoint(path, run=False)


def test_the_scan_runs_no_code(tmp_path):
    """The scan reads the pickle with every global an inert stub: os.system is named, never called."""
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    forge(tmp_path / "model.pt", {"x": Evil(), "rnn.weight_ih_l0": View(Storage("0", 3), 0, (3, 1), (1, 1))}, {"0": floats(1, 2, 3)})
    with pytest.raises(FileProblem, match="would call posix.mkdir"):
        checkpoint(tmp_path / "model.pt")
    assert not marker.exists()


# --------------------------------------------------------------------------- 4. the same validation for --no-run and a run
SAFETENSORS_CASES = [c for c in CASES if c.klass == 4]


def library_reads(path: Path) -> bool:
    try:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                handle.get_tensor(key)
    except Exception:  # noqa: BLE001 -- whatever the library refuses with
        return False
    return True


@pytest.mark.parametrize("case", SAFETENSORS_CASES, ids=[c.id for c in SAFETENSORS_CASES])
def test_no_run_never_accepts_what_the_library_refuses(tmp_path, case):
    """Every header refused here is refused by the safetensors library too (the control: these headers are bad),
    but for the bounds rnnshape adds (an entry's unknown field, more than 250,000 tensors), refused in both modes."""
    path = case.build(tmp_path / case.name)
    for run in (False, True):
        with pytest.raises(FileProblem):
            checkpoint(path, run=run)
    assert library_reads(path) is case.library_accepts


def test_what_the_library_accepts_is_accepted(tmp_path):
    """And the reverse, for what safetensors writes: empty, zero-sized, every dtype torch shares with it."""
    state = {"rnn." + k: v for k, v in torch.nn.GRU(2, 3).state_dict().items()}
    extras = {"z": torch.zeros(0, 5), "b": torch.zeros(3, dtype=torch.bool), "h": torch.zeros(2, dtype=torch.bfloat16),
              "c": torch.zeros(2, dtype=torch.complex64), "u": torch.zeros(2, dtype=torch.uint8)}
    save_file({**state, **extras}, str(tmp_path / _ST), metadata={"format": "pt"})
    for run in (False, True):
        assert [layer.name for layer in checkpoint(tmp_path / _ST, run=run).layers] == ["rnn"]


def test_a_header_near_100MB_answers_in_a_few_seconds(tmp_path):
    """240,000 entries with long keys: 97 MB of header, the most rnnshape reads; table format, in a real process."""
    pad = b"x" * 330
    body = b",".join(b'"%s.t%07d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}' % (pad, i) for i in range(240_000))
    path = safetensors_with(b"{" + body + b"}", b"")(tmp_path / _ST)
    assert path.stat().st_size > 90_000_000
    ran = process(path, tmp_path=tmp_path)
    assert_answered(ran)
    assert "240000 tensors" in ran.stdout
    print(f"97 MB header, table: {ran.seconds:.1f} s, peak {ran.peak_mib:.0f} MiB")
    assert ran.seconds < 20 and ran.peak_mib < 1500


# --------------------------------------------------------------------------- 5. many layers
def test_20000_layers_are_found_and_listed_without_running(tmp_path):
    # One process does all of it (the header read, every layer found, 20,000 configs in JSON): what a user waits for.
    path = many_layers(20_000)(tmp_path / _ST)
    ran = process(path, "--no-run", "-f", "json", tmp_path=tmp_path)
    assert_answered(ran)
    print(f"20,000 layers, --no-run -f json: {ran.seconds:.1f} s")
    layers = json.loads(ran.stdout)["layers"]
    assert len(layers) == 20_000 and layers[19_999]["config"]["hidden_size"] == 2
    assert ran.seconds < 40  # (--layer among thousands: test_an_unknown_layer_among_thousands_...)


def test_each_layer_has_a_dict_of_its_own(tmp_path):
    data = checkpoint(many_layers(3)(tmp_path / _ST), run=False).to_dict()
    data["layers"][0]["config"]["hidden_size"] = 99  # copies made for speed must still be copies
    assert data["layers"][1]["config"]["hidden_size"] == 2


def test_the_cap_is_what_refuses(tmp_path, monkeypatch):
    path = many_layers(101)(tmp_path / _ST)
    with pytest.raises(FileProblem, match="holds 101 recurrent layers"):
        checkpoint(path)
    monkeypatch.setattr(checkpoint_report, "MAX_RUN_LAYERS", 1000)
    assert len(checkpoint(path).layers) == 101  # the control: without the cap, every one is built and run


def test_an_unknown_layer_among_thousands_is_refused_in_one_short_line(tmp_path):
    path = many_layers(5000)(tmp_path / _ST)
    ran = invoke(path, "--layer", "nope")
    assert ran.code == 2 and len(ran.stderr.splitlines()) == 1
    assert "and 4990 more (--no-run lists them all)" in ran.stderr and len(ran.stderr) < 1000
    (one,) = checkpoint(path, layer="l1234").layers  # and a known one is the one run
    assert one.values_read and one.name == "l1234"


def test_a_key_naming_layer_9999_is_not_enumerated():
    shapes = {f"g{i}.weight_ih_l9999": (3, 2) for i in range(2000)}
    shapes.update({f"g{i}.weight_hh_l0": (3, 1) for i in range(2000)})
    shapes.update({f"g{i}.weight_ih_l0": (3, 2) for i in range(2000)})
    start = time.perf_counter()
    found = state_dict.find(shapes)
    assert time.perf_counter() - start < 5
    assert all(f.spec is None and "missing" in f.problems[0] for f in found)


# --------------------------------------------------------------------------- 6. not a regular file
PIPE_WORDS = "not a regular file: save the checkpoint to a file first (rnnshape memory-maps what it reads)"


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "model.pt"
    os.mkfifo(fifo)
    # The control: opening it for reading blocks until a writer comes (none ever would).
    opened = threading.Event()
    reader = threading.Thread(target=lambda: (open(fifo, "rb").close(), opened.set()), daemon=True)
    reader.start()
    assert not opened.wait(0.5)
    with open(fifo, "wb"):  # let the reader go
        pass
    reader.join(5)
    line = assert_refused(process(fifo, tmp_path=tmp_path, timeout=30), fifo)
    assert line == f"error: FILE {fifo} is a pipe, {PIPE_WORDS}"
    for args in ((), ("--no-run",), ("-f", "json")):
        assert_refused(invoke(fifo, *args), fifo, words=PIPE_WORDS)


def test_stdin_that_never_ends_is_refused_at_once(tmp_path):
    """`sleep 30 | rnnshape checkpoint /dev/stdin`: the pipe is open and silent for as long as the test lasts."""
    read_end, write_end = os.pipe()  # the write end stays open, silent, until the answer came
    try:
        ran = process("/dev/stdin", tmp_path=tmp_path, stdin=read_end, timeout=30)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert_refused(ran, "/dev/stdin", words="is a pipe, " + PIPE_WORDS)
    assert ran.seconds < 25


def test_a_checkpoint_piped_to_stdin_is_refused_with_the_way_out(tmp_path):
    """`cat good.pt | rnnshape checkpoint /dev/stdin`: not "empty", but a pipe, and what to do."""
    good = tmp_path / "good.pt"
    torch.save(gru_state(), good)
    read_end, write_end = os.pipe()
    assert os.write(write_end, good.read_bytes()) == good.stat().st_size  # a few KB: the pipe's buffer holds it all
    os.close(write_end)
    try:
        ran = process("/dev/stdin", tmp_path=tmp_path, stdin=read_end)
    finally:
        os.close(read_end)
    assert_refused(ran, "/dev/stdin", words="is a pipe, " + PIPE_WORDS)


def test_stdin_redirected_from_a_file_is_read(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(gru_state(), good)
    with open(good, "rb") as f:
        ran = process("/dev/stdin", "-f", "json", tmp_path=tmp_path, stdin=f.fileno())
    assert_answered(ran)
    assert [layer["name"] for layer in json.loads(ran.stdout)["layers"]] == ["rnn"]


@pytest.mark.parametrize("kind", ["character device", "socket"])
def test_devices_and_sockets_are_refused(tmp_path, kind):
    if kind == "socket":
        path = tmp_path / "s"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path, server = Path("/dev/null"), None
    try:
        for args in ((), ("--no-run",), ("-f", "json")):
            assert_refused(invoke(path, *args), path, words=f"is a {kind}, {PIPE_WORDS}")
    finally:
        if server is not None:
            server.close()


# --------------------------------------------------------------------------- 7. any characters in a prefix
def test_prefixes_with_newlines_are_found_and_named_exactly(tmp_path):
    path = keys_with_newlines(tmp_path / "model.pt")
    for run in (False, True):
        report = checkpoint(path, run=run)
        assert [layer.name for layer in report.layers] == ["enc\nx", "cell\r\u2028"]
        assert [layer.found.prefix for layer in report.layers] == ["enc\nx.", "cell\r\u2028."]
    data = json.loads(invoke(path, "-f", "json").stdout)
    assert [layer["name"] for layer in data["layers"]] == ["enc\nx", "cell\r\u2028"]
    assert data["layers"][0]["parameters"][0]["key"] == "enc\nx.weight_ih_l0"
    assert [layer.name for layer in checkpoint(path, layer="enc\nx").layers] == ["enc\nx"]
    # safetensors keys are JSON strings: the same names come from the header, without torch
    save_file(gru_state("a\nb."), str(tmp_path / _ST))
    assert [layer.name for layer in checkpoint(tmp_path / _ST, run=False).layers] == ["a\nb"]


def test_a_trailing_newline_is_part_of_the_key():
    shapes = {k: tuple(v.shape) for k, v in gru_state().items()}
    shapes["rnn.weight_hh_l0\n"] = shapes["rnn.weight_hh_l0"]  # `$` would match before that newline
    (layer,) = state_dict.find(shapes)
    assert layer.spec is not None and "rnn.weight_hh_l0\n" not in layer.keys


def test_the_old_regex_loses_a_layer_whose_prefix_holds_a_newline(monkeypatch):
    """The control: `^(.*?)...$` with re.match, as before, never sees the layer."""
    import re

    shapes = {k: tuple(v.shape) for k, v in gru_state("enc\nx.").items()}
    assert [f.name for f in state_dict.find(shapes)] == ["enc\nx"]
    old = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
    monkeypatch.setattr(state_dict, "_LAYER_KEY", old)
    assert state_dict.find(shapes) == []


# --------------------------------------------------------------------------- 8. memory
def test_not_enough_memory_is_decided_before_any_value_is_read(tmp_path, monkeypatch):
    path = tmp_path / _ST
    save_file({**gru_state("rnn.", 64, 128), "embed.weight": torch.zeros(1000, 64)}, str(path))
    read: list[str] = []
    real = checkpoint_file._safetensors()

    @contextlib.contextmanager
    def recording(*args, **kwargs):
        with real(*args, **kwargs) as handle:
            class Handle:
                def get_tensor(self, key):
                    read.append(key)
                    return handle.get_tensor(key)
            yield Handle()

    monkeypatch.setattr(checkpoint_file, "_safetensors", lambda: recording)
    monkeypatch.setattr(checkpoint_file.memory, "available_bytes", lambda: 1_000_000)
    with pytest.raises(EnvironmentProblem, match="is not read: --device cpu: reading layer 'rnn'"):
        checkpoint(path)
    assert read == []
    ran = invoke(path)
    assert_refused(ran, path, code=3, words="976.6 KiB is available")  # exit 3, one line naming the FILE
    assert_answered(invoke(path, "--no-run"))  # nothing to read, nothing refused
    # The control: without the estimate, the layer's tensors are read, whatever the machine has.
    monkeypatch.setattr(checkpoint_report, "_refuse_if_too_big", lambda *args: None)
    checkpoint(path)
    assert sorted(read) == sorted(gru_state())


def test_only_the_chosen_layers_count(tmp_path, monkeypatch):
    """A file with a large layer and a small one: --layer small fits where the whole file does not."""
    from rnnshape import theory

    # Without the fixed part every run pays (torch's kernels, OpenMP, oneDNN's code), a few
    # MiB tell the two layers apart.
    monkeypatch.setattr(theory, "RUN_FIXED_BYTES", 0)
    monkeypatch.setattr(checkpoint_report, "_READ_FIXED_BYTES", 0)
    path = tmp_path / _ST
    save_file({**gru_state("small."), **{"big." + k: v for k, v in torch.nn.GRU(256, 512).state_dict().items()}}, str(path))
    with pytest.raises(EnvironmentProblem, match="reading layer 'big'"):
        checkpoint(path, max_memory=4 * 2**20)
    assert [layer.name for layer in checkpoint(path, layer="small", max_memory=4 * 2**20).layers] == ["small"]


def test_unpickling_estimate_refuses_a_pickle_of_empty_sets(tmp_path, monkeypatch):
    """A pickle of 10 million empty sets is 10 MB and would take 2.4 GB: refused before it is unpickled."""
    path = forge(tmp_path / "model.pt", {}, {})
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members["archive/data.pkl"] = b"\x80\x04(" + b"\x8f" * 10_000_000 + b"l."
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    needed = checkpoint_file._unpickled_bytes(members["archive/data.pkl"])
    assert needed > 2.4e9
    with pytest.raises(EnvironmentProblem, match="unpickling its"):
        checkpoint(path, max_memory=10**9)
