"""rnnshape in Chinese (`--lang zh`): how the language is chosen, that every sentence has its
translation, that a translation never changes a number, a shape or the machine contract
(JSON, CSV), and that nothing English is left in a Chinese answer.

In-process (CliRunner) wherever a subprocess is not the point: the suite's time is budgeted.
"""

from __future__ import annotations

import json
import pickle
import re
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnshape import language
from rnnshape.cli import app
from rnnshape.language import fill, join, say, speaking, tr
from rnnshape.render.text import cell_width

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import i18n  # noqa: E402  (tools/i18n.py: Babel's extraction, as a translator runs it)

EXAMPLES = ROOT / "docs" / "examples"


def run(*args: str, env: dict[str, str] | None = None, width: int = 250):
    """The CLI in-process, at a width where no column is left out (so both languages show everything)."""
    import torch

    torch.manual_seed(0)  # as a fresh process starts: summary's factory draws its weights from the global RNG
    result = CliRunner().invoke(app, list(args), prog_name="rnnshape", env={"COLUMNS": str(width), **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# -------------------------------------------------------------------- choosing the language

@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),  # LC_MESSAGES before LANG
    ({"LC_ALL": "C", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),  # LC_ALL before everything
    ({"LC_ALL": "zh_CN.GB18030", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh"),  # an empty variable is not set
    ({"RNNSHAPE_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}, "en"),  # rnnshape's own variable first
    ({"RNNSHAPE_LANG": "zh"}, "zh"),
    ({"RNNSHAPE_LANG": "ZH_cn"}, "zh"),
    ({"RNNSHAPE_LANG": " ", "LANG": "zh_CN"}, "zh"),
], ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else v)
def test_the_environment_chooses_the_language(environ, expected):
    assert language.from_environment(environ) == expected


@pytest.mark.parametrize("value", ["fr", "", "zhh", "e", "chinese"])
def test_a_value_naming_no_language_is_refused(value):
    with pytest.raises(language.LanguageProblem):
        language.parse(value)


def test_the_flag_beats_the_variable_which_beats_the_locale():
    zh, en = "形状", "shape"
    assert zh in run("inspect", "--lang", "zh", env={"RNNSHAPE_LANG": "en", "LC_ALL": "en_US.UTF-8"}).stdout
    assert zh in run("inspect", env={"RNNSHAPE_LANG": "zh", "LC_ALL": "en_US.UTF-8"}).stdout
    assert zh in run("inspect", env={"RNNSHAPE_LANG": "", "LC_ALL": "zh_CN.UTF-8"}).stdout
    assert zh in run("inspect", env={"RNNSHAPE_LANG": "", "LC_ALL": "", "LANG": "zh_CN.UTF-8"}).stdout
    assert zh not in run("inspect", "--lang", "en", env={"RNNSHAPE_LANG": "zh"}).stdout
    assert en in run("inspect", env={"RNNSHAPE_LANG": "", "LC_ALL": "C", "LANG": "zh_CN.UTF-8"}).stdout
    assert zh in run("--lang", "zh", "inspect").stdout  # on the group, before the command


@pytest.mark.parametrize("args", [["inspect", "--lang", "fr"], ["--lang=xx", "inspect"], ["schema", "--lang", "de"]])
def test_a_bad_lang_is_one_error_line_and_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    assert re.fullmatch(r"error: --lang must be zh or en \(got '\w+'\)\n", result.stderr)


def test_a_bad_rnnshape_lang_is_named_in_the_error():
    result = run("inspect", env={"RNNSHAPE_LANG": "klingon"})
    assert result.exit_code == 2
    assert result.stderr == "error: RNNSHAPE_LANG must be zh or en (got 'klingon')\n"
    assert run("inspect", "--lang", "en", env={"RNNSHAPE_LANG": "klingon"}).exit_code == 0  # the flag decides


def test_lang_alone_is_the_help_in_that_language():
    for args in (["--lang", "zh"], ["--lang=zh"]):
        result = run(*args)
        assert result.exit_code == 0 and result.stdout.startswith("用法：rnnshape") and result.stderr == ""
    assert run("--lang", "zh", "--version").stdout.startswith("rnnshape ")
    missing = run("--lang", "zh", "--lang", "zh")  # options, and no command: click's own error, said in Chinese
    assert missing.exit_code == 2 and missing.stderr == "error: 缺少命令\n"


def test_a_run_leaves_no_language_behind():
    run("inspect", "--lang", "zh")
    assert language.current_is_chosen() is False
    assert say(tr("shape")) == "shape"


# -------------------------------------------------------------------- the catalogs

def test_every_sentence_has_a_chinese_translation_and_the_mo_is_compiled():
    """None missing, none fuzzy, every {placeholder} kept, the shipped .mo the same as the .po."""
    problems = i18n.problems()
    assert problems == [], "\n".join(problems[:40]) + "\n(python tools/i18n.py build, then translate)"


def test_every_translation_keeps_the_numbers_of_its_sentence():
    """'2-D' is '2 维', never '二维': the same numbers in both languages, for every entry of the catalog."""
    number = re.compile(r"(?<![A-Za-z_{])\d+(?:\.\d+)?")

    def numbers(text: str) -> Counter:
        return Counter(number.findall(re.sub(r"\{[^}]*\}", "", text)))

    catalog = i18n.read_po(i18n.po_path("zh"), "zh")
    differ = [f"{m.id!r} -> {m.string!r}" for m in catalog if m.id and m.string and numbers(m.id) != numbers(m.string)]
    assert differ == []


def test_the_catalog_reads_as_the_standard_library_reads_it():
    """language.MoFile (a binary search over the .mo's sorted index) finds what gettext.GNUTranslations decodes."""
    import gettext

    path = Path(language.LOCALE_DIR) / "zh" / "LC_MESSAGES" / "rnnshape.mo"
    with open(path, "rb") as handle:
        standard = {k: v for k, v in gettext.GNUTranslations(handle)._catalog.items() if isinstance(k, str) and k}
    ours = language.MoFile(path.read_bytes())
    assert dict(ours.items()) == standard and len(standard) > 1000
    assert all(ours.get(k) == v for k, v in standard.items())
    assert ours.get("no such sentence") is None and ours.get("") is None
    assert language.MoFile(b"not a catalog").get("Options") is None  # a broken file speaks English


def test_the_check_finds_a_missing_translation(tmp_path, monkeypatch):
    """The completeness check can fail: a catalog with one translation removed is reported."""
    from babel.messages import pofile

    catalog = i18n.read_po(i18n.po_path("zh"), "zh")
    victim = next(m for m in catalog if m.id and m.string)
    victim.string = ""
    broken = tmp_path / "rnnshape.po"
    with open(broken, "wb") as handle:
        pofile.write_po(handle, catalog)
    monkeypatch.setattr(i18n, "po_path", lambda lang: str(broken))
    assert any(repr(victim.id) in line for line in i18n.problems())


def test_every_tr_template_is_a_literal_babel_can_extract():
    """A template built at run time (tr(variable), tr(f"...")) would never reach the catalog."""
    import ast

    offenders = []
    for path in (ROOT / "rnnshape").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tr", "said"):
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_compiled_catalog_ships_in_the_wheel():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rnnshape"]
    shipped = [p for pattern in data for p in (ROOT / "rnnshape").glob(pattern)]
    assert ROOT / "rnnshape" / "locale" / "zh" / "LC_MESSAGES" / "rnnshape.mo" in shipped


# -------------------------------------------------------------------- the Message mechanism

def test_a_message_is_its_english_everywhere_a_machine_reads_it():
    m = tr("{n} of {total} checks held", n=3, total=4)
    assert m == "3 of 4 checks held" and isinstance(m, str)
    assert json.dumps({"note": m}) == '{"note": "3 of 4 checks held"}'
    assert hash(m) == hash("3 of 4 checks held")
    again = pickle.loads(pickle.dumps(m))
    assert again == m and again.template == m.template and again.args == m.args


def test_only_what_tr_made_is_translated():
    words = language.catalog("zh")
    known = next(k for k in words if "{" not in k and " " not in k)  # a one-word entry, e.g. a column header
    assert say(tr(known), "zh") == words[known] != known
    assert say(known, "zh") == known  # the same text as a name, a value, a key: never translated
    assert say(tr("{x}", x=known), "zh") == known  # a plain value inside a template stays as it is
    assert say(tr("{x}", x=tr(known)), "zh") == words[known]  # a Message inside one is said too
    assert say(join(", ", [tr(known), "h_n"]), "zh") == words[known] + ", h_n"
    template = tr("{n} checks failed")
    assert say(fill(template, n=2), "zh") == words["{n} checks failed"].format(n=2)


def test_a_sentence_missing_from_the_catalog_is_said_in_english():
    assert say(tr("no catalog has this sentence {n}", n=1), "zh") == "no catalog has this sentence 1"


def test_two_threads_speak_their_own_languages():
    from rnnshape import RNNSpec, inspect
    from rnnshape.render import render

    report = inspect(RNNSpec(), run=False)
    expected = {lang: render(report, "table", lang=lang) for lang in ("en", "zh")}
    assert expected["en"] != expected["zh"]
    seen: dict[int, list[bool]] = {0: [], 1: []}

    def work(i: int, lang: str) -> None:
        for _ in range(30):
            with speaking(lang):
                seen[i].append(render(report, "table") == expected[lang])

    threads = [threading.Thread(target=work, args=(i, lang)) for i, lang in enumerate(("en", "zh"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(seen[0]) and all(seen[1]) and len(seen[0]) == len(seen[1]) == 30


def test_the_api_renders_and_displays_in_the_language_asked():
    from rnnshape import RNNSpec, inspect
    from rnnshape.render import render

    report = inspect(RNNSpec(mode="lstm"), run=False)
    english, chinese = render(report, "table"), render(report, "table", lang="zh")
    assert "shape" in english and "形状" in chinese
    report.lang = "zh"
    assert str(report) == chinese
    assert "形状" in report._repr_html_() and "形状" in report._repr_markdown_()
    assert render(report, "json", lang="zh") == render(report, "json", lang="en")


# -------------------------------------------------------------------- the same answer in both languages

NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?(?:e[-+]?\d+)?")

COMMANDS = [
    ["inspect"],
    ["inspect", "--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3", "--batch-first"],
    ["inspect", "--mode", "gru", "--lengths", "3,2", "--no-enforce-sorted"],
    ["inspect", "--mode", "lstmcell", "--unbatched"],
    ["inspect", "--no-run", "--layers", "3", "--dropout", "0.5"],
    ["inspect", "--device", "meta", "--mode", "gru", "--layers", "2"],
    ["inspect", "--train", "--layers", "2", "--dropout", "0.5", "--mode", "lstm"],
    ["verify", "--mode", "lstm", "--layers", "2", "--bidirectional"],
    ["verify", "--mode", "rnn", "--input-size", "2", "--hidden-size", "3", "--batch-first", "--batch-size", "2",
     "--seq-len", "3", "--against", f"{EXAMPLES}/forward_broken.py:rnn_forward"],
    ["check", "--mode", "lstm", "--input-size", "256", "--hidden-size", "256", "--input-shape", "8,8,256",
     "--h0-shape", "1,32,256", "--c0-shape", "1,32,256"],
    ["check", "--mode", "gru", "--input-size", "8", "--hidden-size", "4", "--input-shape", "5,3,8"],
    ["flow", "--layers", "2", "--bidirectional", "--seq-len", "3"],
    ["flow", "--mode", "gru", "--lengths", "3,1"],
    ["sweep", "--mode", "rnn,lstm", "--hidden-size", "8,16", "--no-run"],
    ["checkpoint", f"{EXAMPLES}/seq2seq.pt"],
    ["summary", f"{EXAMPLES}/models.py:tagger", "--input-shape", "4,12", "--input-dtype", "int64"],
]
IDS = [" ".join(a[:3]) for a in COMMANDS]


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, object]]:
    return {" ".join(args): {lang: run(*args, "--lang", lang) for lang in ("en", "zh")} for args in COMMANDS}


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
def test_chinese_holds_the_same_numbers_and_shapes_and_exit_status(answers, args):
    en, zh = answers[" ".join(args)]["en"], answers[" ".join(args)]["zh"]
    assert en.exit_code == zh.exit_code
    assert zh.stdout != en.stdout, "nothing was translated"
    for stream in ("stdout", "stderr"):
        a, b = getattr(en, stream), getattr(zh, stream)
        assert Counter(NUMBER.findall(a)) == Counter(NUMBER.findall(b)), stream
        shapes = re.compile(r"\(\d+(?:, \d+)*,?\)")
        assert Counter(shapes.findall(a)) == Counter(shapes.findall(b)), stream


# Runs of English words that may stand in a Chinese answer: torch's own message (quoted by check
# and summary), and names that are English words.
_QUOTED_TORCH = re.compile(r"(?:Expected|input\.size|For unbatched|Input batch size|hidden\[0\]|Tensors must"
                           r"|LSTM with projections is not supported with oneDNN).*")
_WORDS = re.compile(r"(?<![\w.'\"/-])[a-z]{2,}(?: [a-z]{2,}){2,}(?![\w.'\"/-])")


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
def test_no_english_sentence_is_left_in_a_chinese_answer(answers, args):
    zh = answers[" ".join(args)]["zh"]
    text = _QUOTED_TORCH.sub("", zh.stdout + zh.stderr)
    left = [m.group(0) for m in _WORDS.finditer(text)]
    assert left == [], f"untranslated: {left[:10]}"


def test_the_english_leftover_check_can_fail():
    assert _WORDS.findall("层 0 the sequence every time step 输出") == ["the sequence every time step"]
    assert _WORDS.findall("weight_ih_l0 h_n D*num_layers (5, 3, 20) seq-first tanh") == []


@pytest.mark.parametrize("args", [
    ["inspect", "-f", "json"], ["inspect", "-f", "csv", "--mode", "lstm", "--layers", "2", "--bidirectional"],
    ["verify", "-f", "json", "--mode", "gru"], ["verify", "-f", "csv"],
    ["check", "-f", "json", "--input-shape", "5,3,7"], ["check", "-f", "csv", "--input-shape", "5,3,10"],
    ["sweep", "-f", "csv", "--hidden-size", "8,16", "--no-run"], ["sweep", "-f", "jsonl", "--mode", "rnn,gru", "--no-run"],
    ["checkpoint", "-f", "json", str(EXAMPLES / "seq2seq.pt")], ["checkpoint", "-f", "csv", str(EXAMPLES / "seq2seq.pt")],
    ["summary", "-f", "json", f"{EXAMPLES}/models.py:tagger", "--input-shape", "4,12", "--input-dtype", "int64"],
    ["inspect", "--no-run", "-f", "json", "--mode", "lstm", "--lengths", "4,2"],
    ["schema"],
], ids=lambda a: " ".join(a[:3]))
def test_json_and_csv_are_the_same_bytes_in_every_language(args):
    en, zh = run(*args, "--lang", "en"), run(*args, "--lang", "zh")
    assert en.exit_code == zh.exit_code
    assert en.stdout == zh.stdout


# -------------------------------------------------------------------- layout

WIDE = [
    ["inspect", "--mode", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3"],
    ["inspect", "--mode", "gru", "--lengths", "3,2", "--no-run"],
    ["verify", "--mode", "gru", "--layers", "2"],
    ["check", "--input-shape", "5,3,7"],
    ["checkpoint", str(EXAMPLES / "seq2seq.pt"), "--no-run"],
    ["flow", "--layers", "2", "--bidirectional"],
]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120])
@pytest.mark.parametrize("args", WIDE, ids=lambda a: " ".join(a[:3]))
def test_chinese_tables_fit_every_width(args, width):
    result = run(*args, "--lang", "zh", width=width)
    assert result.exit_code in (0, 1), result.stderr
    too_wide = [line for line in result.stdout.splitlines() if cell_width(line) > width]
    assert too_wide == []


def test_chinese_help_fits_80_columns():
    for command in ("", "inspect", "verify", "check", "summary", "checkpoint", "sweep"):
        result = run(*([command] if command else []), "--help", "--lang", "zh", width=80)
        assert result.exit_code == 0
        assert "用法" in result.stdout
        # An example is a command as written (click's \\b block): never wrapped, in English either.
        wide = [line for line in result.stdout.splitlines() if cell_width(line) > 80 and "[" not in line
                and not line.lstrip().startswith("例：")]
        assert wide == [], command


# -------------------------------------------------------------------- errors

@pytest.mark.parametrize(("args", "flag"), [
    (["inspect", "--hidden-size", "0"], "--hidden-size"),
    (["inspect", "--dropout", "2"], "--dropout"),
    (["inspect", "--mode", "gru", "--proj-size", "5"], "--proj-size"),
    (["inspect", "--format", "yaml"], "--format"),
    (["inspect", "--foo"], "--foo"),
    (["check"], "--input-shape"),
    (["checkpoint", "/nonexistent/model.pt"], "FILE"),
])
def test_a_chinese_error_keeps_error_and_the_flag_as_typed(args, flag):
    en, zh = run(*args, "--lang", "en"), run(*args, "--lang", "zh")
    assert en.exit_code == zh.exit_code == 2
    assert zh.stderr.startswith("error: ") and zh.stderr.count("\n") == 1
    assert flag in zh.stderr
    assert zh.stderr != en.stderr and re.search(r"[\u4e00-\u9fff]", zh.stderr)


def test_the_issue_example_error_line():
    result = run("inspect", "--lang", "zh", "--hidden-size", "0")
    assert result.stderr == "error: --hidden-size 必须是正整数 (got 0)\n"
