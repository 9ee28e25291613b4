"""Transport-free content-quality scoring: validated ZhihuLiveDB records in, review scores out."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool
from services.text_quality.fields import Record, to_rows
from services.text_quality.settings import TextQualitySettings


@dataclass(frozen=True)
class ScoreResult:
    scores: np.ndarray  # (n,) float32 predicted review scores, 0..5, in record order
    model: str
    version: str


class TextQualityHandler:
    def __init__(self, settings: TextQualitySettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool

    async def score(self, records: Sequence[Record], deadline: float | None = None) -> ScoreResult:
        """Score every record in one model run (the batcher may join it with other calls)."""
        model = self._pool.model(self._settings.model)  # FAILED_PRECONDITION when not built
        self.check_count(len(records))
        with timed_stage("preprocess", model.name, model.version):
            rows = to_rows(records)
        (scores,) = await self._pool.infer(model.name, rows, deadline)
        return ScoreResult(scores.reshape(-1), model.name, model.version)

    def check_count(self, count: int) -> None:
        """INVALID_ARGUMENT for none, RESOURCE_EXHAUSTED past ``max_records`` (callers check
        before converting, so an oversized request costs nothing)."""
        if count == 0:
            raise InvalidInput("no records to score: send at least one ContentRecord")
        limit = self._settings.max_records
        if count > limit:
            raise TooLarge(
                f"{count} records in one request; at most {limit} are accepted, split the batch"
            )
