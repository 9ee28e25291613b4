"""`make bench` in miniature: the harness on a trivial load, then every benchmark once with tiny
request counts against real servers (subprocesses on free loopback ports), the report folder
written from it. Only the table's shape and the figures' sanity are checked: timings on a
shared machine prove nothing.
"""
from __future__ import annotations

import asyncio
import io
import json
import math

import numpy as np
import pytest

from benchmarks.harness import PROFILES, Row, Skipped, Variant, compare, interleaved
from benchmarks.inputs import ImageCycle, Photo, astronaut, with_comment
from benchmarks.markdown import profile_note, write_report
from benchmarks.options import NAMES
from benchmarks.report import print_table, write_json
from benchmarks.run import BENCHMARKS, main, run_benchmarks, split
from services.runtime.imaging import decode_image

EXPECTED_ROWS = [
    ("batching", "c=1"), ("batching", "c=8"), ("batching", "c=32"),
    ("served_vs_raw", "c=8 / sequential"), ("served_vs_raw", "c=8 / 8 threads"),
    ("gateway", "c=1"), ("gateway", "c=8"),
    ("cache", "lru"), ("cache", "redis"),
    ("fine_grained", "c=8 / sequential"), ("fine_grained", "c=8 / 8 threads"),
    ("attributes", "c=8 / sequential"),
    ("per_face", "detect+attributes+expression+embedding / detect, c=1"),
    ("per_face", "detect+attributes+expression+embedding / detect, c=16"),
    ("gallery", "identify over 1,000 x 128-d"),
    ("compute_limit", "c=16"),
    ("naive", "c=16"), ("naive", "c=1"),
    ("thread_budget", "c=16"), ("thread_budget", "c=1"),
    ("mlserver_expression", "c=16"), ("mlserver_expression", "c=16 p99"),
    ("mlserver_expression", "c=16 vs our threads"),
    ("mlserver_trunk", "c=16"), ("mlserver_trunk", "c=16 p99"),
    ("mlserver_trunk", "c=16 vs our threads"),
]
# Without .venv-mlserver (make mlserver-venv) each MLServer comparison is one skipped row.
MLSERVER_SKIPPED = [("mlserver_expression", "c=16"), ("mlserver_trunk", "c=16")]


def figures(row: Row) -> list[float]:
    described = row.as_dict()
    return [described["ratio"]] + [described[side][name] for side in ("a", "b")
                                   for name in ("req/s", "p50", "p95", "p99")]


async def test_interleaved_rounds_give_one_measurement_per_variant_and_a_ratio():
    async def pause() -> None:
        await asyncio.sleep(0.001)

    profile = PROFILES["quick"]
    found = await interleaved([Variant("a", pause, 4), Variant("b", pause, 1, requests=4)], profile)
    assert [len(found[k].rounds) for k in "ab"] == [profile.rounds] * 2
    assert [len(s.latencies) for s in found["a"].rounds] == [profile.requests(4)] * profile.rounds
    assert [len(s.latencies) for s in found["b"].rounds] == [4] * profile.rounds
    row = compare("trivial", "c=4", found["a"], found["b"], "req/s")
    assert all(math.isfinite(x) and x > 0 for x in figures(row))
    assert len(row.ratios) == profile.rounds
    with pytest.raises(ValueError, match="unknown figure"):
        compare("trivial", "c=4", found["a"], found["b"], "p99.9")


async def test_at_concurrency_one_the_variants_take_turns_request_by_request():
    calls: list[str] = []

    def recorder(label: str):
        async def call() -> None:
            calls.append(label)
        return call

    profile = PROFILES["smoke"]
    await interleaved([Variant("a", recorder("a"), 1), Variant("b", recorder("b"), 1)], profile)
    assert calls == ["a", "b"] + ["a", "b", "b", "a"]  # warm-up, then turns within the round


def test_unique_images_have_new_bytes_and_the_same_pixels():
    jpeg = astronaut(side=64).jpeg
    variants = {with_comment(jpeg, n) for n in range(3)}
    assert len(variants) == 3 and jpeg not in variants
    for variant in variants:
        np.testing.assert_array_equal(decode_image(variant), decode_image(jpeg))
    cycle = ImageCycle([Photo("a", b"\xff\xd8a"), Photo("b", b"\xff\xd8b")])
    assert [cycle() for _ in range(3)] == [b"\xff\xd8a", b"\xff\xd8b", b"\xff\xd8a"]


async def test_a_broken_benchmark_gets_a_failed_row_and_the_others_still_run(monkeypatch):
    async def broken(testbed, profile):
        raise RuntimeError("boom")

    async def fine(testbed, profile):
        return [Skipped("fine", "-", "nothing to measure")]

    monkeypatch.setitem(BENCHMARKS, "broken", broken)
    monkeypatch.setitem(BENCHMARKS, "fine", fine)
    rows = await run_benchmarks(["broken", "fine"], PROFILES["smoke"], [Photo("p", b"")])
    assert rows == [Skipped("broken", "-", "failed: RuntimeError: boom", failed=True),
                    Skipped("fine", "-", "nothing to measure")]


def test_unknown_benchmark_names_are_refused(capsys):
    assert main(["--only", "no_such_benchmark", "--no-progress"]) == 2
    assert "unknown benchmark(s) ['no_such_benchmark']" in capsys.readouterr().err


def test_the_command_line_knows_every_benchmark():
    assert NAMES == tuple(BENCHMARKS)


def expected_rows(rows) -> list[tuple[str, str]]:
    mlserver_absent = any(isinstance(r, Skipped) and "MLServer is not installed" in r.reason
                          for r in rows)
    if not mlserver_absent:
        return EXPECTED_ROWS
    return [key for key in EXPECTED_ROWS
            if not key[0].startswith("mlserver_") or key in MLSERVER_SKIPPED]


def skip_is_expected(row: Skipped) -> bool:
    """Only a missing redis-server or MLServer venv may skip a row."""
    return ((row.case == "redis" and "redis-server" in row.reason)
            or "MLServer is not installed" in row.reason)


@pytest.mark.slow
async def test_every_benchmark_runs_and_reports_its_rows(detection_models, tmp_path):
    profile = PROFILES["smoke"]
    photos = [astronaut(side=256)]
    results = await run_benchmarks(list(BENCHMARKS), profile, photos, photos)
    rows, sweeps = split(results)
    expected = expected_rows(rows)
    assert [(r.benchmark, r.case) for r in rows] == expected
    for row in rows:
        if isinstance(row, Skipped):
            assert not row.failed and skip_is_expected(row), row
        else:
            assert all(math.isfinite(x) and x > 0 for x in figures(row)), row.as_dict()
            assert not row.a.errors and not row.b.errors, row.as_dict()
    mlserver = {"mlserver_expression", "mlserver_trunk"} if expected == EXPECTED_ROWS else set()
    plotted = {"compute_limit", "naive", "thread_budget"} | mlserver
    assert {s.benchmark for s in sweeps} == plotted

    table = io.StringIO()
    print_table(rows, profile, table)
    lines = table.getvalue().splitlines()
    assert len(lines) == 4 + len(expected)  # title, header, rule, rows, legend
    for line, (benchmark, case) in zip(lines[3:], expected):
        assert line.startswith(benchmark) and f" {case} " in line, line
    write_json(rows, profile, tmp_path / "latest.json")
    document = json.loads((tmp_path / "latest.json").read_text())
    assert len(document["rows"]) == len(expected) and document["machine"]["cpus"]

    report = write_report(rows, sweeps, tmp_path / "report", "test", profile_note(profile))
    text = report.read_text()
    assert "| compute_limit | c=16 |" in text and "≥ 0.8" in text
    for sweep in sweeps:
        assert (report.parent / f"{sweep.benchmark}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
async def test_xcloud_bench_live_drives_a_running_gateway(detection_models, tmp_path, capsys):
    from benchmarks.testbed import Testbed
    from xcloud.cli.main import main as xcloud

    images = tmp_path / "images"
    images.mkdir()
    (images / "astronaut.jpg").write_bytes(astronaut(side=256).jpeg)
    testbed = Testbed([astronaut(side=256)])
    try:
        gateway = await testbed.gateway()
        argv = ["--gateway", gateway.address, "bench", "--live", "--tasks", "detection",
                "--mode", "open", "--rate", "4", "--duration", "0.5", "--warmup-s", "0",
                "--images", str(images), "--out", str(tmp_path / "live"), "--no-progress"]
        code = await asyncio.to_thread(xcloud, argv)
    finally:
        await testbed.close()
    assert code == 0, capsys.readouterr()
    assert "4/s" in capsys.readouterr().out
    assert (tmp_path / "live" / "live.png").is_file()
    assert "Analyze(detection)" in (tmp_path / "live" / "report.md").read_text()
