# XCloud images: one target per process, CPU or GPU variant, base image chosen at build time.
#
#   docker build --target face_detection -t xcloud/face-detection:dev .
#   docker build --target gateway        -t xcloud/gateway:dev .
#   make images                    # every target, through docker-compose.yml (see docs/deployment.md)
#
# Build arguments:
#   BASE_IMAGE  image with python3 (>= 3.11) and its venv module; `make base-image` builds
#               xcloud-base:bookworm with debootstrap when no registry is reachable. For the GPU
#               variant use a CUDA runtime base, e.g. nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
#               (python3 is installed into it when missing).
#   VARIANT     cpu (onnxruntime) or gpu (onnxruntime-gpu + TensorRT libraries from PyPI).
#   MODELS      baked (models/repository, built by `make models`, copied in) or mounted (the
#               image holds no model: mount a repository at /opt/xcloud/models/repository).
#
# Final stages: non-root user 10001, no compiler, no pip, nothing written at run time (run them
# with a read-only root filesystem and a tmpfs /tmp), health through grpc.health.v1.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG MODELS=baked

# ---- base: python3 and the unprivileged user every stage runs as ----------------------------
FROM ${BASE_IMAGE} AS base
RUN if ! python3 -c 'import ensurepip' 2>/dev/null; then \
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv ca-certificates && rm -rf /var/lib/apt/lists/*; \
    fi \
 && (getent passwd xcloud >/dev/null || useradd --system --uid 10001 --home-dir /opt/xcloud \
      --no-create-home --shell /usr/sbin/nologin xcloud)
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---- deps: the virtual environment, from PyPI; pip stays in this stage ----------------------
FROM base AS deps
ARG VARIANT=cpu
# onnxruntime-gpu's CUDA 12 wheel finds cuDNN/cuBLAS in the CUDA base image; TensorRT's runtime
# libraries come from PyPI and are put on the loader path below.
ARG GPU_PACKAGES="tensorrt-cu12-libs>=10.9,<11"
# A TLS-intercepting proxy's CA, when the build host needs one to reach PyPI; it never leaves
# this stage (deploy/scripts/build-images.sh copies the host's bundle here).
COPY deploy/docker/build-ca/ /tmp/build-ca/
COPY pyproject.toml /tmp/pyproject.toml
RUN set -eu; \
    if [ -s /tmp/build-ca/ca-certificates.crt ]; then export PIP_CERT=/tmp/build-ca/ca-certificates.crt; fi; \
    python3 -m venv /opt/venv; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt; \
    if [ "$VARIANT" = gpu ]; then \
      sed -i 's/^onnxruntime\([<>=!~ ]\)/onnxruntime-gpu\1/' /tmp/requirements.txt; \
      echo "$GPU_PACKAGES" >> /tmp/requirements.txt; \
    elif [ "$VARIANT" != cpu ]; then echo "VARIANT must be cpu or gpu, not $VARIANT" >&2; exit 1; fi; \
    /opt/venv/bin/pip install --no-cache-dir -q --disable-pip-version-check -r /tmp/requirements.txt; \
    /opt/venv/bin/pip uninstall -y -q pip setuptools 2>/dev/null || true; \
    ln -s "$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
      /opt/venv/site-packages

# ---- models: baked from the build context, or none (mounted at run time) ---------------------
FROM base AS models-baked
COPY models/repository/ /models/
FROM base AS models-mounted
RUN mkdir /models
FROM models-${MODELS} AS models

# ---- app: code + environment, shared by every process ---------------------------------------
FROM base AS app
COPY --from=deps /opt/venv /opt/venv
WORKDIR /opt/xcloud
COPY services/ services/
COPY gateway/ gateway/
COPY xcloud/ xcloud/
COPY deploy/docker/healthcheck.py deploy/docker/healthcheck.py
# Bytecode compiled now (pip did the venv's), since the root filesystem is read-only at run time.
RUN python3 -m compileall -q services gateway xcloud >/dev/null
# TensorRT libraries of the GPU variant (absent, hence harmless, in the CPU one); HOME on the
# tmpfs, for libraries that keep a small state file there.
ENV PYTHONPATH=/opt/xcloud HOME=/tmp LD_LIBRARY_PATH=/opt/venv/site-packages/tensorrt_libs
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=4s --start-period=60s --retries=3 \
  CMD ["python", "/opt/xcloud/deploy/docker/healthcheck.py"]
# python is PID 1: its own SIGTERM handler starts the graceful drain (services/runtime/server.py).
ENTRYPOINT ["python", "-m"]

FROM app AS gateway
ENV XCLOUD_GATEWAY_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50051
EXPOSE 50051 9151
CMD ["gateway"]

# ---- one target per model service (same pattern: models, port, module) ----------------------
FROM app AS served
COPY --from=models /models/ /opt/xcloud/models/repository/

FROM served AS face_detection
ENV XCLOUD_FACE_DETECTION_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50052
EXPOSE 50052 9152
CMD ["services.face_detection"]

FROM served AS face_attributes
ENV XCLOUD_FACE_ATTRIBUTES_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50053
EXPOSE 50053 9153
CMD ["services.face_attributes"]

FROM served AS expression
ENV XCLOUD_EXPRESSION_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50054
EXPOSE 50054 9154
CMD ["services.expression"]

FROM served AS fine_grained
ENV XCLOUD_FINE_GRAINED_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50055
EXPOSE 50055 9155
CMD ["services.fine_grained"]

FROM served AS animal_identity
ENV XCLOUD_ANIMAL_IDENTITY_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50056 \
    XCLOUD_ANIMAL_IDENTITY_DATA_DIR=/var/lib/xcloud/gallery/pg
# The embedded gallery database's volume mount point, owned by the service's user (a new named
# volume takes this ownership); production points XCLOUD_ANIMAL_IDENTITY_DATABASE_URL elsewhere.
USER root
RUN mkdir -p /var/lib/xcloud/gallery && chown 10001:10001 /var/lib/xcloud/gallery
USER 10001:10001
EXPOSE 50056 9156
CMD ["services.animal_identity"]

FROM served AS text_quality
ENV XCLOUD_TEXT_QUALITY_HOST=0.0.0.0 XCLOUD_HEALTH_PORT=50057
EXPOSE 50057 9157
CMD ["services.text_quality"]
