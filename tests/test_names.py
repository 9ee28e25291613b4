"""Model names are spelled once, in xcloud/names.py: the build, the services and the tests
import them."""
from __future__ import annotations

import ast
from pathlib import Path

from models.build import BUILDERS
from xcloud import names

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("services", "gateway", "xcloud", "models", "benchmarks", "tests")
# tests/test_names.py: its own exception below spells a subcommand that is also a model name
SKIPPED = ("xcloud/v1", "xcloud/names.py", "models/.cache", "models/repository",
           "tests/test_names.py")
# A string equal to a model name that is not one: `xcloud eval blazeface` is a subcommand.
NOT_MODEL_NAMES = {("xcloud/cli/eval.py", "blazeface")}
NAMES = {value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)}


def _spelled() -> list[str]:
    found = []
    for root in SOURCES:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            where = path.relative_to(REPO_ROOT).as_posix()
            if where.startswith(SKIPPED):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in NAMES \
                        and (where, node.value) not in NOT_MODEL_NAMES:
                    found.append(f"{where}:{node.lineno}: {node.value!r}")
    return found


def test_no_model_name_is_spelled_outside_the_names_module():
    assert _spelled() == [], "use xcloud.names instead of the string"


def test_every_built_model_has_a_name():
    assert {builder.name for builder in BUILDERS} <= NAMES
