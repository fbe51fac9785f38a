"""Shell completion: Typer's --show-completion and --install-completion, and what a shell gets back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = str(Path(sys.executable).parent / "rnnshape")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_show_completion_prints_a_bash_script():
    result = run(["--show-completion", "bash"])
    assert result.returncode == 0, result.stderr
    assert "_rnnshape_completion" in result.stdout and "complete " in result.stdout


def test_install_completion_writes_into_the_users_home(tmp_path):
    result = run(["--install-completion", "bash"], HOME=str(tmp_path), SHELL="/bin/bash")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".bash_completions" / "rnnshape.sh").read_text().count("_rnnshape_completion") >= 1
    assert "rnnshape.sh" in (tmp_path / ".bashrc").read_text()


def test_the_shell_gets_commands_and_flags_back():
    commands = run([], _RNNSHAPE_COMPLETE="complete_bash", COMP_WORDS="rnnshape ch", COMP_CWORD="1")
    assert sorted(commands.stdout.split()) == ["check", "checkpoint"]
    flags = run([], _RNNSHAPE_COMPLETE="complete_bash", COMP_WORDS="rnnshape check --input-", COMP_CWORD="2")
    assert set(flags.stdout.split()) == {"--input-size", "--input-shape", "--input-dtype"}
