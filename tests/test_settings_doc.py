"""docs/configuration.md lists every setting of every process as the code defines it."""
from __future__ import annotations

from pathlib import Path

from xcloud.settings_doc import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_configuration_doc_is_current():
    assert DOC.read_text() == render(), "run `python -m xcloud.settings_doc > docs/configuration.md`"


def test_every_setting_is_described():
    undocumented = [line for line in render().splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert not undocumented, undocumented
