"""`make lint` as a test: ruff over the Makefile's lint paths, with pyproject.toml's settings
(line-length 100, E501 enforced)."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def lint_paths() -> list[str]:
    """The folders the Makefile's ``lint`` target checks, read from its recipe."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n\t.*\bruff check (.+)$", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no `lint` target running `ruff check`"
    return recipe.group(1).split()


def test_the_lint_paths_are_read_from_the_makefile():
    assert {"services", "gateway", "models", "xcloud", "tests"} <= set(lint_paths())


def test_ruff_finds_nothing_on_the_lint_paths():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         *lint_paths()],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, f"`make lint` fails:\n{done.stdout}{done.stderr}"
