"""Readable wherever people read: every table fits every width, any encoding, any COLUMNS, notebooks.

The width checks run every command through the CLI at widths 40..120 and read
what a person would see; the no-split checks lay out every report kind's
sections directly, so that each cell can be looked for whole in the lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
    from torch import nn

import rnnshape
from rnnshape.cli import app
from rnnshape.render import BRIEF, SECTION_NAMES, render, sections_of
from rnnshape.render.layout import _choose, lay_out, plain
from rnnshape.render.text import cell_width, tokens, wrap
from rnnshape.render.symbols import STAND_INS

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (40, 60, 80, 100, 120)
MODELS = "docs/examples/models.py"

COMMANDS = {
    "inspect lstm": ["inspect", "--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "5"],
    "inspect packed": ["inspect", "--mode", "gru", "--lengths", "5,3,2", "--no-enforce-sorted", "--bidirectional", "--batch-first"],
    "inspect cell": ["inspect", "--mode", "lstmcell", "--unbatched"],
    "inspect meta": ["inspect", "--mode", "lstm", "--device", "meta", "--layers", "3"],
    "verify": ["verify", "--mode", "gru", "--layers", "2", "--bidirectional"],
    "sweep": ["sweep", "--mode", "rnn,lstm,gru", "--hidden-size", "8,16", "--bidirectional", "--unidirectional", "--proj-size", "0,4"],
    "check refused": ["check", "--mode", "lstm", "--input-size", "256", "--hidden-size", "256", "--input-shape", "8,8,256",
                      "--h0-shape", "1,32,256", "--c0-shape", "1,32,256"],
    "check accepted": ["check", "--mode", "gru", "--input-shape", "5,3,10", "--lengths", "5,2,4", "--no-enforce-sorted"],
    "summary": ["summary", f"{MODELS}:seq2seq", "--input-shape", "4,9", "--input-dtype", "int64"],
    "summary packed": ["summary", f"{MODELS}:packed_classifier", "--input-shape", "4,10,8"],
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """The installed command in a process of its own: its real stdout, encoding and all."""
    script = str(Path(sys.executable).parent / "rnnshape")
    return subprocess.run([script, *args], capture_output=True, cwd=REPO, timeout=300,
                          env={**os.environ, "NO_COLOR": "1", **env})


def invoke(args: list[str], charset: str = "utf-8", **env: str):
    """The same in this process (torch already loaded): stdout is a stream in `charset`, as a console's is."""
    result = CliRunner(charset=charset).invoke(app, args, prog_name="rnnshape", env={"NO_COLOR": "1", **env})
    assert not isinstance(result.exception, UnicodeError), result.exception
    return result


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.manual_seed(0)
    model = nn.ModuleDict({"encoder": nn.LSTM(8, 16, num_layers=2, bidirectional=True), "cell": nn.GRUCell(4, 6)})
    torch.save({"model": model.state_dict()}, path)
    return str(path)


# --- every table fits every width ---------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [*COMMANDS, "checkpoint"])
def test_every_line_fits_and_none_ends_in_spaces(name, width, saved_checkpoint, monkeypatch):
    monkeypatch.chdir(REPO)
    args = COMMANDS.get(name) or ["checkpoint", saved_checkpoint]
    result = invoke(args, COLUMNS=str(width))
    assert result.exit_code in (0, 1), result.stderr
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        assert cell_width(line) <= width, (width, line)
        assert line == line.rstrip(), repr(line)


def reports(saved_checkpoint: str) -> dict:
    torch.manual_seed(0)
    from rnnshape.model.check import check

    seq2seq = nn.ModuleDict({"enc": nn.GRU(4, 6, batch_first=True)})
    return {
        "inspect": rnnshape.inspect(mode="lstm", num_layers=2, bidirectional=True, proj_size=5),
        "inspect packed": rnnshape.inspect(mode="gru", lengths=(5, 3, 2), enforce_sorted=False, bidirectional=True),
        "inspect live": rnnshape.inspect(nn.LSTM(3, 4), torch.randn(5, 2, 3)),
        "verify": rnnshape.verify(mode="lstm", num_layers=2, bidirectional=True),
        "checkpoint": rnnshape.checkpoint(saved_checkpoint),
        "summary": rnnshape.summary(seq2seq["enc"], torch.randn(2, 7, 4)),
        "check": check(rnnshape.RNNSpec(mode="lstm", input_size=256, hidden_size=256), (8, 8, 256), h0_shape=(1, 32, 256),
                       c0_shape=(1, 32, 256)),
        "sweep": __import__("rnnshape.sweep", fromlist=["sweep"]).sweep(mode=["rnn", "lstm"], hidden_size=[8, 300], proj_size=[0, 4]),
    }


WHOLE = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?|\((?:\d+, )*\d*,?\)|[a-z]\|[a-z](?:\|[a-z])*")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_value_is_split_across_lines(width, saved_checkpoint):
    """Every cell of a column that is not prose appears whole on one line; in prose, every number and shape does."""
    for kind, report in reports(saved_checkpoint).items():
        parts = sections_of(report)
        lines = plain(lay_out(parts, width)).splitlines()
        for section in parts:
            plan, _ = _choose(section, width)  # a column left out to fit (and said so) shows nothing to split
            shown = range(len(section.columns)) if plan is None else plan.columns
            for row in section.rows:
                for i, cell in ((i, row[i]) for i in shown):
                    pieces = WHOLE.findall(cell) if i in section.prose else [cell]
                    for piece in pieces:
                        if piece and cell_width(piece) <= width - 6:
                            assert any(piece in line for line in lines), (kind, width, section.title, piece)


def test_the_check_for_whole_values_can_fail():
    """A cell split across lines is caught by the same search."""
    lines = ["  weight_ih_l0   -0.22", "31"]
    assert not any("-0.2231" in line for line in lines)


def test_the_parameter_table_at_80_keeps_name_shape_min_max_and_bound():
    report = rnnshape.inspect(mode="lstm", num_layers=2, bidirectional=True)
    text = render(report, "table", width=80, only=("parameters",))
    header = next(line for line in text.splitlines() if "parameter" in line and "shape" in line)
    for column in ("parameter", "shape", "min", "max", "in bound"):
        assert column in header, header
    assert "i|f|g|o" in text and "-0.2231" in text
    assert "(left out to fit 80 columns: numel" in text  # one line says what went


def test_prose_wraps_at_spaces_never_inside_a_bracketed_group():
    assert tokens("zeros (2, 4, 32) here") == ["zeros", " (2, 4, 32)", " here"]
    assert wrap("torch started from zeros (2, 4, 32)", 20) == ["torch started from", "zeros (2, 4, 32)"]
    assert wrap("a formula (H_in + (num_layers-1)*D*H_out + num_layers*(H_out + 2*bias))", 30, indent=2)[1].startswith("  ")
    assert all(cell_width(line) <= 12 for line in wrap("weight_ih_l0_reverse_and_more", 12))  # a word wider than the line


def test_a_table_too_narrow_for_its_columns_stacks_its_rows():
    text = render(rnnshape.inspect(mode="lstm", num_layers=2, bidirectional=True), "table", width=40, only=("parameters",))
    assert "\n weight_ih_l0\n    layer dir  0 forward\n    shape      (80, 10)\n" in text
    assert max(cell_width(line) for line in text.splitlines()) <= 40


def test_chinese_text_counts_two_columns_a_character():
    assert cell_width("隐藏状态") == 8 and cell_width("h_n") == 3
    assert all(cell_width(line) <= 10 for line in wrap("隐藏状态 时间步 双向", 10))


# --- the answer on the first screen ---------------------------------------------------------


def titles(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(" ") and not line.startswith("(")]


def test_inspect_brief_is_the_tensors_the_h_n_rows_and_the_totals():
    result = invoke(["inspect", "--mode", "lstm", "--layers", "2", "--bidirectional", "--brief"], COLUMNS="80")
    text = result.stdout
    assert result.exit_code == 0
    assert titles(text) == ["LSTM(10, 20, num_layers=2, bidirectional=True)", "h_n and c_n rows: row = layer * D + direction", "totals"]
    assert len(text.splitlines()) <= 30  # the shapes fit a first screen


def test_shapes_come_first():
    text = render(rnnshape.inspect(), "table")
    assert titles(text)[:3] == ["RNN(10, 20)", "h_n rows: row = layer * D + direction", "output and h_n, checked on the real tensors"]


@pytest.mark.parametrize("command,args", [
    ("inspect", ["inspect"]), ("verify", ["verify"]), ("check", ["check", "--input-shape", "5,3,10"]),
    ("summary", ["summary", f"{MODELS}:tagger", "--input-shape", "2,5", "--input-dtype", "int64"]),
])
def test_every_section_name_and_brief_work(command, args):
    runner = CliRunner()
    for name in SECTION_NAMES[command]:
        result = runner.invoke(app, [*args, "--sections", name], prog_name="rnnshape")
        assert result.exit_code in (0, 1), (name, result.stderr)
    brief = runner.invoke(app, [*args, "--brief", "-f", "markdown"], prog_name="rnnshape")
    assert brief.exit_code == 0 and brief.stdout
    full = runner.invoke(app, [*args, "-f", "markdown"], prog_name="rnnshape")
    assert len(brief.stdout) < len(full.stdout)
    assert set(BRIEF[command]) <= set(SECTION_NAMES[command])


def test_sections_pick_and_refuse():
    runner = CliRunner()
    picked = runner.invoke(app, ["inspect", "--sections", "totals,h_n_rows"], prog_name="rnnshape")
    assert titles(picked.stdout) == ["h_n rows: row = layer * D + direction", "totals"]  # the report's order, not the flag's
    for args, word in ((["--sections", "shapes"], "must be among tensors, packing"), (["--brief", "-f", "json"], "-f json is always whole"),
                       (["--sections", "totals", "-f", "csv"], "--sections"), (["--brief", "--sections", "totals"], "--brief")):
        result = runner.invoke(app, ["inspect", *args], prog_name="rnnshape")
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and word in result.stderr, result.stderr


# --- notebooks -------------------------------------------------------------------------------


def test_every_report_kind_shows_itself(saved_checkpoint):
    for kind, report in reports(saved_checkpoint).items():
        line = repr(report)
        assert line.startswith(f"<{type(report).__name__} ") and line.endswith(">") and "\n" not in line, line
        assert len(line) < 300, line
        html = report._repr_html_()
        assert html.startswith('<div class="rnnshape">') and "<table>" in html, kind
        assert report._repr_markdown_().startswith("**"), kind
        assert str(report) == render(report, "table"), kind
    one = reports(saved_checkpoint)["inspect"]
    counted = sum(c.ok is not None for c in one.checks)
    assert repr(one) == f"<Report nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5): {counted} of {counted} checks held>"


def test_html_escapes_every_name_from_a_file(tmp_path):
    hostile = '<img src=x onerror="alert(1)">'
    state = {f"{hostile}.{k}": v for k, v in nn.GRU(3, 4).state_dict().items()}
    path = tmp_path / "hostile.pt"
    torch.save(state, path)
    report = rnnshape.checkpoint(str(path))
    html = report._repr_html_()
    assert hostile not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


# --- any encoding, any terminal -----------------------------------------------------------------

IN_PROCESS = [*COMMANDS.values(), ["inspect", "-f", "json"], ["inspect", "-f", "markdown"], ["check", "--input-shape", "5,3,10", "-f", "json"],
              ["inspect", "--hidden-size", "0"]]


@pytest.mark.parametrize("encoding", ["ascii", "gbk", "latin-1"])
@pytest.mark.parametrize("args", IN_PROCESS, ids=lambda a: " ".join(a[:3]))
def test_every_table_and_json_in_an_encoding_without_the_symbols(args, encoding, monkeypatch):
    monkeypatch.chdir(REPO)
    reference = invoke(args)
    result = invoke(args, charset=encoding)
    assert result.exit_code == reference.exit_code, result.stderr
    assert not any(symbol in result.stdout for symbol in "✓✗─→"), result.stdout[:500]
    if "json" in args:
        assert json.loads(result.stdout) == json.loads(reference.stdout)  # the same JSON, escaped


# Every command, in a process of its own; FILE stands for a saved checkpoint.
EVERY_COMMAND = [["inspect", "--mode", "lstm", "--lengths", "3,2"], ["verify", "-f", "csv"], ["code", "--mode", "lstm"],
                 ["flow", "--layers", "2", "--bidirectional", "--lengths", "4,2"], ["sweep", "--mode", "rnn,lstm"],
                 ["checkpoint", "FILE"], ["check", "--input-shape", "5,3,12"], ["summary", f"{MODELS}:tagger", "--input-shape", "2,3"],
                 ["schema", "check"], ["inspect", "--hidden-size", "0"]]
_references: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


# Every command in a GBK console (the learners' own); a plain ASCII one for three of them
# (the in-process test above covers ascii for every table, at a fraction of the time).
CONSOLES = [(args, "gbk") for args in EVERY_COMMAND] + [(args, "ascii") for args in EVERY_COMMAND if args[0] in ("inspect", "sweep", "checkpoint")][:3]


@pytest.mark.parametrize("args, encoding", CONSOLES, ids=lambda a: " ".join(a[:3]) if isinstance(a, list) else a)
def test_every_command_in_a_console_that_cannot_show_its_symbols(args, encoding, saved_checkpoint):
    """A real process: PYTHONIOENCODING decides stdout's and stderr's encoding, as a console's locale does."""
    args = [saved_checkpoint if a == "FILE" else a for a in args]
    reference = _references.get(tuple(args)) or _references.setdefault(tuple(args), run(args))
    result = run(args, PYTHONIOENCODING=encoding)
    assert result.returncode == reference.returncode, result.stderr.decode(encoding)
    stdout, stderr = result.stdout.decode(encoding), result.stderr.decode(encoding)  # every byte is the encoding's
    assert "Traceback" not in stderr and stdout.count("\n") == reference.stdout.decode().count("\n")
    if args[0] != "code":  # a script's comments are free text
        assert not any(symbol in stdout for symbol in "✓✗─→"), stdout[:500]


def test_stand_ins_keep_a_table_aligned():
    text = invoke(["inspect", "--brief"], charset="ascii").stdout
    rule = next(line for line in text.splitlines() if set(line.strip()) == {"-"})
    rows = [line for line in text.splitlines() if line.startswith(" input") or line.startswith(" output")]
    assert all(line.rstrip().endswith("ok") for line in rows) and len(rule) >= max(len(r) for r in rows)
    assert STAND_INS["✓"] == "ok" and all(len(v) == 1 for k, v in STAND_INS.items() if k in "─│┌┐└┘→←↑↓●·⋯")


@pytest.mark.parametrize("columns", ["0", "1", "-5", "abc", "99999999999", "", "٣"])
def test_any_columns_value_gives_sane_output(columns):
    result = invoke(["inspect", "--mode", "gru"], COLUMNS=columns)
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) > 20 and max(cell_width(line) for line in lines) <= 500


def _in_a_terminal(args: list[str], env: dict) -> bytes:
    import pty

    script = str(Path(sys.executable).parent / "rnnshape")
    pid, fd = pty.fork()
    if pid == 0:  # the child: rnnshape, its stdout a terminal
        os.execve(script, [script, *args], {k: v for k, v in {**os.environ, **env}.items() if k != "NO_COLOR"})
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pseudo-terminal")
def test_colour_on_a_terminal_but_not_a_dumb_one():
    assert b"\x1b[" in _in_a_terminal(["inspect", "--mode", "gru", "--brief"], {"TERM": "xterm-256color"})  # the control
    assert b"\x1b[" not in _in_a_terminal(["inspect", "--mode", "gru", "--brief"], {"TERM": "dumb"})
