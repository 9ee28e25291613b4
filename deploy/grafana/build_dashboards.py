"""The Grafana dashboards of deploy/grafana/dashboards/, built with grafana-foundation-sdk.

`make dashboards` (``python -m deploy.grafana.build_dashboards``) writes every dashboard of
``DASHBOARDS`` as JSON; ``--check`` only compares and exits 1 when a committed file differs, and
tests/deploy/test_dashboards.py does the same, so the JSON never drifts from this source.

The module lives here, beside the JSON it writes, and not in the ``xcloud`` package: the SDK is
a development dependency (the ``dev`` extra), and the service images install ``xcloud`` without
it. Grafana, docker-compose and the Helm chart still read only the generated JSON.

Panels are laid out by the SDK's builder: left to right, 24 columns per line, a row starts a new
line. Ids are numbered in the order panels are added.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
HEIGHT = 8
RATE = "[$__rate_interval]"
# gRPC codes counted as the server's failure (the XCloudHighErrorRate alert uses the same set).
SERVER_ERRORS = "INTERNAL|UNKNOWN|UNAVAILABLE|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|" \
                "FAILED_PRECONDITION|DATA_LOSS"

Target = tuple[str, str]  # (PromQL expression, legend format)


# ---- building blocks ---------------------------------------------------------------------------

def query(ref_id: str, expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().datasource(DATASOURCE).ref_id(ref_id).expr(expr) \
        .legend_format(legend)


def with_targets(panel, targets: Sequence[Target]):
    """Add the targets with refIds A, B, C... in order."""
    for index, (expr, legend) in enumerate(targets):
        panel.with_target(query(chr(ord("A") + index), expr, legend))
    return panel


def graph(title: str, description: str, unit: str, width: int,
          targets: Sequence[Target]) -> timeseries.Panel:
    """A time series: legend as a list below, tooltip of every series, largest first."""
    panel = (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
        .unit(unit).height(HEIGHT).span(width)
        .legend(common.VizLegendOptions().display_mode(common_models.LegendDisplayMode.LIST)
                .placement(common_models.LegendPlacement.BOTTOM).show_legend(True))
        .tooltip(common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI)
                 .sort(common_models.SortOrder.DESCENDING))
    )
    return with_targets(panel, targets)


def rate(metric: str, by: str, selector: str) -> str:
    """``sum by (BY) (rate(METRIC{SELECTOR}[$__rate_interval]))`` (``sum(...)`` when BY is '')."""
    grouping = f"sum by ({by}) " if by else "sum"
    labels = f"{{{selector}}}" if selector else ""
    return f"{grouping}(rate({metric}{labels}{RATE}))"


def quantile(q: float, metric: str, by: str, selector: str) -> str:
    return f"histogram_quantile({q:g}, {rate(metric + '_bucket', by + ', le', selector)})"


def query_variable(name: str, label: str, definition: str) -> dashboard.QueryVariable:
    """A multi-select label filter whose "All" matches every value (``.*``)."""
    return (
        dashboard.QueryVariable(name).label(label).datasource(DATASOURCE)
        .query({"query": definition, "refId": name})
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True).multi(True).all_value(".*")
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .current(models.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


# ---- the XCloud dashboard ----------------------------------------------------------------------

SERVICE = 'service=~"$service"'
MODEL = 'model=~"$model"'
TASK = 'task=~"$task"'


def request_panels() -> list:
    requests = "xcloud_grpc_requests_total"
    latency = "xcloud_grpc_request_seconds"
    timed = f'{SERVICE}, method!="ListModels"'
    return [
        dashboard.Row("Requests, per service"),
        graph("Request rate", "gRPC calls handled per second (xcloud_grpc_requests_total).",
              "reqps", 8, [(rate(requests, "service, method", SERVICE),
                            "{{service}} {{method}}")]),
        graph("Errors by code", "Calls that did not end OK. INVALID_ARGUMENT is the caller's; "
              "INTERNAL, UNAVAILABLE, RESOURCE_EXHAUSTED are ours.", "reqps", 8,
              [(rate(requests, "service, code", f'{SERVICE}, code!="OK"'),
                "{{service}} {{code}}")]),
        graph("In-flight calls",
              "Calls being handled now (xcloud_grpc_inflight_requests); an HPA signal.",
              "short", 8, [(f"sum by (service) (xcloud_grpc_inflight_requests{{{SERVICE}}})",
                            "{{service}}")]),
        graph("Latency p50 / p95 / p99", "Server-side wall time of a call "
              "(xcloud_grpc_request_seconds), model-catalogue calls excluded.", "s", 12,
              [(quantile(q, latency, "service", timed), f"{{{{service}}}} p{round(q * 100)}")
               for q in (0.5, 0.95, 0.99)]),
        graph("Server error ratio", "Share of calls failing server-side; the "
              "XCloudHighErrorRate alert fires above 1 %.", "percentunit", 12,
              [(rate(requests, "service", f'{SERVICE}, code=~"{SERVER_ERRORS}"') + " / "
                + rate(requests, "service", SERVICE), "{{service}}")]),
    ]


def batch_heatmap() -> heatmap.Panel:
    """Rows per run as a heatmap of the histogram's buckets (Grafana does not re-bucket)."""
    panel = (
        heatmap.Panel().title("Batch size distribution")
        .description("Rows per inference run formed by the dynamic batcher (xcloud_batch_size).")
        .datasource(DATASOURCE).unit("short").height(HEIGHT).span(12).calculate(False)
        .y_axis(heatmap.YAxisConfig().unit("short")).cell_gap(1)
        .color(heatmap.HeatmapColorOptions().mode(heatmap_models.HeatmapColorMode.SCHEME)
               .scheme("Blues").steps(64))
        .mode(common_models.TooltipDisplayMode.SINGLE).show_y_histogram()
    )
    expr = f"sum by (le) (increase(xcloud_batch_size_bucket{{{MODEL}}}{RATE}))"
    return panel.with_target(
        query("A", expr, "{{le}}").format(prometheus_models.PromQueryFormat.HEATMAP))


def models_loaded() -> stat.Panel:
    """Red unless every replica has the model loaded and warmed up (min over replicas)."""
    steps = [models.Threshold(value=None, color="red"), models.Threshold(value=1, color="green")]
    panel = (
        stat.Panel().title("Models loaded")
        .description("1 when loaded and warmed up on every replica.")
        .datasource(DATASOURCE).unit("short").height(HEIGHT).span(8)
        .thresholds(dashboard.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE)
                    .steps(steps))
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).fields("")
                        .values(False))
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
    )
    return with_targets(panel, [(f"min by (model, version) (xcloud_model_loaded{{{MODEL}}})",
                                 "{{model}} v{{version}}")])


def model_panels() -> list:
    stages = ("queue", "preprocess", "inference", "postprocess")
    batch = "xcloud_batch_size"
    return [
        dashboard.Row("Models, per model"),
        graph("Queue time vs inference time (p95)", "Time in the batcher queue against one "
              "batch's onnxruntime run: a queue that outgrows inference means too few replicas.",
              "s", 12, [(quantile(0.95, f"xcloud_{s}_seconds", "model", MODEL),
                         f"{{{{model}}}} {s}")
                        for s in stages]),
        batch_heatmap(),
        graph("Batch size (mean)", "Mean rows per run; 1 means no batching is happening.",
              "short", 8, [(rate(f"{batch}_sum", "model", MODEL) + " / "
                            + rate(f"{batch}_count", "model", MODEL), "{{model}}")]),
        graph("Queue depth", "Requests waiting per model (xcloud_queue_depth); alert "
              "XCloudQueueSaturated above 200 of 256.", "short", 8,
              [(f"sum by (model) (xcloud_queue_depth{{{MODEL}}})", "{{model}}")]),
        models_loaded(),
    ]


def gateway_panels() -> list:
    cache = "xcloud_gateway_cache_requests_total"
    tasks = "xcloud_gateway_tasks_total"
    hits = f'{TASK}, result="hit"'
    return [
        dashboard.Row("Gateway: cache and tasks"),
        graph("Cache hit ratio",
              "Share of lookups answered from the result cache (Redis or in-process).",
              "percentunit", 8,
              [(rate(cache, "", hits) + " / " + rate(cache, "", TASK), "all tasks"),
               (rate(cache, "task", hits) + " / " + rate(cache, "task", TASK), "{{task}}")]),
        graph("Cache lookups by result", "hit, miss, or bypass (cache down or key unknown); "
              "errors = failed cache operations.", "reqps", 8,
              [(rate(cache, "result", TASK), "{{result}}"),
               (rate("xcloud_gateway_cache_errors_total", "", ""), "errors")]),
        graph("Partial-failure rate per task", "Share of Analyze answers in which this task did "
              "not succeed (the rest of the answer did).", "percentunit", 8,
              [(rate(tasks, "task", f'{TASK}, code!="OK"') + " / " + rate(tasks, "task", TASK),
                "{{task}}")]),
        graph("Tasks by status",
              "Per-task status codes inside Analyze answers (xcloud_gateway_tasks_total).",
              "reqps", 8, [(rate(tasks, "task, code", TASK), "{{task}} {{code}}")]),
        graph("Backend call latency p95",
              "One backend call attempt as the gateway sees it (network included).", "s", 8,
              [(quantile(0.95, "xcloud_gateway_backend_seconds", "backend", 'backend=~".+"'),
                "{{backend}}")]),
        graph("Backend retries", "Calls repeated after UNAVAILABLE, and requests answered by "
              "joining an identical one in flight.", "reqps", 8,
              [(rate("xcloud_gateway_backend_retries_total", "backend", ""), "{{backend}}"),
               (rate("xcloud_gateway_singleflight_shared_total", "task", TASK),
                "shared {{task}}")]),
    ]


def xcloud_dashboard() -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard("XCloud").uid("xcloud-overview").tags(["xcloud"])
        .description("XCloud inference services: requests, errors, latency, batching, gateway "
                     "cache and per-task status.")
        .editable().timezone("").version(1).refresh("10s").time("now-30m", "now")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus")
                       .type("prometheus"))
        .with_variable(query_variable("service", "Service",
                                      "label_values(xcloud_grpc_requests_total, service)"))
        .with_variable(query_variable("model", "Model", "label_values(xcloud_model_loaded, model)"))
        .with_variable(query_variable("task", "Task",
                                      "label_values(xcloud_gateway_tasks_total, task)"))
    )
    return add_numbered(board, [*request_panels(), *model_panels(), *gateway_panels()])


def add_numbered(board: dashboard.Dashboard, items: list) -> dashboard.Dashboard:
    """Add rows and panels in order, with ids 1, 2, 3..."""
    for number, item in enumerate(items, 1):
        item.id(number)
        if isinstance(item, dashboard.Row):
            board.with_row(item)
        else:
            board.with_panel(item)
    return board


# ---- writing -----------------------------------------------------------------------------------

DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {"xcloud.json": xcloud_dashboard}


def render(builder: dashboard.Dashboard) -> str:
    """The dashboard as the committed file holds it: indented JSON, one trailing newline."""
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2) + "\n"


def rendered() -> dict[str, str]:
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def stale(out_dir: Path = OUT_DIR) -> list[str]:
    """Names of the dashboards whose file in ``out_dir`` is missing or differs."""
    return [name for name, text in rendered().items()
            if not (out_dir / name).is_file() or (out_dir / name).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a committed dashboard is out of date")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"default {OUT_DIR}")
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.out)
        for name in names:
            print(f"{args.out / name} is out of date: run `make dashboards`", file=sys.stderr)
        return 1 if names else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
