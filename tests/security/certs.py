"""A throw-away certificate authority made in the test, never committed (xcloud.devcerts)."""
from __future__ import annotations

from xcloud.devcerts import DevCA, Issued


class TestCA(DevCA):
    __test__ = False  # not a pytest class

    def __init__(self, folder, name: str = "xcloud test CA"):
        super().__init__(folder, name, days=1)


__all__ = ["Issued", "TestCA"]
