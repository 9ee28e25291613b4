"""`xcloud bench --live`: the load generator against a gateway that is already running
(`make run`, a deployment), one load level after the other, into a report folder.

Each level gets ``warmup_s`` unmeasured seconds, then ``duration_s`` measured ones. Images
come from a folder and every call carries its own bytes (a JPEG comment) unless ``repeat``:
then identical images are sent again and the gateway's cache and single-flight may answer.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.faces import analyze_call
from benchmarks.inputs import ImageCycle, Photo
from benchmarks.loadgen import Load, Sweep, System, side_by_side
from benchmarks.markdown import write_report
from benchmarks.progress import WindowBar


@dataclass(frozen=True)
class LivePlan:
    gateway: str
    tasks: tuple[str, ...]
    loads: tuple[Load, ...]
    duration_s: float
    warmup_s: float
    repeat: bool = False  # let the cache and single-flight merge identical images


def loads_from(mode: str, concurrency: Sequence[int], rates: Sequence[float]) -> tuple[Load, ...]:
    levels = concurrency if mode == "closed" else rates
    if not levels:
        raise ValueError(f"--mode {mode} needs {'--concurrency' if mode == 'closed' else '--rate'}")
    return tuple(Load(mode, float(level)) for level in levels)


async def drive(plan: LivePlan, photos: Sequence[Photo], progress: WindowBar) -> Sweep:
    """Every load of the plan on the gateway; one curve ("gateway")."""
    progress.plan(len(plan.loads))
    points = []
    async with grpc.aio.insecure_channel(plan.gateway) as channel:
        call = analyze_call(channel, ImageCycle(photos, unique=not plan.repeat), list(plan.tasks),
                            no_cache=not plan.repeat)
        for load in plan.loads:
            found = await side_by_side([System("gateway", call)], load, 1, plan.duration_s,
                                       plan.warmup_s, progress)
            points.append((load, found["gateway"]))
    title = f"Analyze({', '.join(plan.tasks)}) at {plan.gateway}"
    return Sweep("live", title, {"gateway": points})


def report(sweep: Sweep, plan: LivePlan, folder: Path, command: str) -> Path:
    how = (f"Live run against {plan.gateway}: {plan.warmup_s:g} s of warm-up then "
           f"{plan.duration_s:g} s measured per load level; "
           f"{'repeated images (cache allowed)' if plan.repeat else 'every call its own bytes'}.")
    return write_report([], [sweep], folder, command, how)
