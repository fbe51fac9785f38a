"""`rnnshape checkpoint FILE` on hostile, broken and unusual files, end to end.

Covers: pickles that would run code (torch zip and legacy formats) are refused and
never run, while the same files do run their payload under torch.load(weights_only=False);
every kind of bad file (empty, truncated, foreign, missing, a directory) gives exit 2 and
one `error: FILE` line, never a traceback; files with no recurrent layer list what they
hold; safetensors headers are read without torch (--no-run) and refusals need no torch;
only the recurrent layers' tensors are read from a safetensors file, and without numpy;
a `.bin` file is sniffed by its bytes, whichever library wrote it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shlex
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

from safetensors.torch import save_file

import rnnshape.checkpoint_file
from rnnshape.checkpoint_report import checkpoint

REPO = Path(__file__).resolve().parents[1]


def cli(path: Path | str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnshape", "checkpoint", str(path), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def python(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def assert_refused(proc: subprocess.CompletedProcess, path: Path | str) -> str:
    """Exit 2, nothing on stdout, exactly one `error: FILE <path>` line on stderr; returns that line."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: FILE {path} "), lines[0]
    return lines[0]


def lstm_state_dict(prefix: str = "", *args, **kwargs) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    module = torch.nn.LSTM(*(args or (3, 4)), **kwargs)
    return {prefix + key: value.contiguous() for key, value in module.state_dict().items()}


# --------------------------------------------------------------------------- code in pickles
class Evil:
    """Unpickles as a call of `fn(arg)`: what a hostile checkpoint does."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def evil(payload: str, marker: Path) -> Evil:
    # os.system needs a shell; os.mkdir does not. Either leaves `marker` behind if it runs.
    return Evil(os.system, f"touch {shlex.quote(str(marker))}") if payload == "system" else Evil(os.mkdir, str(marker))


@pytest.mark.parametrize("payload", ["system", "mkdir"])
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_pickle_that_would_call_code_is_refused_and_never_runs(tmp_path, fmt, payload):
    marker, path = tmp_path / "marker", tmp_path / "model.pt"
    if fmt == "zip":
        torch.save({"model": {"rnn.weight_ih_l0": torch.zeros(4, 3)}, "x": evil(payload, marker)}, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(evil(payload, marker), f, protocol=2)
    fn = os.system if payload == "system" else os.mkdir

    line = assert_refused(cli(path), path)
    assert "was refused" in line and f"would call {fn.__module__}.{fn.__name__}" in line, line
    assert not marker.exists()

    # The control: the payload is real, so the assertion above could fail.
    control = python("import sys, torch\ntry:\n    torch.load(sys.argv[1], weights_only=False)\nexcept Exception:\n    pass",
                     str(path))
    assert control.returncode == 0, control.stderr
    assert marker.exists()


# --------------------------------------------------------------------------- bad files
def truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def make_bad(kind: str, tmp_path: Path) -> Path:
    """A file (or non-file) that is no readable checkpoint."""
    path = tmp_path / {"truncated safetensors": "model.safetensors", "header not JSON": "model.safetensors",
                       "zip of a text file": "model.zip", "missing": "nope.pt", "directory": "somedir"}.get(kind, "model.pt")
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated zip":
        torch.save(lstm_state_dict(), path)
        truncate(path, path.stat().st_size // 2)
    elif kind == "truncated legacy":
        torch.save(lstm_state_dict(), path, _use_new_zipfile_serialization=False)
        truncate(path, path.stat().st_size // 2)
    elif kind == "truncated safetensors":
        save_file(lstm_state_dict(), str(path))
        truncate(path, path.stat().st_size - 100)
    elif kind == "header not JSON":
        header = b"{not json, but starts as JSON would"
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    elif kind == "text file":
        path.write_text("this is a text file, not a model\n")
    elif kind == "PNG header":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    elif kind == "zip of a text file":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    elif kind == "plain pickle":
        with open(path, "wb") as f:
            pickle.dump({"a": 1}, f, protocol=4)
    elif kind == "directory":
        path.mkdir()
    else:
        assert kind == "missing"
    return path


BAD = [
    ("empty", []), ("truncated zip", []), ("truncated legacy", []), ("truncated safetensors", []),
    ("truncated safetensors", ["--no-run"]), ("header not JSON", []), ("header not JSON", ["--no-run"]),
    ("text file", []), ("PNG header", []), ("zip of a text file", []), ("plain pickle", []), ("missing", []),
    ("directory", []),
]


@pytest.mark.parametrize("kind, args", BAD, ids=[" ".join([k, *a]) for k, a in BAD])
def test_bad_file_is_refused_in_one_line(tmp_path, kind, args):
    path = make_bad(kind, tmp_path)
    assert_refused(cli(path, *args), path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(lstm_state_dict(), path)
    path.chmod(0)
    try:
        assert_refused(cli(path), path)
    finally:
        path.chmod(0o600)


# --------------------------------------------------------------------------- no recurrent layer
NO_RNN = {
    "state_dict": ({"fc.weight": torch.zeros(3, 4), "fc.bias": torch.zeros(3)},
                   ["'fc.weight': tensor (3, 4) float32", "'fc.bias': tensor (3,) float32"]),
    "bare tensor": (torch.zeros(3, 4), ["tensor (3, 4) float32"]),
    "nested": ({"epoch": 3, "model": {"fc.weight": torch.zeros(3, 4)}}, ["'epoch': int 3", "'model': dict of 1 entries"]),
}


@pytest.mark.parametrize("case", NO_RNN)
def test_file_with_no_recurrent_layer_lists_what_it_holds(tmp_path, case):
    obj, listing = NO_RNN[case]
    torch.save(obj, tmp_path / "model.pt")

    # Run beside the file: a short name keeps the table's lines from wrapping.
    table = cli("model.pt", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stderr == ""
    assert "no recurrent layer or cell in model.pt" in table.stdout
    for line in listing:
        assert line in table.stdout, table.stdout

    proc = cli("model.pt", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert data["layers"] == [] and data["inconsistent"] == []
    for line in listing:
        assert any(line in entry for entry in data["contents"]), data["contents"]


# --------------------------------------------------------------------------- torch not imported
DRIVER = r"""
import json, sys
from rnnshape.cli import main
sys.argv = ["rnnshape", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
print("\nDRIVER " + json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def drive(*args: str) -> tuple[dict, str, str]:
    """(exit code and whether torch got imported, the command's stdout, its stderr), run in a fresh interpreter."""
    proc = python(DRIVER, *args)
    assert proc.returncode == 0, proc.stderr
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    assert last.startswith("DRIVER "), proc.stdout
    return json.loads(last[len("DRIVER "):]), out, proc.stderr


def test_safetensors_header_is_read_without_torch(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.manual_seed(0)
    save_file({"rnn." + k: v.contiguous() for k, v in torch.nn.GRU(5, 7).state_dict().items()}, str(path))
    result, out, err = drive("checkpoint", str(path), "--no-run", "-f", "json")
    assert result == {"code": 0, "torch": False}, err
    data = json.loads(out)
    assert [layer["name"] for layer in data["layers"]] == ["rnn"]
    config = data["layers"][0]["config"]
    assert (config["mode"], config["input_size"], config["hidden_size"]) == ("gru", 5, 7)


@pytest.mark.parametrize("kind", ["missing", "empty", "text file"])
def test_refusals_need_no_torch(tmp_path, kind):
    path = make_bad(kind, tmp_path)
    result, out, err = drive("checkpoint", str(path))
    assert result == {"code": 2, "torch": False}, err
    assert out == ""
    assert err.startswith(f"error: FILE {path} ") and len(err.splitlines()) == 1, err


def test_positive_control_a_torch_file_imports_torch(tmp_path):
    """The driver does see torch: a torch.save file cannot be read without it."""
    path = tmp_path / "model.pt"
    torch.save(lstm_state_dict(), path)
    result, _, err = drive("checkpoint", str(path), "--no-run", "-f", "json")
    assert result == {"code": 0, "torch": True}, err


# --------------------------------------------------------------------------- what is read
def test_only_the_recurrent_tensors_are_read_from_safetensors(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    lstm = lstm_state_dict("enc.")
    save_file({**lstm, "embed.weight": torch.randn(1000, 64)}, str(path))
    real_safe_open = rnnshape.checkpoint_file._safetensors()
    read: list[str] = []

    class Recording:
        """A safe_open handle that notes every tensor read through it."""

        def __init__(self, handle):
            self._handle = handle

        def get_tensor(self, key):
            read.append(key)
            return self._handle.get_tensor(key)

        def get_slice(self, key):
            read.append(key)
            return self._handle.get_slice(key)

        def __getattr__(self, name):
            return getattr(self._handle, name)

    @contextlib.contextmanager
    def recording_open(*args, **kwargs):
        with real_safe_open(*args, **kwargs) as handle:
            yield Recording(handle)

    monkeypatch.setattr(rnnshape.checkpoint_file, "_safetensors", lambda: recording_open)
    report = checkpoint(str(path))
    assert [layer.name for layer in report.layers] == ["enc"]
    assert report.layers[0].values_read
    assert sorted(read) == sorted(lstm)  # each LSTM tensor once, nothing else
    assert "embed.weight" not in read


NO_NUMPY = r"""
import json, sys
sys.modules["numpy"] = None  # any import of numpy now fails
import warnings
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
from rnnshape.checkpoint_report import checkpoint
report = checkpoint(sys.argv[1])
means = {layer.name: {p.name: p.mean for p in layer.report.observation.parameters} for layer in report.layers}
try:  # the control: safetensors' writer needs numpy, so it must fail here
    import torch
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(2)}, sys.argv[1] + ".control")
    blocked = False
except ImportError:
    blocked = True
print(json.dumps({"means": means, "numpy_blocked": blocked}))
"""


def test_safetensors_values_are_read_without_numpy(tmp_path):
    path = tmp_path / "model.safetensors"
    lstm = lstm_state_dict("enc.")
    save_file(lstm, str(path))
    proc = python(NO_NUMPY, str(path))
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.splitlines()[-1])
    assert answer["numpy_blocked"] is True
    means = answer["means"]
    assert list(means) == ["enc"]
    expected = {key.removeprefix("enc."): tensor.double().mean().item() for key, tensor in lstm.items()}
    assert means["enc"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_bin_files_are_sniffed_by_their_bytes(tmp_path):
    state = lstm_state_dict("rnn.", 3, 5, num_layers=2, bidirectional=True)
    (tmp_path / "torch").mkdir()
    (tmp_path / "st").mkdir()
    torch.save(state, tmp_path / "torch" / "model.bin")
    save_file(state, str(tmp_path / "st" / "model.bin"))

    answers = {}
    for name in ("torch", "st"):
        proc = cli(tmp_path / name / "model.bin", "-f", "json")
        assert proc.returncode == 0, proc.stderr
        answers[name] = json.loads(proc.stdout)
    assert answers["torch"]["format"] == "torch.save zip archive"
    assert answers["st"]["format"] == "safetensors"
    configs = [[layer["config"] for layer in answers[name]["layers"]] for name in ("torch", "st")]
    assert configs[0] == configs[1] and len(configs[0]) == 1
    config = configs[0][0]
    assert (config["mode"], config["input_size"], config["hidden_size"], config["num_layers"], config["bidirectional"]) \
        == ("lstm", 3, 5, 2, True)
