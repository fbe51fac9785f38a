"""Regenerate every output shown in README.md and docs/ from the tool itself.

A Markdown file marks a generated block with a start comment and `<!-- end -->`:

    <!-- gen: rnnshape inspect --layers 2 -->      the command's stdout, fenced as text
    <!-- gen: rnnshape-raw inspect -f markdown --> its stdout pasted raw (it is Markdown)
    <!-- gen: rnnshape-env COLUMNS=80 | inspect -->  the command with these environment variables set
                                                   (PYTHONIOENCODING: the console's encoding)
    <!-- gen: rnnshape-section TITLE | inspect -f markdown -->  only the section whose title starts with TITLE
    <!-- gen: source docs/examples/api.py -->      a file's text, fenced in its language
    <!-- gen: output docs/examples/api.py -->      what running that file prints
    <!-- gen: svg docs/img/flow.svg | flow --layers 2 -->  the command run with --svg docs/img/flow.svg
                                                   (the tool writes the picture); the block is its
                                                   Markdown image link, relative to the page
    <!-- gen: notebook docs/in-a-notebook.ipynb --> the notebook executed headless: its cells, and the
                                                   HTML and text each shows (nbclient, ipykernel)
    <!-- gen: cli-reference rnnshape -->           `rnnshape --help`, then `--help` of every command
                                                   the app registers, in its order, one heading each

    python tools/gendocs.py          rewrite the blocks (and the SVG files) in place
    python tools/gendocs.py --check  exit 1 and name each stale block or picture (CI runs this)
    python tools/gendocs.py --check --shard 1/3   only the second of three shares of about equal cost:
                                                   the test suite checks the shards side by side

Commands run in this process through Typer's CliRunner, at a fixed width and
without colour, so the output is the same on every machine -- except rounding
errors: verify's error columns (1e-08 and the like) come from CPU-specific
kernels and differ between an AVX2 and an AVX-512 machine. --check therefore
compares numbers written in scientific notation by position only (and so
ignores the column widths they change).

An SVG is written by Rich's Console.save_svg, which is byte-for-byte the same
on every run: its only unusual part is the `terminal-<number>` id prefix of its
CSS classes and clip paths, an adler32 of the recorded text and the title. --check
writes the picture afresh into a temporary folder and compares it with the
committed file with that id masked, and with numbers in scientific notation
masked as in text (the id is a checksum of them too); everything else, every
coordinate included, must match exactly.
"""

from __future__ import annotations

import os

# Before typer or rich are imported: fixed-width, colourless help and tables.
os.environ["TERMINAL_WIDTH"] = "100"
os.environ["COLUMNS"] = "100"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ["NO_COLOR"] = "1"
# English unless a block says --lang zh: a writer's zh_CN locale must not turn the English pages Chinese.
os.environ["RNNSHAPE_LANG"] = "en"

import functools  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- gen: (?P<kind>[\w-]+) (?P<arg>.*?) -->\n)(?P<body>.*?)(<!-- end -->)", re.S)
LANGUAGES = {".py": "python", ".sh": "bash"}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def run_rnnshape(args: str, env: dict[str, str] | None = None) -> str:
    """`rnnshape ARGS` in this process; `env` as a shell would set it (PYTHONIOENCODING as the console's encoding)."""
    from typer.testing import CliRunner

    from rnnshape.cli import app

    env = dict(env or {})
    charset = env.pop("PYTHONIOENCODING", "utf-8")
    result = CliRunner(charset=charset).invoke(app, shlex.split(args), prog_name="rnnshape", env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # CliRunner turns a traceback into exit code 1, which would pass for a failed check.
        raise SystemExit(f"gendocs: `rnnshape {args}` raised {result.exception!r}")
    if result.exit_code not in (0, 1):
        raise SystemExit(f"gendocs: `rnnshape {args}` exited {result.exit_code}: {result.stderr}")
    return result.stdout


def cli_reference(prog: str) -> str:
    """`--help` of the app, then of every command it registers (hidden ones aside), in its order."""
    import typer

    from rnnshape.cli import app

    commands = [name for name, command in typer.main.get_command(app).commands.items() if not command.hidden]
    parts = []
    for args in ["--help", *(f"{name} --help" for name in commands)]:
        parts.append(f"## `{prog} {args}`\n\n" + fence(_strip_trailing_spaces(run_rnnshape(args))))
    return "\n".join(parts)


def run_svg(target: str, args: str, pictures: dict[Path, bytes]) -> None:
    """Run `rnnshape ARGS --svg` into a temporary file; the fresh bytes go to `pictures[ROOT/target]`."""
    if not target.endswith(".svg"):
        raise SystemExit(f"gendocs: svg block: {target!r} is not an .svg path")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / Path(target).name
        run_rnnshape(f"{args} --svg {shlex.quote(str(fresh))}")
        pictures[ROOT / target] = fresh.read_bytes()


@functools.lru_cache(maxsize=None)  # a Chinese page shows the same example's output as its English one: run it once
def run_file(path: str) -> str:
    env = dict(os.environ)
    # The example scripts call `rnnshape` and `python`: the ones beside this interpreter.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    command = ["bash", path] if path.endswith(".sh") else [sys.executable, path]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"gendocs: {path} exited {result.returncode}: {result.stderr}")
    return result.stdout


def run_notebook(path: str) -> str:
    """The notebook executed headless (nbclient, a fresh ipykernel), as the page shows it: each markdown
    cell as it is, each code cell fenced, and its outputs: the HTML a report draws itself as, raw
    (the site renders it, as Jupyter does), text fenced."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(str(ROOT / path), as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    parts = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source.rstrip() + "\n")
            continue
        parts.append(fence(cell.source, "python"))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                parts.append(data["text/html"].rstrip() + "\n")
            elif output.get("output_type") == "stream" or "text/plain" in data:
                parts.append(fence(_strip_trailing_spaces(output.get("text") or data["text/plain"])))
    return "\n".join(parts)


def fence(text: str, language: str = "text") -> str:
    return f"```{language}\n{text.rstrip()}\n```\n"


def generate(kind: str, arg: str, page: Path | None = None, pictures: dict[Path, bytes] | None = None) -> str:
    if kind == "rnnshape":
        return fence(_strip_trailing_spaces(run_rnnshape(arg)))
    if kind == "rnnshape-env":
        assignments, _, args = (part.strip() for part in arg.partition("|"))
        env = dict(item.split("=", 1) for item in shlex.split(assignments))
        return fence(_strip_trailing_spaces(run_rnnshape(args, env)))
    if kind == "rnnshape-raw":
        return run_rnnshape(arg).rstrip() + "\n"
    if kind == "rnnshape-section":
        title, _, args = (part.strip() for part in arg.partition("|"))
        return markdown_section(run_rnnshape(args), title)
    if kind == "source":
        return fence((ROOT / arg).read_text(encoding="utf-8"), LANGUAGES.get(Path(arg).suffix, "text"))
    if kind == "output":
        return fence(_strip_trailing_spaces(run_file(arg)))
    if kind == "cli-reference":
        return cli_reference(arg)
    if kind == "notebook":
        return run_notebook(arg)
    if kind == "svg":
        target, _, args = (part.strip() for part in arg.partition("|"))
        run_svg(target, args, {} if pictures is None else pictures)
        link = os.path.relpath(ROOT / target, (page or ROOT / "page.md").parent).replace(os.sep, "/")
        return f"![rnnshape {args}]({link})\n"
    raise SystemExit(f"gendocs: unknown block kind {kind!r}")


def markdown_section(markdown: str, title: str) -> str:
    """One `**title**` section of rnnshape's markdown output, up to the next one."""
    lines, out = markdown.splitlines(), []
    for line in lines:
        if line.startswith("**"):
            if out:
                break
            if line.strip("*`").startswith(title):
                out.append(line)
        elif out:
            out.append(line)
    if not out:
        raise SystemExit(f"gendocs: no section {title!r} in rnnshape's output")
    return "\n".join(out).rstrip() + "\n"


def _strip_trailing_spaces(text: str) -> str:
    # Rich pads table lines to their width; trailing blanks only make diffs noisy.
    return "\n".join(line.rstrip() for line in text.splitlines())


def refresh(text: str, page: Path | None = None, pictures: dict[Path, bytes] | None = None) -> str:
    """The page with every block regenerated; the SVG pictures its svg blocks made go to `pictures`."""
    return BLOCK.sub(lambda m: m.group(1) + generate(m["kind"], m["arg"], page, pictures) + m.group(5), text)


_ROUNDING_ERROR = re.compile(r"\b\d+(?:\.\d+)?e[-+]\d+\b")
_PADDING = re.compile(r"([ ─-])\1+")


def same_but_rounding(old: str, new: str) -> bool:
    """Equal once each scientific-notation number (a rounding error's size) is masked,
    with the padding and rules whose width those numbers set collapsed."""

    def mask(text: str) -> str:
        return _PADDING.sub(r"\1", _ROUNDING_ERROR.sub("#e", text))

    return mask(old) == mask(new)


_SVG_ID = re.compile(rb"\bterminal-\d+")
_SVG_ROUNDING_ERROR = re.compile(_ROUNDING_ERROR.pattern.encode())


def same_picture(old: bytes, new: bytes) -> bool:
    """Equal once Rich's id (a checksum of the text) and scientific-notation numbers are masked."""

    def mask(svg: bytes) -> bytes:
        return _SVG_ROUNDING_ERROR.sub(b"#e", _SVG_ID.sub(b"terminal-#", svg))

    return mask(old) == mask(new)


def shard(argv: list[str]) -> tuple[int, int]:
    """--shard K/N: the K-th of N shares of the pages (0/1, every page, without it)."""
    if "--shard" not in argv:
        return 0, 1
    k, n = (int(part) for part in argv[argv.index("--shard") + 1].split("/"))
    if not 0 <= k < n:
        raise SystemExit(f"gendocs: --shard {k}/{n}: K must be in 0..N-1")
    return k, n


# What a block costs, roughly: running a file or a notebook starts an interpreter that imports torch.
_SLOW_BLOCK = re.compile(r"<!-- gen: (?:output|notebook) (\S+)")


def shares(pages: list[Path], n: int) -> list[list[Path]]:
    """The pages in N shares of about equal cost, a page with its translations (x.zh.md) in one share,
    where the examples they both show run once (run_file's cache)."""
    groups: dict[str, list[Path]] = {}
    for page in pages:
        groups.setdefault(str(page).replace(".zh.md", ".md"), []).append(page)

    def cost(group: list[Path]) -> float:
        texts = [page.read_text(encoding="utf-8") for page in group]
        slow = {m.group(1) for text in texts for m in _SLOW_BLOCK.finditer(text)}
        return 1 + 3 * len(slow) + sum(text.count("<!-- gen: ") for text in texts) * 0.2

    out: list[list[Path]] = [[] for _ in range(n)]
    load = [0.0] * n
    for group in sorted(groups.values(), key=cost, reverse=True):  # the longest first, each to the lightest share
        i = load.index(min(load))
        out[i] += group
        load[i] += cost(group)
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    k, n = shard(argv)
    stale = []
    pictures: dict[Path, bytes] = {}
    for path in shares(documents(), n)[k]:
        old = path.read_text(encoding="utf-8")
        new = refresh(old, path, pictures)
        if new != old and not (check and same_but_rounding(old, new)):
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new, encoding="utf-8")
    for picture, fresh in pictures.items():
        old_bytes = picture.read_bytes() if picture.exists() else None
        if old_bytes != fresh and not (check and old_bytes is not None and same_picture(old_bytes, fresh)):
            stale.append(picture.relative_to(ROOT))
            if not check:
                picture.parent.mkdir(parents=True, exist_ok=True)
                picture.write_bytes(fresh)
    if check and stale:
        print("stale generated docs: " + ", ".join(map(str, stale)) + "; run: python tools/gendocs.py", file=sys.stderr)
        return 1
    verb = "would change" if check else "rewrote"
    print(f"gendocs: {verb} {len(stale)} of {len(documents()) + len(pictures)} files" if stale else "gendocs: all generated blocks are current")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
