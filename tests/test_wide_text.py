"""Chinese in columns: prose without spaces wraps between its characters, as a terminal breaks it.

A Chinese sentence is one "word" to a wrapper that breaks only at spaces, and each
of its characters is two columns wide: tables in Chinese would not fit, or would
lose columns, where the English fits. These checks wrap Chinese and mixed
Chinese/English text at every width from 10 to 120 and read the lines back; lay
out a section in both languages and compare what each keeps; and lay out a real
report in Chinese (where the catalog has its sentences) at every width 40..120.
"""

from __future__ import annotations

import random
import re

import pytest

import rnnshape
from rnnshape.language import Message, catalog
from rnnshape.render import readable_sections, render, sections_of
from rnnshape.render import text as text_module
from rnnshape.render.layout import _choose, lay_out, plain
from rnnshape.render.sections import Section
from rnnshape.render.text import CLOSING, OPENING, cell_width, narrowest, tokens, wrap

# Code in prose: never split while it fits its line.
CODE = ("h_n[-1]", "h_n[2]", "weight_ih_l0_reverse", "(2, 4, 32)", "output[-1, :, :20]", "D*num_layers", "(N, L, H_in)",
        "1/sqrt(hidden_size)", "nn.LSTM", "batch_first=True", "U(-0.2236, 0.2236)", "L-1", "0.2231", "15040")

SENTENCES = (
    "整个序列，每个时间步的输出",
    "最后一层每个方向在最后一个时间步的隐藏状态（每层每个方向一行）。",
    "h_n[-1] 是最后一层正向的隐藏状态，形状为 (2, 4, 32)：与 output[-1, :, :20] 相同。",
    "参数从 U(-0.2236, 0.2236) 中抽取：bound = 1/sqrt(hidden_size)；每个门是 20 行的一块。",
    "反向从 t = L-1 运行到 0，所以它在第 0 步结束",
    "用 batch_first=True 时，输入的形状是 (N, L, H_in)，而不是 (L, N, H_in)。",
    "「双向」nn.LSTM 有 2 个方向：weight_ih_l0_reverse 是第 0 层反向的权重。",
    "torch 从全零 (2, 4, 32) 开始，因为没有给出 h_0",
    "the forward direction of the top layer 在最后一个时间步结束 (see h_n[2])，共 15040 个参数",
    "权重h_n[-1]的形状，D*num_layers行（見る）、【注】0.2231！",
)

WORDS = ("隐藏状态", "细胞状态", "时间步", "第 1 层", "方向", "双向", "参数", "门", "初始化边界", "输入", "输出", "序列", "批大小",
         "权重", "偏置", "形状", "张量", "的", "是", "每个", "最后一层", "没有", "所以", "检查", "预测", "实测")
ENGLISH = ("the", "forward", "direction", "of", "top", "layer", "ends", "at", "last", "time", "step", "torch")


def mixed_text(rng: random.Random) -> str:
    """A made-up sentence: Chinese words, code and English words, with and without spaces, punctuated."""
    out = ""
    for _ in range(rng.randint(3, 24)):
        kind = rng.random()
        piece = rng.choice(CODE) if kind < 0.25 else rng.choice(ENGLISH) if kind < 0.4 else rng.choice(WORDS)
        if rng.random() < 0.1:
            opening = rng.choice("（「【(")
            piece = opening + piece + "）」】)"["（「【(".index(opening)]
        beside_wide = out and (cell_width(out[-1]) == 2 or cell_width(piece[0]) == 2)
        glued = beside_wide and rng.random() < 0.6  # Chinese has no spaces, and code may touch it
        out += ("" if glued or not out else " ") + piece
        if rng.random() < 0.3:
            out += rng.choice("，。、；：！？")
    return out


def read_back(text: str, lines: list[str], indent: int) -> list[tuple[int, int]]:
    """Every character of `text`, in order, in the lines: only spaces at the breaks are left out.

    The breaks: where in `text` each line but the first ends and the next starts."""
    pos, breaks = 0, []
    for k, line in enumerate(lines):
        if k:
            assert line.startswith(" " * indent) and not line[indent:].startswith(" "), (text, lines)
        part = line.lstrip(" ") if k else line
        end = pos
        while pos < len(text) and text[pos] == " " and (k or not part.startswith(" ")):
            pos += 1
        assert text.startswith(part, pos), (text, lines, k)
        if k:
            breaks.append((end, pos))
        pos += len(part)
    assert not text[pos:].strip(" "), (text, lines)
    return breaks


def units(text: str) -> list[tuple[int, int]]:
    """Where each piece of code in the text is, with the punctuation it holds on to: (start, end)."""
    out = []
    for code in CODE:
        for found in re.finditer(re.escape(code), text):
            start, end = found.span()
            while start and text[start - 1] in OPENING:
                start -= 1
            while end < len(text) and text[end] in CLOSING:
                end += 1
            out.append((start, end))
    return out


def check_wrap(text: str, width: int, indent: int = 0) -> list[str]:
    lines = wrap(text, width, indent)
    assert all(cell_width(line) <= width for line in lines), (width, lines)
    assert all(line == line.rstrip() for line in lines), lines
    breaks = read_back(text, lines, indent)
    room = width - indent
    # Code that fits a line (with the punctuation it holds on to) is never split; code that does not is,
    # anywhere it must. Where nothing is wider than a line (no break is forced), no line starts with
    # closing punctuation or ends with opening punctuation, but inside such code.
    code = units(text)
    too_wide = [(s, e) for s, e in code if cell_width(text[s:e]) > room]
    forced = narrowest(text) > room
    for end, start in breaks:
        for s, e in code:
            assert not (s < end < e and (s, e) not in too_wide), (text[s:e], width, lines)
        if forced or any(s < end and start < e for s, e in too_wide):
            continue
        assert text[start] not in CLOSING and text[end - 1] not in OPENING, (width, lines)
    return lines


def test_a_chinese_sentence_breaks_between_its_characters():
    assert wrap("整个序列，每个时间步的输出", 10) == ["整个序列，", "每个时间步", "的输出"]
    assert wrap("整个序列，每个时间步的输出", 9) == ["整个序", "列，每个", "时间步的", "输出"]  # never "，" first
    assert wrap("形状为 (2, 4, 32) 的张量", 12) == ["形状为", "(2, 4, 32)", "的张量"]
    assert wrap("最后一层（每层每个方向一行）", 10) == ["最后一层", "（每层每个", "方向一行）"]  # never "（" last
    assert wrap("用h_n[-1]的形状", 8) == ["用", "h_n[-1]", "的形状"]  # beside a narrow word too
    assert narrowest("整个序列，每个时间步") == 4 and narrowest("the sequence, every time step") == 9


def test_text_without_wide_characters_breaks_only_at_spaces():
    assert tokens("zeros (2, 4, 32) here") == ["zeros", " (2, 4, 32)", " here"]
    assert tokens("— not run, ✓ held") == ["—", " not", " run,", " ✓", " held"]
    assert wrap("a formula (H_in + (num_layers-1)*D*H_out)", 12)[0] == "a formula"
    # a group wider than the line, first: its pieces on the indented lines fit them too
    assert all(cell_width(line) <= 10 for line in wrap("U(-0.2236, 0.2236) top", 10, indent=4))


@pytest.mark.parametrize("text", SENTENCES)
def test_chinese_sentences_wrap_at_every_width(text):
    assert "".join(tokens(text)) == text
    for width in range(10, 121):
        lines = check_wrap(text, width)
        if cell_width(text) <= width:
            assert lines == [text]
        else:  # each line is as full as the breaks allow: the next piece did not fit on it
            assert len(lines) > 1
        check_wrap(text, width, indent=2)


def test_made_up_mixed_text_wraps_at_every_width():
    rng = random.Random(14)
    for _ in range(60):
        text = mixed_text(rng)
        assert "".join(tokens(text)) == text
        for width in range(10, 121, 1 if cell_width(text) > 10 else 20):
            check_wrap(text, width, indent=2 if width % 3 == 0 else 0)


def test_the_wrap_checks_can_fail(monkeypatch):
    with pytest.raises(AssertionError):  # a character lost
        read_back("整个序列，每个时间步", ["整个序列", "每个时间步"], 0)
    with pytest.raises(AssertionError):  # two characters swapped
        read_back("整个序列", ["整个列序"], 0)
    with pytest.raises(AssertionError):  # a space where the text has none
        read_back("整个序列", ["整个", " 序列"], 0)
    # Wrapped as English is (at spaces only): a Chinese sentence is cut by characters, anywhere.
    monkeypatch.setattr(text_module, "has_wide", lambda _: False)
    with pytest.raises(AssertionError):
        for sentence in SENTENCES:
            for width in range(10, 121):
                check_wrap(sentence, width)


# --- a section in Chinese keeps what the English keeps ---------------------------------------------

ZH = {
    "tensor": "张量", "shape": "形状", "dims": "维度", "meaning": "含义", "predicted": "预测",
    "input": "input", "the sequence, every time step": "整个序列，每个时间步",
    "initial state, every layer and direction": "初始状态，每层每个方向",
    "initial cell state, every layer and direction": "初始细胞状态，每层每个方向",
    "top layer, every time step (both directions side by side)": "最顶层，每个时间步（两个方向并排）",
    "every layer and direction, last step": "每层每个方向，最后一步",
    "cell state, every layer and direction, last step": "细胞状态，每层每个方向，最后一步",
    "— not run": "— 未运行",
    "identity": "恒等式", "why": "原因", "held": "成立",
    "the forward direction of the top layer ends at the last time step": "最顶层的正向在最后一个时间步结束",
    "the reverse direction runs t = L-1 .. 0, so it ends at step 0": "反向从 t = L-1 运行到 0，所以在第 0 步结束",
    "setting": "设置", "value": "值",
    "predicted from the formulas (--no-run): nothing was run or observed": "由公式预测 (--no-run)：没有运行，也没有观测",
    "sigmoid gates, tanh candidate (fixed)": "sigmoid 门，tanh 候选值（固定）",
    "2 (bidirectional)": "2（双向）",
    "torch started from zeros (2, 4, 32) because h_0 was not given": "没有给出 h_0，所以 torch 从全零 (2, 4, 32) 开始",
}

TENSORS = [
    ["input", "(5, 3, 10)", "(L, N, H_in)", "the sequence, every time step", "— not run"],
    ["h_0", "(4, 3, 20)", "(D*num_layers, N, H_out)", "initial state, every layer and direction", "— not run"],
    ["c_0", "(4, 3, 20)", "(D*num_layers, N, H_cell)", "initial cell state, every layer and direction", "— not run"],
    ["output", "(5, 3, 40)", "(L, N, D*H_out)", "top layer, every time step (both directions side by side)", "— not run"],
    ["h_n", "(4, 3, 20)", "(D*num_layers, N, H_out)", "every layer and direction, last step", "— not run"],
    ["c_n", "(4, 3, 20)", "(D*num_layers, N, H_cell)", "cell state, every layer and direction, last step", "— not run"],
]


def english_sections() -> list[Section]:
    return [
        Section("nn.LSTM(10, 20, num_layers=2, bidirectional=True)", ["tensor", "shape", "dims", "meaning", "predicted"],
                TENSORS, code={0, 1, 2}, prose={3}, optional=(3, 2)),
        Section("output and h_n", ["identity", "why", "held"], [
            ["output[-1, :, :20] == h_n[2]", "the forward direction of the top layer ends at the last time step", "—"],
            ["output[0, :, 20:] == h_n[3]", "the reverse direction runs t = L-1 .. 0, so it ends at step 0", "—"],
            ["h_0", "torch started from zeros (2, 4, 32) because h_0 was not given", "—"],
        ], code={0}, prose={1}, optional=(1,)),
        Section("settings", ["setting", "value"], [
            ["answer", "predicted from the formulas (--no-run): nothing was run or observed"],
            ["nonlinearity", "sigmoid gates, tanh candidate (fixed)"],
            ["D", "2 (bidirectional)"],
        ], prose={1}),
    ]


def in_chinese(section: Section) -> Section:
    def said(text: str) -> str:
        return ZH.get(text, text)

    return Section(section.title, [said(c) for c in section.columns], [[said(c) for c in row] for row in section.rows],
                   numeric=section.numeric, code=section.code, prose=section.prose, optional=section.optional)


def values(section: Section, plan) -> list[str]:
    """What must stay whole: every shown cell of a column that is not prose, and the code in a prose cell."""
    shown = range(len(section.columns)) if plan is None else plan.columns
    out = []
    for row in section.rows:
        for i in shown:
            if i in section.prose:
                out += [code for code in CODE if code in row[i]]
            elif row[i]:
                out.append(row[i])
    return out


def check_section(english: Section, chinese: Section, width: int) -> None:
    lines = plain(lay_out([chinese], width)).splitlines()
    assert all(cell_width(line) <= width and line == line.rstrip() for line in lines), (width, lines)
    en_plan, en_left = _choose(english, width)
    zh_plan, zh_left = _choose(chinese, width)
    if en_plan is not None:  # the English is a table: so is the Chinese, with every column the English keeps
        assert zh_plan is not None and set(zh_left) <= set(en_left), (english.title, width, en_left, zh_left)
    en_lines = plain(lay_out([english], width)).splitlines()
    shown = range(len(english.columns)) if en_plan is None else en_plan.columns
    for en_row, zh_row in zip(english.rows, chinese.rows):
        for i in shown:
            if i in english.prose:  # the code in a meaning: the same in both languages
                pairs = [(code, code) for code in CODE if code in en_row[i]]
                assert all(code in zh_row[i] for code, _ in pairs), (en_row[i], zh_row[i])
            else:
                pairs = [(en_row[i], zh_row[i])]
            for en_value, zh_value in pairs:
                if en_value and any(en_value in line for line in en_lines) and cell_width(zh_value) <= width - 6:
                    assert any(zh_value in line for line in lines), (width, zh_value, lines)


@pytest.mark.parametrize("width", range(40, 121))
def test_a_section_in_chinese_keeps_every_value_whole_where_the_english_does(width):
    for english in english_sections():
        check_section(english, in_chinese(english), width)


def test_the_section_check_can_fail(monkeypatch):
    """Wrapped as English is (at spaces only), a Chinese meaning is one long word: its column goes first."""
    monkeypatch.setattr(text_module, "has_wide", lambda _: False)
    with pytest.raises(AssertionError):
        for width in range(40, 121):
            for english in english_sections():
                check_section(english, in_chinese(english), width)


# --- a real report in Chinese ------------------------------------------------------------------------

CLOSING_FIRST = re.compile(r"(?m)^ *[，。、；：！？）」』】]")


def test_an_inspect_report_in_chinese_fits_every_width():
    report = rnnshape.inspect(rnnshape.RNNSpec(mode="lstm", input_size=10, hidden_size=20, num_layers=2,
                                               bidirectional=True), run=False)
    words = catalog("zh")
    prose = [cell for s in sections_of(report) for row in s.rows for i, cell in enumerate(row)
             if i in s.prose and isinstance(cell, Message)]
    if not any(words.get(cell.template) for cell in prose):
        pytest.skip("the catalog has no Chinese yet for the inspect report's prose")
    parts = readable_sections(report, "zh")
    for width in range(40, 121):
        text = render(report, "table", width=width, lang="zh")
        lines = text.splitlines()
        assert all(cell_width(line) <= width and line == line.rstrip() for line in lines), width
        assert not CLOSING_FIRST.search(text), width
        for section in parts:
            plan, _ = _choose(section, width)
            for value in values(section, plan):
                if cell_width(value) <= width - 6:
                    assert any(value in line for line in lines), (width, section.title, value)


def test_the_lines_layout_says_itself_are_said_in_chinese():
    from rnnshape.language import speaking, tr
    from rnnshape.render.layout import _text_lines

    words = catalog("zh")
    if not words.get("(left out to fit {width} columns: {names}; -f json has every column)"):
        pytest.skip("the catalog has no Chinese yet for layout.py's sentences")
    english = english_sections()[0]
    with speaking("zh"):
        text = plain(lay_out([in_chinese(english)], 40))
    assert "（为适应40列宽度而省略：含义、维度；-fjson含全部列）" in re.sub(r"\s", "", text), text
    text = plain(lay_out([english], 40))
    assert "(left out to fit 40 columns: meaning, dims; -f json has every column)" in " ".join(text.split()), text
    if words.get("refused: {config}: {reason}"):  # a sweep's refused configuration is a failure in Chinese too
        from rnnshape.render import _drawn

        refused = tr("refused: {config}: {reason}", config="lstm 8", reason="proj_size must be < hidden_size")
        with speaking("zh"):
            (drawn,) = _drawn([Section("sweep", [], [], lines=[refused])], ascii=False)
        assert not drawn.lines[0].startswith("refused")
        assert all(span.style == "failed" for spans in _text_lines(drawn, 40) for span in spans)
