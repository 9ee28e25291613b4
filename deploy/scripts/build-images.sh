#!/usr/bin/env bash
# Build every image of docker-compose.yml (`make images`), from the local debootstrap base when
# BASE_IMAGE is left at its default (building that base first if it is missing).
#
#   deploy/scripts/build-images.sh [SERVICE ...]     (extra arguments go to docker-compose build)
#   BASE_IMAGE=python:3.11-slim-bookworm ...         another base (needs a reachable registry)
#   XCLOUD_VARIANT=gpu BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 ...   GPU images
#   XCLOUD_BUILD_CA=FILE ...   CA bundle pip uses to reach PyPI during the build (default: the
#                              host's system bundle, so that a TLS-intercepting proxy works;
#                              empty: the image's own bundle)
set -euo pipefail
cd "$(dirname "$0")/../.."

export BASE_IMAGE="${BASE_IMAGE:-xcloud-base:bookworm}"
if [ "$BASE_IMAGE" = xcloud-base:bookworm ]; then
  deploy/scripts/build-base-image.sh "$BASE_IMAGE"
fi

if [ "${XCLOUD_MODELS:-baked}" = baked ] && ! ls models/repository/*/*/model.onnx >/dev/null 2>&1; then
  echo "no built model in models/repository: run \`make models\` first (or XCLOUD_MODELS=mounted)" >&2
  exit 1
fi

CA="${XCLOUD_BUILD_CA-/etc/ssl/certs/ca-certificates.crt}"
rm -f deploy/docker/build-ca/ca-certificates.crt
if [ -n "$CA" ] && [ -r "$CA" ]; then
  cp "$CA" deploy/docker/build-ca/ca-certificates.crt
fi
trap 'rm -f deploy/docker/build-ca/ca-certificates.crt' EXIT

nice -n 10 docker-compose build "$@"
