"""SIGKILL of a backend under `make run`'s launcher: the gateway keeps answering (the task's
status says UNAVAILABLE), the launcher restarts the backend, and the task recovers."""
from __future__ import annotations

import os
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.services.text_quality.conftest import EXAMPLE
from tests.support.launched import launched
from xcloud.v1 import gateway_pb2, gateway_pb2_grpc, text_quality_pb2

pytestmark = pytest.mark.chaos
OK, UNAVAILABLE = 0, 14
RECOVERY_S = 5  # the bound: the task answers again within 5 s of the restart


def score(stub) -> gateway_pb2.ScoreContentResponse:
    request = gateway_pb2.ScoreContentRequest(
        records=[text_quality_pb2.ContentRecord(**EXAMPLE)], no_cache=True)
    return stub.ScoreContent(request, timeout=10)


def serving(channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_killed_backend_is_restarted_while_the_gateway_keeps_answering(text_quality_model):
    with launched("--services", "text_quality", "--restart-backoff", "0.5") as stack, \
            grpc.insecure_channel(stack.gateway) as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        assert score(stub).status.code == OK
        first_pid = stack.pids["text_quality"]
        os.kill(first_pid, signal.SIGKILL)
        stack.wait_for(r"text_quality exited unexpectedly with code -9; restart 1 in 0\.5s")
        down = score(stub)  # answered by the gateway, which never went away
        assert down.status.code == UNAVAILABLE, down
        assert serving(channel)
        stack.wait_for(r"launcher\s+\| text_quality is back \(restart 1\)")
        assert stack.pids["text_quality"] != first_pid
        assert _recovers(stub).status.code == OK
        assert sum("started gateway" in line for line in stack.output) == 1, stack.log()


def _recovers(stub) -> gateway_pb2.ScoreContentResponse:
    """The first OK answer within RECOVERY_S of the restart (the channel may still back off)."""
    end = time.monotonic() + RECOVERY_S
    while True:
        reply = score(stub)
        if reply.status.code == OK or time.monotonic() > end:
            return reply
        time.sleep(0.1)
