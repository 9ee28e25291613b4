#!/usr/bin/env bash
# make compose-smoke: build the images, bring docker-compose.yml up, send Analyze through the
# gateway, check that Prometheus has every process up and that Grafana answers, tear down.
#
# Uses the Docker engine that `docker info` reaches; when there is none, starts a private one
# (root and Debian's docker.io needed) on /run/xcloud-docker.sock and stops it at the end.
# Grafana runs only when its image ($GRAFANA_IMAGE) is present or can be pulled; otherwise the
# check is reported as skipped, with the reason. Ports are published on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
PY="${PY:-.venv/bin/python}"
PROJECT="${COMPOSE_PROJECT_NAME:-xcloud-smoke}"
export GRAFANA_IMAGE="${GRAFANA_IMAGE:-grafana/grafana-oss:11.6.0}"
PRIVATE_SOCK=/run/xcloud-docker.sock

cleanup() {
  local status=$?
  if [ -n "${compose_up:-}" ]; then
    "${compose[@]}" logs --no-color --tail=40 >"${SMOKE_LOG:-/tmp/xcloud-compose-smoke.log}" 2>&1 || true
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ -n "${dockerd_pid:-}" ]; then
    kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  fi
  echo "compose-smoke: $([ "$status" = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started ))s (teardown included)"
}
trap cleanup EXIT

start_private_engine() {
  command -v dockerd >/dev/null || { echo "no Docker engine and no dockerd: apt-get install -y docker.io" >&2; exit 1; }
  mkdir -p /var/lib/xcloud-docker /run/xcloud-docker
  dockerd --data-root /var/lib/xcloud-docker --exec-root /run/xcloud-docker \
    --pidfile /run/xcloud-docker/dockerd.pid --host "unix://$PRIVATE_SOCK" \
    >/tmp/xcloud-dockerd.log 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$PRIVATE_SOCK"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  echo "the private Docker engine did not start (see /tmp/xcloud-dockerd.log)" >&2; exit 1
}

if ! docker info >/dev/null 2>&1; then
  if [ -S "$PRIVATE_SOCK" ] && DOCKER_HOST="unix://$PRIVATE_SOCK" docker info >/dev/null 2>&1; then
    export DOCKER_HOST="unix://$PRIVATE_SOCK"   # a private engine left running: reuse it
  else
    start_private_engine
  fi
fi
echo "Docker engine: ${DOCKER_HOST:-default}"

deploy/scripts/build-images.sh

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export GATEWAY_PORT="$(free_port)" PROMETHEUS_PORT="$(free_port)" GRAFANA_PORT="$(free_port)"
compose=(docker-compose -p "$PROJECT")
grafana_args=(--grafana "http://127.0.0.1:$GRAFANA_PORT")
if docker image inspect "$GRAFANA_IMAGE" >/dev/null 2>&1 || timeout 120 docker pull -q "$GRAFANA_IMAGE" >/dev/null 2>&1; then
  compose+=(--profile grafana)
else
  grafana_args=(--grafana-skip "image $GRAFANA_IMAGE is neither present nor pullable (no registry reachable, and Grafana is not packaged by Debian, PyPI or npm)")
fi

compose_up=1
"${compose[@]}" up -d
status=0
"$PY" deploy/scripts/smoke_check.py --gateway "127.0.0.1:$GATEWAY_PORT" \
  --prometheus "http://127.0.0.1:$PROMETHEUS_PORT" "${grafana_args[@]}" || status=$?
"${compose[@]}" ps
exit $status
