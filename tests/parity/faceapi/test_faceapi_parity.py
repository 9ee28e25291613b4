"""Our ONNX face-api models against face-api's own nets on TensorFlow.js, on real faces.

Both sides get identical float inputs (raw RGB 0..255), so the comparison covers the network
and its folded normalisation only; one end-to-end check per net also runs face-api's own
preprocessing (centred zero-padding to a square, TF's legacy bilinear resize) on a non-square
photo region. Pure-JS TensorFlow.js takes seconds per face, so the inputs are few and every
job runs in one node process.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.faceapi.export import SPECS
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from tests.parity.faceapi.preprocessing import to_batch_tensor
from tests.services.face_attributes.support import astronaut, astronaut_crop
from xcloud import names

pytestmark = pytest.mark.slow

TOLERANCE = 1e-4
NETS = {"age_gender": names.FACEAPI_AGE_GENDER, "expression": names.FACEAPI_EXPRESSION,
        "recognition": names.FACEAPI_RECOGNITION}
ASTRONAUT_FACE_REGION = (slice(45, 205), slice(160, 290))  # 160 x 130, around her face


def astronaut_crops(size: int) -> list[np.ndarray]:
    """The astronaut as the services see her: the gateway's crop, reframed tight and loose."""
    shared = astronaut_crop()
    return [reframe(shared, SHARED_CROP_MARGIN, margin, size)
            for margin in (0.0, SHARED_CROP_MARGIN)]


def data_faces(request: pytest.FixtureRequest, size: int) -> list[np.ndarray]:
    """One UTKFace and one SCUT-FBP5500 face when ../shared/data is here, else none."""
    try:
        root = request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        return []  # the astronaut alone still holds the parity; the data adds variety
    paths = [sorted((root / "utkface" / "images").glob("*.jpg"))[1234],
             sorted((root / "scut-fbp5500" / "images").glob("*.jpg"))[4321]]
    faces = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]
    return [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces]


@pytest.fixture(scope="module")
def inputs(request) -> dict[tuple[str, str], np.ndarray]:
    """(net, mode) -> NHWC float32 RGB 0..255 images."""
    region = astronaut()[ASTRONAUT_FACE_REGION].astype(np.float32)[None]
    jobs = {}
    for net, model in NETS.items():
        size = SPECS[model].size
        faces = astronaut_crops(size) + data_faces(request, size)
        jobs[(net, "network")] = np.stack(faces).astype(np.float32)
        jobs[(net, "pipeline")] = region
    return jobs


@pytest.fixture(scope="module")
def faceapi_outputs(faceapi_js, inputs) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    results = faceapi_js([(net, mode, images) for (net, mode), images in inputs.items()])
    return dict(zip(inputs, results))


def onnx_outputs(repository, net: str, nchw: np.ndarray) -> dict[str, np.ndarray]:
    model = LoadedModel(ModelRepository(repository).get(NETS[net]), ["CPUExecutionProvider"])
    return dict(zip(model.output_names, model.run(nchw.astype(np.float32))))


def assert_close(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    assert set(ours) == set(theirs)
    for name, want in theirs.items():
        assert ours[name].shape == want.shape, name
        worst = float(np.abs(ours[name] - want).max())
        assert worst <= TOLERANCE, f"{name}: max |onnx - face-api| = {worst:.3g}"


@pytest.mark.parametrize("net", sorted(NETS))
def test_networks_match_faceapi_on_real_faces(net, inputs, faceapi_outputs, faceapi_models):
    nchw = inputs[(net, "network")].transpose(0, 3, 1, 2)
    assert_close(onnx_outputs(faceapi_models, net, nchw), faceapi_outputs[(net, "network")])


@pytest.mark.parametrize("net", sorted(NETS))
def test_faceapi_preprocessing_end_to_end_on_a_photo(net, inputs, faceapi_outputs, faceapi_models):
    region = inputs[(net, "pipeline")][0]
    assert region.shape[0] != region.shape[1]  # so that both the padding and the resize run
    ours = onnx_outputs(faceapi_models, net, to_batch_tensor(region, SPECS[NETS[net]].size))
    assert_close(ours, faceapi_outputs[(net, "pipeline")])
