"""How many decoded pixels this process detects on at once (its working-memory budget).

A detection holds ~16 bytes a pixel at its peak (RGB 3, the uint32 integral image 12, a
pyramid level), so a 40 Mpx image is ~640 MB: two or three at once pass a 1.5 GiB pod
limit. Calls that would exceed the budget while others run are refused at once with
RESOURCE_EXHAUSTED (retry), so the process is never killed for memory; one call alone is
always admitted up to the per-image pixel limit.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from services.runtime.errors import Overloaded

BYTES_PER_PIXEL = 16


class PixelBudget:
    def __init__(self, max_pixels: int):
        self.max_pixels = max_pixels
        self.in_use = 0

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        if self.in_use and self.in_use + pixels > self.max_pixels:
            raise Overloaded(
                f"detection busy: {self.in_use} pixels being detected, this image's {pixels} "
                f"would pass the budget of {self.max_pixels}; retry with backoff or downscale")
        self.in_use += pixels
        try:
            yield
        finally:
            self.in_use -= pixels
