"""The load generator on trivial calls (no servers): closed and open loops, failures counted by
status code, side-by-side rounds, and the report folder with its plot. No timing is asserted:
only counts, shapes and files."""
from __future__ import annotations

import asyncio

import grpc
import pytest

from benchmarks import gpu
from benchmarks.harness import Measurement, Sample
from benchmarks.loadgen import Load, Sweep, System, closed_loop, open_loop, side_by_side
from benchmarks.markdown import write_report


def failing_every(n: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
    """A call that sleeps a little and fails with ``code`` every ``n``-th time."""
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        number = calls  # this call's, before other workers' calls move the counter
        await asyncio.sleep(0.001)
        if number % n == 0:
            raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata())

    return call


async def test_a_closed_loop_counts_answers_and_failures_by_code():
    sample = await closed_loop(failing_every(3), concurrency=4, duration_s=0.2)
    failed = dict(sample.errors)
    assert set(failed) == {"UNAVAILABLE"} and failed["UNAVAILABLE"] > 0
    assert len(sample.latencies) >= 2 * failed["UNAVAILABLE"]  # 2 answers per failure
    assert sample.throughput > 0 and all(t > 0 for t in sample.latencies)


async def test_an_open_loop_sends_poisson_arrivals_whatever_the_answers():
    async def wrong() -> None:
        raise ValueError("not the answer the request expected")

    sample = await open_loop(wrong, rate=200.0, duration_s=0.2)
    assert sample.latencies == () and dict(sample.errors)["ValueError"] > 5
    assert sample.figure("p99") != sample.figure("p99")  # NaN: no call answered


def test_loads_are_named_and_checked():
    assert Load("closed", 16).label == "c=16" and Load("closed", 16).concurrency == 16
    assert Load("open", 2.5).label == "2.5/s" and Load("open", 2.5).concurrency == 0
    with pytest.raises(ValueError):
        Load("open", 0)
    with pytest.raises(ValueError):
        Load("burst", 4)


async def test_side_by_side_alternates_the_systems_round_by_round():
    order: list[str] = []

    def recorder(name: str):
        async def call() -> None:
            order.append(name)
            await asyncio.sleep(0.002)
        return call

    systems = [System("a", recorder("a")), System("b", recorder("b"))]
    seen: list[tuple[str, int]] = []
    found = await side_by_side(systems, Load("closed", 1), rounds=3, round_s=0.02, warmup_s=0,
                               progress=lambda s, load, n, sample: seen.append((s, n)))
    assert seen == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert order[:2] == ["a", "b"]  # one warm-up call each first
    assert [len(found[k].rounds) for k in "ab"] == [3, 3]


def test_the_report_has_the_sweep_table_and_its_plot(tmp_path):
    def measured(latency: float) -> Measurement:
        return Measurement("x", 1, (Sample((latency,) * 10, 10 * latency, (("UNAVAILABLE", 1),)),))

    points = {"xcloud": [(Load("closed", c), measured(0.01 * c)) for c in (1, 4, 16)],
              "peer": [(Load("closed", c), measured(0.03 * c)) for c in (1, 4, 16)]}
    report = write_report([], [Sweep("demo", "Demo sweep", points)], tmp_path, "test", "how")
    text = report.read_text()
    assert "![Demo sweep](demo.png)" in text and "| peer | c=16 |" in text
    assert "UNAVAILABLE 1" in text
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_gpu_says_no_gpu_and_succeeds_without_one(monkeypatch, capsys):
    monkeypatch.setattr(gpu.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert gpu.main([]) == 0
    assert capsys.readouterr().out.startswith("no GPU")


def test_the_thread_budget_shares_the_cores_and_keeps_what_is_set():
    from xcloud.launcher import thread_budget
    from xcloud.stack import SERVICES

    small = thread_budget(SERVICES, cpus=2, environ={})
    assert {b["INTRA_OP_THREADS"] for b in small.values()} == {"1"}
    assert {n for n, b in small.items() if b.get("MAX_BATCH_SIZE") == "1"} == {
        "face_attributes", "expression"}
    large = thread_budget(SERVICES, cpus=16, environ={})
    assert {b["INTRA_OP_THREADS"] for b in large.values()} == {"2"}
    assert not any("MAX_BATCH_SIZE" in b for b in large.values())
    kept = thread_budget(SERVICES, cpus=2, environ={"XCLOUD_EXPRESSION_INTRA_OP_THREADS": "4"})
    assert kept["expression"] == {"MAX_BATCH_SIZE": "1"}
