"""The docs cannot drift: every generated block is current, and CI runs the README's commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# The pages in shards checked side by side (pytest-xdist): one process for all of them
# would be the suite's longest test by far.
SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_docs_are_current(shard):
    # A separate process: gendocs fixes terminal width and colour before typer/rich load.
    result = subprocess.run(
        [sys.executable, "tools/gendocs.py", "--check", "--shard", f"{shard}/{SHARDS}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_every_doc_page_has_generated_output_or_links():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    generated = [p for p in pages if "<!-- gen: " in p.read_text(encoding="utf-8")]
    assert ROOT / "README.md" in generated and ROOT / "docs" / "cli.md" in generated
    for fmt in ("table", "json", "markdown", "csv"):
        assert ROOT / "docs" / "formats" / f"{fmt}.md" in generated


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)


def test_readme_has_the_two_newcomer_commands():
    setup, tests = _readme_commands()
    assert "pip install torch==2.13.0" in setup and "rnnshape inspect --layers 2 --bidirectional" in setup
    assert "pytest" in tests


def test_getting_started_holds_the_readme_commands():
    setup, tests = _readme_commands()
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert re.findall(r"```bash\n(.*?)\n```", page, re.S)[:2] == [setup, tests]


def _nav_pages() -> list[str]:
    """The .md files named in mkdocs.yml's nav (read without PyYAML, which only the docs extra brings)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- (?:[^:\n]+: )?(\S+\.md)\s*$", nav, re.M)


# A Chinese page is `page.zh.md` beside `page.md` (mkdocs-static-i18n's suffix structure): the nav
# names the English page only, and the site shows the Chinese one in its place under /zh/.
TRANSLATION = ".zh.md"


def _doc_pages() -> list[str]:
    return sorted(str(p.relative_to(ROOT / "docs")).replace("\\", "/") for p in (ROOT / "docs").rglob("*.md"))


def test_mkdocs_nav_lists_every_page_and_only_pages_that_exist():
    nav = _nav_pages()
    assert nav[0] == "index.md" and len(nav) == len(set(nav))
    on_disk = [page for page in _doc_pages() if not page.endswith(TRANSLATION)]
    assert sorted(nav) == on_disk, f"not in nav: {set(on_disk) - set(nav)}; missing files: {set(nav) - set(on_disk)}"
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs_dir: docs" in config and "name: material" in config


def test_every_chinese_page_translates_a_page_of_the_nav_and_every_nav_title_is_translated():
    nav = _nav_pages()
    chinese = [page for page in _doc_pages() if page.endswith(TRANSLATION)]
    assert {"index.zh.md", "getting-started.zh.md", "concepts.zh.md", "your-own-model.zh.md", "glossary.zh.md"} <= set(chinese)
    for page in chinese:
        assert page[: -len(TRANSLATION)] + ".md" in nav, f"{page} translates no page of the nav"
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs_structure: suffix" in config and "locale: zh" in config
    translations = config.split("nav_translations:\n", 1)[1].split("\n\n", 1)[0]
    translated = set(re.findall(r"^\s+([^:\n]+): \S", translations, re.M))
    # A command's or a format's name (`- inspect: commands/inspect.md`) stays as it is in Chinese.
    entries = re.findall(r"^\s+- ([^:\n]+):[ ]*(\S*)$", config.split("\nnav:\n", 1)[1], re.M)
    titles = {title for title, page in entries if title != page.rsplit("/", 1)[-1].removesuffix(".md")}
    assert "Home" in titles and titles <= translated, f"nav titles without a Chinese title: {titles - translated}"


def test_cli_reference_covers_every_command():
    import typer

    from rnnshape.cli import app

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = [name for name, c in typer.main.get_command(app).commands.items() if not c.hidden]
    assert {"inspect", "verify", "code", "flow", "sweep", "checkpoint"} <= set(commands)
    for name in commands:
        assert f"## `rnnshape {name} --help`" in page, name


def test_every_command_page_shows_generated_output():
    for name in ("inspect", "verify", "code", "flow", "sweep", "checkpoint"):
        assert "<!-- gen: " in (ROOT / "docs" / "commands" / f"{name}.md").read_text(encoding="utf-8"), name


def test_svg_block_writes_the_picture_and_check_compares_it(tmp_path, monkeypatch):
    gendocs = _gendocs()
    (tmp_path / "docs" / "img").mkdir(parents=True)
    page = tmp_path / "docs" / "page.md"
    page.write_text("<!-- gen: svg docs/img/flow.svg | flow --seq-len 2 -->\n<!-- end -->\n", encoding="utf-8")
    picture = tmp_path / "docs" / "img" / "flow.svg"
    monkeypatch.setattr(gendocs, "documents", lambda: [page])
    monkeypatch.setattr(gendocs, "ROOT", tmp_path)
    assert gendocs.main(["--check"]) == 1  # no picture yet
    assert gendocs.main([]) == 0
    assert "![rnnshape flow --seq-len 2](img/flow.svg)" in page.read_text(encoding="utf-8")
    assert picture.read_bytes().startswith(b"<svg") and gendocs.main(["--check"]) == 0
    picture.write_bytes(picture.read_bytes().replace(b"t=1", b"t=9"))  # a stale picture
    assert gendocs.main(["--check"]) == 1
    assert gendocs.main([]) == 0 and gendocs.main(["--check"]) == 0


def test_pictures_differ_only_in_what_varies():
    gendocs = _gendocs()
    svg = b'<style>.terminal-123-r1 { fill: #c5c8c6 }</style><text class="terminal-123-r1" x="12.2">2.33e-08</text>'
    # Rich's id is a checksum of the text, so it moves with a rounding error; nothing else may.
    assert gendocs.same_picture(svg, svg.replace(b"123", b"987").replace(b"2.33e-08", b"2.47e-07"))
    assert not gendocs.same_picture(svg, svg.replace(b'x="12.2"', b'x="24.4"'))
    assert not gendocs.same_picture(svg, svg.replace(b"#c5c8c6", b"#000000"))


def _gendocs():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gendocs
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return gendocs


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests.strip() in ci.splitlines()
    assert "pip install -q torch==2.13.0" in ci
    assert "mkdocs build --strict" in ci


def test_generator_check_mode_fails_on_a_stale_block(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gendocs
    finally:
        sys.path.pop(0)
    page = tmp_path / "page.md"
    page.write_text("<!-- gen: rnnshape --version -->\nstale\n<!-- end -->\n", encoding="utf-8")
    monkeypatch.setattr(gendocs, "documents", lambda: [page])
    monkeypatch.setattr(gendocs, "ROOT", tmp_path)
    assert gendocs.main(["--check"]) == 1
    assert gendocs.main([]) == 0
    assert "rnnshape 0." in page.read_text(encoding="utf-8")
    assert gendocs.main(["--check"]) == 0


def test_check_ignores_only_the_size_of_rounding_errors():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gendocs
    finally:
        sys.path.remove(str(ROOT / "tools"))
    old = " output    0   forward     2.23e-08     1e-06   ✓\n ───────────\n h_0  (4, 3, 20)\n"
    # Another CPU: other rounding errors, so other column widths.
    assert gendocs.same_but_rounding(old, " output    0   forward     2.33e-08         9.06e-09   ✓\n ───────────────\n h_0  (4, 3, 20)\n")
    # Anything else that changes is stale: a shape, a verdict, a plain number.
    assert not gendocs.same_but_rounding(old, old.replace("(4, 3, 20)", "(4, 3, 21)"))
    assert not gendocs.same_but_rounding(old, old.replace("✓", "✗"))
    assert not gendocs.same_but_rounding(old, old.replace("forward", "reverse"))
    assert not gendocs.same_but_rounding("bound 0.2236\n", "bound 0.2237\n")


def test_performance_page_covers_every_benchmark():
    """docs/performance.md is written by benchmarks/bench.py: every benchmark it defines has a row."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert page.startswith("<!-- generated by benchmarks/bench.py")
    for b in bench.BENCHES:
        assert f"| {b.name} | `rnnshape {b.args}` |" in page, b.name
