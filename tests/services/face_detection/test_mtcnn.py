"""The cascade's control flow with scripted networks: which stage runs, with what batch."""
from __future__ import annotations

import numpy as np
import pytest

from services.face_detection.mtcnn import MtcnnDetector, MtcnnParams
from xcloud import names


class ScriptedNets:
    """Stands in for the three ONNX models; records every call."""

    def __init__(self, pnet_prob: float = 0.9, rnet_prob: float = 0.9, onet_prob: float = 0.9):
        self.probs = {names.MTCNN_PNET: pnet_prob, names.MTCNN_RNET: rnet_prob,
                      names.MTCNN_ONET: onet_prob}
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    async def __call__(self, name: str, batch: np.ndarray) -> list[np.ndarray]:
        assert batch.dtype == np.float32 and batch.ndim == 4 and batch.shape[1] == 3
        self.calls.append((name, batch.shape))
        n, p = len(batch), self.probs[name]
        if name == names.MTCNN_PNET:
            h, w = (batch.shape[2] - 12) // 2 + 1, (batch.shape[3] - 12) // 2 + 1
            prob = np.zeros((n, 2, h, w), np.float32)
            prob[:, 1, h // 2, w // 2], prob[:, 0] = p, 1 - p  # one candidate per scale
            return [np.zeros((n, 4, h, w), np.float32), prob]
        prob = np.tile(np.array([[1 - p, p]], np.float32), (n, 1))
        if name == names.MTCNN_RNET:
            return [np.zeros((n, 4), np.float32), prob]
        marks = np.tile(np.array([[0.3, 0.7, 0.5, 0.35, 0.65, 0.4, 0.4, 0.6, 0.8, 0.8]],
                                 np.float32), (n, 1))
        return [np.zeros((n, 4), np.float32), marks, prob]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


IMAGE = np.full((100, 120, 3), 90, np.uint8)


async def test_one_pnet_call_per_scale_then_one_batch_per_later_stage() -> None:
    nets = ScriptedNets()
    faces = await MtcnnDetector(nets).detect(IMAGE)
    # Shortest side at each scale: 60, 42.5, 30.2, 21.4, 15.2, then 10.8 < 12 stops.
    assert nets.names().count(names.MTCNN_PNET) == 5
    assert nets.calls[0][1] == (1, 3, 61, 73)  # int(100 * 0.6 + 1), int(120 * 0.6 + 1)
    assert nets.names()[-2:] == [names.MTCNN_RNET, names.MTCNN_ONET]
    rnet_batch = nets.calls[-2][1][0]
    assert rnet_batch >= 1 and nets.calls[-2][1][1:] == (3, 24, 24)
    assert nets.calls[-1][1][1:] == (3, 48, 48)
    assert len(faces) >= 1 and all(f.landmarks.shape == (5, 2) for f in faces)


async def test_landmarks_come_back_in_the_subjects_order() -> None:
    face = (await MtcnnDetector(ScriptedNets()).detect(IMAGE))[0]
    # The script puts the image-left eye at 0.3 of the width and the image-right eye at 0.7.
    assert face.landmarks[0, 0] > face.landmarks[1, 0]  # subject's left eye: image right
    assert face.landmarks[3, 0] > face.landmarks[4, 0]  # subject's left mouth corner too
    assert face.landmarks[2, 1] > face.landmarks[0, 1]  # nose under the eyes


@pytest.mark.parametrize("stage, expected_calls", [("pnet", {names.MTCNN_PNET}),
                                                   ("rnet", {names.MTCNN_PNET, names.MTCNN_RNET})])
async def test_a_stage_rejecting_everything_ends_the_cascade(stage, expected_calls) -> None:
    nets = ScriptedNets(**{f"{stage}_prob": 0.1})
    assert await MtcnnDetector(nets).detect(IMAGE) == []
    assert set(nets.names()) == expected_calls


async def test_onet_rejecting_everything_gives_no_faces() -> None:
    nets = ScriptedNets(onet_prob=0.5)
    assert await MtcnnDetector(nets).detect(IMAGE) == []
    assert nets.names()[-1] == names.MTCNN_ONET


async def test_too_small_image_runs_no_model() -> None:
    nets = ScriptedNets()
    assert await MtcnnDetector(nets).detect(np.zeros((19, 400, 3), np.uint8)) == []
    assert nets.calls == []


async def test_thresholds_are_taken_from_params() -> None:
    nets = ScriptedNets(pnet_prob=0.5, rnet_prob=0.5, onet_prob=0.5)
    params = MtcnnParams(stage_thresholds=(0.4, 0.4, 0.4))
    assert len(await MtcnnDetector(nets).detect(IMAGE, params)) >= 1


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
                                 np.zeros((10, 10, 3), np.float32)])
async def test_rejects_what_is_not_rgb_uint8(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        await MtcnnDetector(ScriptedNets()).detect(bad)
