"""The docs cannot drift: every generated block is current, and CI runs the README's commands."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_current():
    # A separate process: gendocs fixes terminal width and colour before typer/rich load.
    result = subprocess.run(
        [sys.executable, "tools/gendocs.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=600
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


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests.strip() in ci.splitlines()
    assert "pip install -q torch==2.13.0" in ci


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
