"""The xcloud CLI against a real in-process gateway and face-detection server over gRPC.

The CLI is blocking, the servers run on the test's event loop: every CLI call runs in a
worker thread (``asyncio.to_thread``) so the loop keeps serving it.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import types

import cv2
import numpy as np
import pytest
from google.protobuf import json_format
from PIL import Image

from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from tests.support.servers import running
from xcloud import names
from xcloud.cli import drawing, formatting
from xcloud.cli import eval as evaluation
from xcloud.cli import models as models_cli
from xcloud.cli.main import main
from xcloud.v1 import common_pb2, gateway_pb2


@pytest.fixture(scope="module")
async def face_detection(detection_models):
    settings = FaceDetectionSettings(port=0, metrics_port=0)
    async with running(FaceDetectionApp(settings), settings) as live:
        yield live


def _gateway(backend_address: str, metrics_url: str):
    app_module = pytest.importorskip("gateway.app", reason="the gateway app is not written yet")
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(
        port=0, metrics_port=None, redis_url=None, retries=0,
        backends={"face_detection": {"address": backend_address, "metrics_url": metrics_url}},
    )
    return app_module.GatewayApp(settings), settings


@pytest.fixture(scope="module")
async def gateway(face_detection):
    app, settings = _gateway(face_detection.address,
                             f"http://127.0.0.1:{face_detection.metrics_port}/metrics")
    async with running(app, settings) as live:
        yield live.address


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
async def gateway_with_dead_backend():
    app, settings = _gateway(_dead_address(), "")
    async with running(app, settings) as live:
        yield live.address


async def xcloud(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def images(tmp_path, astronaut_jpeg):
    astronaut = tmp_path / "astronaut.jpg"
    astronaut.write_bytes(astronaut_jpeg)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (96, 64), (200, 180, 160)).save(blank)
    return astronaut, blank


async def test_json_is_one_canonical_line_per_image_in_input_order(gateway, images, capsys):
    astronaut, blank = images
    code, out, err = await xcloud(capsys, "--gateway", gateway, "analyze", "--json",
                                  str(blank), str(astronaut))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    answers = [json_format.Parse(line, gateway_pb2.AnalyzeResponse()) for line in lines]
    assert [json_format.MessageToJson(a, indent=None) for a in answers] == lines
    assert [(a.image_width, a.image_height) for a in answers] == [(96, 64), (512, 512)]
    assert len(answers[0].faces) == 0 and len(answers[1].faces) == 1
    assert answers[1].statuses[0].task == "detection"
    assert answers[1].statuses[0].code == common_pb2.STATUS_CODE_OK


async def test_an_unreadable_file_fails_the_run_but_not_the_others(gateway, images, tmp_path,
                                                                   capsys):
    missing = tmp_path / "missing.jpg"
    code, out, err = await xcloud(capsys, "--gateway", gateway, "analyze", "--json",
                                  str(missing), str(images[0]))
    assert code == 1
    assert str(missing) in err and "cannot read" in err
    assert len(out.splitlines()) == 1


async def test_a_grpc_error_is_one_line_without_traceback(gateway, images, capsys):
    code, out, err = await xcloud(capsys, "analyze", "--gateway", gateway,
                                  "--tasks", "no_such_task", str(images[0]))
    assert code == 1 and out == ""
    assert "INVALID_ARGUMENT" in err and "no_such_task" in err
    assert "Traceback" not in err


async def test_readable_output_has_a_face_table_and_summary(gateway, images, capsys):
    code, out, err = await xcloud(capsys, "--gateway", gateway, "analyze", str(images[0]))
    assert code == 0, err
    assert out.startswith(f"{images[0]}  512x512  1 face")
    assert "left eye" in out and "mouth right" in out
    assert "Face 1 · score " in out and " · box (" in out


async def test_draw_writes_the_boxes_landmarks_and_summary_on_the_photo(gateway, images,
                                                                       tmp_path, capsys):
    astronaut, blank = images
    out_dir = tmp_path / "drawn"
    code, out, err = await xcloud(capsys, "--gateway", gateway, "analyze", "--json",
                                  "--draw", str(out_dir), str(astronaut), str(blank))
    assert code == 0, err
    assert len(out.splitlines()) == 2  # stdout is still one answer per image
    (face,) = json_format.Parse(out.splitlines()[0], gateway_pb2.AnalyzeResponse()).faces
    assert sorted(p.name for p in out_dir.iterdir()) == ["astronaut.png", "blank.png"]
    drawn = cv2.imread(str(out_dir / "astronaut.png"))
    original = cv2.cvtColor(decode_image(astronaut.read_bytes()), cv2.COLOR_RGB2BGR)
    assert drawn.shape == original.shape
    box = face.face.box
    x0, y0, x1, y1 = (round(v) for v in (box.x_min, box.y_min, box.x_max, box.y_max))
    # the four edges have the box colour all along (midpoints and near the corners)
    for x, y in [((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), (x0, (y0 + y1) // 2),
                 (x1, (y0 + y1) // 2), (x0 + 3, y0), (x1, y1 - 3)]:
        assert tuple(drawn[y, x]) == drawing.BOX_COLOUR, (x, y)
    # each of the five landmarks is a landmark-coloured dot inside the box
    for name in formatting.LANDMARKS:
        point = getattr(face.face.landmarks, name)
        x, y = round(point.x), round(point.y)
        assert x0 < x < x1 and y0 < y < y1, name
        assert tuple(drawn[y, x]) == drawing.LANDMARK_COLOUR, name
    # inside the box, only what was drawn changed: the rest of the face is the photo's
    inside = np.abs(drawn[y0 + 4:y1 - 3, x0 + 4:x1 - 3].astype(int)
                    - original[y0 + 4:y1 - 3, x0 + 4:x1 - 3]).max(axis=2)
    assert 0.001 < (inside > 0).mean() < 0.2
    # the summary line is a caption band above (or below) the box, outside it
    band = drawn[:y0 - 2] if y0 > 30 else drawn[y1 + 3:]
    assert (band == drawing.CAPTION_BACKGROUND).all(axis=2).sum() > 500
    assert (band == drawing.TEXT_COLOUR).all(axis=2).sum() > 20
    # an image without faces is written unchanged
    blank_drawn = cv2.imread(str(out_dir / "blank.png"))
    assert (blank_drawn == cv2.imread(str(blank))).all()
    assert f"-> {out_dir / 'astronaut.png'}" in err


def test_the_drawn_caption_is_the_face_summary_in_ascii():
    face = common_pb2.Face(score=0.987, box=common_pb2.BoundingBox(x_min=10, y_min=20, x_max=110,
                                                                   y_max=140))
    text = drawing.caption(1, gateway_pb2.FaceAnalysis(face=face))
    assert text == "Face 1 | score 0.99 | box (10,20)-(110,140)"


def test_two_inputs_with_one_name_get_two_pictures(tmp_path):
    taken: set = set()
    first = drawing.output_path(tmp_path, tmp_path / "a" / "x.jpg", taken)
    second = drawing.output_path(tmp_path, tmp_path / "b" / "x.png", taken)
    assert (first.name, second.name) == ("x.png", "x-2.png")


async def test_health_is_zero_when_everything_serves(gateway, capsys):
    code, out, err = await xcloud(capsys, "--gateway", gateway, "health", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    statuses = {p["process"]: p["status"] for p in report["processes"]}
    assert statuses == {"gateway": "SERVING", "face_detection": "SERVING"}
    detection = next(p for p in report["processes"] if p["process"] == "face_detection")
    assert detection["metrics"] is True


async def test_health_table(gateway, capsys):
    code, out, _ = await xcloud(capsys, "--gateway", gateway, "health")
    assert code == 0
    header, _rule, *rows = out.splitlines()
    assert header.split()[:3] == ["process", "gRPC", "address"]
    assert any(r.startswith("face_detection") and "SERVING" in r for r in rows)


async def test_health_is_one_when_a_backend_is_dead(gateway_with_dead_backend, capsys):
    code, out, _ = await xcloud(capsys, "--gateway", gateway_with_dead_backend, "--timeout", "2",
                                "health", "--json")
    assert code == 1
    statuses = {p["process"]: p["status"] for p in json.loads(out)["processes"]}
    assert statuses == {"gateway": "SERVING", "face_detection": "UNREACHABLE"}


async def test_health_says_when_the_gateway_is_unreachable(capsys):
    code, _, err = await xcloud(capsys, "--gateway", _dead_address(), "--timeout", "2", "health")
    assert code == 1
    assert "unreachable" in err


async def test_models_table_lists_the_detector_within_100_columns(gateway, capsys):
    code, out, err = await xcloud(capsys, "--gateway", gateway, "models")
    assert code == 0, err
    header, _rule, *rows = out.splitlines()
    assert header.split() == ["model", "version", "installed", "summary", "metric"]
    assert max(len(line) for line in out.splitlines()) <= 100
    onet = next(r for r in rows if r.startswith(f"{names.MTCNN_ONET} "))
    assert onet.split()[:4] == [names.MTCNN_ONET, "1", "yes", "MTCNN"]
    # the card's detection rate (models/metrics/mtcnn_onet.json), its headline metric
    assert re.search(r"  detection_rate 0\.\d+$", onet), onet


async def test_models_name_shows_the_whole_card(gateway, capsys):
    code, out, err = await xcloud(capsys, "--gateway", gateway, "models", names.MTCNN_ONET)
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines() if re.match(r"^[a-z]+:", line))
    assert fields["model"].strip() == names.MTCNN_ONET
    assert fields["service"].strip() == "face_detection"
    assert fields["installed"].strip() == "yes" and fields["version"].strip() == "1"
    assert "facenet-pytorch" in fields["source"]
    # the summary whole (wrapped), not its first sentence cut to the table's column
    summary = " ".join(out.split("summary:", 1)[1].split("metrics:")[0].split())
    assert summary.startswith("MTCNN stage 3 (O-Net)") and summary.endswith("48x48 crops.")
    metrics = out.split("metrics:", 1)[1]
    assert "detection" in metrics and re.search(r"detection_rate\s+0\.\d+", metrics)
    assert re.search(r"eye_error_nme\s+0\.\d+", metrics)
    assert max(len(line) for line in out.splitlines()) <= 100


async def test_models_name_json_is_that_models_entry(gateway, capsys):
    code, out, _ = await xcloud(capsys, "--gateway", gateway, "models", names.MTCNN_PNET, "--json")
    assert code == 0
    reply = json_format.Parse(out, common_pb2.ListModelsResponse())
    assert [m.model.name for m in reply.models] == [names.MTCNN_PNET]


async def test_an_unknown_model_name_is_an_error_naming_the_known_ones(gateway, capsys):
    code, out, err = await xcloud(capsys, "--gateway", gateway, "models", "no_such_model")
    assert code == 1 and out == ""
    assert "no model named 'no_such_model'" in err and names.MTCNN_ONET in err


def test_the_listing_cuts_summaries_at_a_word_to_fit_100_columns():
    long = common_pb2.ModelDescription(
        model=common_pb2.ModelInfo(name="a_model_with_a_rather_long_name", version="12"),
        installed=True, summary="A very long first sentence that cannot possibly fit into what "
        "is left of one hundred columns. A second sentence.",
        metrics={"eval.tar_at_far_0.001": 0.8573, "eval.threshold": 0.6})
    short = common_pb2.ModelDescription(model=common_pb2.ModelInfo(name="m"), summary="Short.")
    lines = models_cli.listing([long, short]).splitlines()
    assert max(map(len, lines)) <= 100
    assert "…" in lines[2] and "second" not in lines[2]
    assert lines[2].endswith("tar_at_far_0.001 0.857")
    assert lines[3].split() == ["m", "-", "no", "Short.", "-"]


def test_the_headline_metric_is_the_first_preferred_one_the_card_has():
    headline = models_cli.headline_metric
    assert headline({"age.mae": 5.2937, "age.detection_rate": 0.97}) == "mae 5.29"
    assert headline({"b.accuracy": 0.9, "a.accuracy": 0.8}) == "accuracy 0.8"
    assert headline({"images": 272.0}) == "-"
    assert models_cli.first_sentence("One e.g. two.  Three. Four") == "One e.g. two."


async def test_models_json_is_canonical(gateway, capsys):
    code, out, _ = await xcloud(capsys, "--gateway", gateway, "models", "--json")
    assert code == 0
    reply = json_format.Parse(out, common_pb2.ListModelsResponse())
    assert len(out.strip().splitlines()) == 1
    # map fields (metrics) have no fixed key order, so compare as JSON values, not text
    assert json.loads(json_format.MessageToJson(reply, indent=None)) == json.loads(out)


def test_eval_rejects_unknown_names(capsys):
    assert main(["eval", "no_such_eval"]) == 2
    err = capsys.readouterr().err
    assert "unknown evaluation 'no_such_eval'" in err and "detection" in err


def test_eval_says_when_its_module_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(evaluation.EVALUATIONS, "ghost", "models.evaluation.ghost_eval:main")
    assert main(["eval", "ghost"]) == 2
    assert "module models.evaluation.ghost_eval is missing" in capsys.readouterr().err


def test_eval_passes_data_json_and_limit(monkeypatch, tmp_path):
    seen = {}
    module = types.ModuleType("fake_evaluation")
    module.main = lambda data, as_json, limit: seen.update(data=data, json=as_json,
                                                           limit=limit) or 3
    monkeypatch.setitem(sys.modules, "fake_evaluation", module)
    monkeypatch.setitem(evaluation.EVALUATIONS, "fake", "fake_evaluation:main")
    monkeypatch.setenv("XCLOUD_DATA", str(tmp_path))
    assert main(["eval", "fake", "--json", "--limit", "5"]) == 3
    assert (seen["data"], seen["json"], seen["limit"]) == (str(tmp_path), True, 5)


def test_face_summary_takes_parts_from_later_tasks(monkeypatch):
    face = common_pb2.Face(score=0.987, box=common_pb2.BoundingBox(x_min=10.4, y_min=20.6,
                                                                   x_max=110, y_max=140))
    analysis = gateway_pb2.FaceAnalysis(face=face)
    assert formatting.face_summary(1, analysis) == "Face 1 · score 0.99 · box (10,21)-(110,140)"
    monkeypatch.setattr(formatting, "FACE_SUMMARY_PARTS",
                        [*formatting.FACE_SUMMARY_PARTS, lambda a: "age 31", lambda a: None])
    assert formatting.face_summary(2, analysis).endswith(" · age 31")


def test_failed_tasks_get_a_status_line():
    response = gateway_pb2.AnalyzeResponse(image_width=4, image_height=3, statuses=[
        common_pb2.TaskStatus(task="detection", code=common_pb2.STATUS_CODE_FAILED_PRECONDITION,
                              message=f"model {names.MTCNN_ONET} is not installed")])
    text = formatting.analysis_text("x.jpg", response)
    assert text.splitlines() == [
        "x.jpg  4x3  0 faces",
        f"  ! detection: FAILED_PRECONDITION: model {names.MTCNN_ONET} is not installed",
    ]


def test_a_global_option_after_the_command_wins(monkeypatch):
    from xcloud.cli.main import build_parser

    monkeypatch.setenv("XCLOUD_GATEWAY", "example:1")
    args = build_parser().parse_args(["--timeout", "3", "models", "--gateway", "h:2"])
    assert (args.gateway, args.timeout) == ("h:2", 3.0)
    args = build_parser().parse_args(["models"])
    assert (args.gateway, args.timeout) == (None, 30.0)  # main() fills in $XCLOUD_GATEWAY



def test_eval_calls_keyword_style_mains_by_keyword(monkeypatch, tmp_path):
    seen = {}

    def keyword_main(data=None, as_json=False, limit=None, write_card=True):
        seen.update(data=data, as_json=as_json, limit=limit)

    module = types.ModuleType("fake_keyword_evaluation")
    module.main = keyword_main
    monkeypatch.setitem(sys.modules, "fake_keyword_evaluation", module)
    monkeypatch.setitem(evaluation.EVALUATIONS, "kw", "fake_keyword_evaluation:main")
    assert main(["eval", "kw", "--data", str(tmp_path), "--limit", "2"]) == 0
    assert seen == {"data": str(tmp_path), "as_json": False, "limit": 2}


async def test_the_api_key_comes_from_the_environment(face_detection, monkeypatch, capsys):
    from gateway.app import GatewayApp
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(port=0, metrics_port=None, api_keys=["sesame"],
                               backends={"face_detection": {"address": face_detection.address}})
    async with running(GatewayApp(settings), settings) as live:
        monkeypatch.delenv("XCLOUD_API_KEY", raising=False)
        code, _, err = await xcloud(capsys, "--gateway", live.address, "models")
        assert code == 1 and "UNAUTHENTICATED" in err
        monkeypatch.setenv("XCLOUD_API_KEY", "sesame")
        code, out, err = await xcloud(capsys, "--gateway", live.address, "models")
        assert code == 0 and names.MTCNN_ONET in out, err
