"""The compute limit: the per-face pipeline's ONNX models called in this process, batched.

Detection (MTCNN on plain onnxruntime sessions, the service's defaults), the gateway's aligned
crops, then the shared trunk (attributes and embedding in one pass) and the expression net,
each run ONCE over every face of every image waiting. No gRPC, no serialisation, no queue
between processes: what the hardware gives for the same work, and the figure the served
pipeline is held against.

Requests wait in a queue; each of ``workers`` threads takes everything queued (up to
``max_batch`` images), detects its images one by one (P-Net's pyramid sizes differ per image,
so they do not batch), and runs each per-face model on the faces of the whole batch.

Threads: one worker per core, each session with one intra-op thread. The best of what was
tried on the 2-core machine (32 SCUT-FBP5500 images, load average 7): intra-op 1 gave
8.9-9.1 images/s with 1 or 2 workers, onnxruntime's default pools 5.2-5.4; one image at a
time without batching 7.9 (intra-op 1) and 4.6 (default). Batches of at most 4 images: on
the CPU the trunk answers 23 rows/s at batch 1, 19 at 4 and 17 at 16 (expression 820, 758,
453), so bigger batches buy nothing, and 16 queued images taken by one worker would leave the
other core idle.
"""
from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Sequence

import numpy as np

from benchmarks.face_views import PER_FACE_MODELS, FaceRows, concatenate, face_rows
from services.face_detection.handler import MTCNN_PARTS
from services.face_detection.mtcnn import MtcnnDetector, MtcnnParams
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel

MAX_ROWS = 32  # rows per per-face inference: the largest batch the services warm up


class RawPipeline:
    """detect -> crops -> trunk, embedding and expression for a list of images, on bare
    sessions."""

    def __init__(self, settings: FaceDetectionSettings, intra_op_threads: int = 1):
        repository = ModelRepository(settings.model_repository)
        self._models = {name: LoadedModel(repository.get(name), settings.providers,
                                          intra_op_threads)
                        for name in (*MTCNN_PARTS, *PER_FACE_MODELS)}
        self._detector = MtcnnDetector(self._infer)
        self._params = MtcnnParams(min_face_size=settings.min_face_size,
                                   score_threshold=settings.score_threshold)

    async def _infer(self, name: str, rows: np.ndarray) -> list[np.ndarray]:
        return self._models[name].run(rows)

    def rows_of(self, jpeg: bytes) -> FaceRows:
        rgb = decode_image(jpeg)
        return face_rows(rgb, asyncio.run(self._detector.detect(rgb, self._params)))

    def analyze(self, jpegs: Sequence[bytes]) -> list[int]:
        """Every image's faces through every per-face model; the face count of each image."""
        parts = [self.rows_of(jpeg) for jpeg in jpegs]
        rows = concatenate(parts)
        for name, block in rows.blocks():
            for start in range(0, len(block), MAX_ROWS):
                self._models[name].run(block[start:start + MAX_ROWS])
        return [p.faces for p in parts]


class BatchingRunner:
    """An awaitable front of RawPipeline: concurrent calls are merged into batches."""

    def __init__(self, pipeline: RawPipeline, workers: int = os.cpu_count() or 1,
                 max_batch: int = 4):
        self._pipeline = pipeline
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"raw-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    async def __call__(self, jpeg: bytes) -> int:
        """The image's face count once its batch has run."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((jpeg, future, loop))
        return await future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    extra = self._queue.get_nowait()
                except queue.Empty:
                    break
                if extra is None:  # closing: finish this batch, leave the sentinel for later
                    self._queue.put(None)
                    break
                batch.append(extra)
            self._run(batch)

    def _run(self, batch: list) -> None:
        try:
            counts = self._pipeline.analyze([jpeg for jpeg, _, _ in batch])
        except Exception as exc:  # noqa: BLE001 (every waiter of the batch gets the error)
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, None, exc)
            return
        for (_, future, loop), count in zip(batch, counts):
            loop.call_soon_threadsafe(_settle, future, count, None)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


def _settle(future: asyncio.Future, value: object, error: BaseException | None) -> None:
    if future.done():  # the caller gave up (cancelled)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
