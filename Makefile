# XCloud: `make run` starts the whole stack, `make test` runs every test. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is only needed to build models; 2.13.0 has a local CPU wheel on the CI machines.
TORCH_SPEC ?= torch==2.13.0
# xcloud.v1 (the typed API) and the Open Inference Protocol (package inference) in xcloud/oip
PROTOS := $(wildcard protos/xcloud/v1/*.proto protos/xcloud/oip/*.proto)
GENERATED := $(patsubst protos/%.proto,%_pb2.py,$(PROTOS))
PYTEST_ARGS ?=

.PHONY: setup proto models run test chaos soak fuzz bench bench-gpu mlserver-venv lint clean-models

setup: $(VENV)/.installed proto models

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[build,dev]"
	touch $@

proto: $(VENV)/.installed $(GENERATED)

xcloud/%_pb2.py: protos/xcloud/%.proto $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. $<

models: $(VENV)/.installed proto
	$(PY) -m models.build

run: setup
	$(PY) -m xcloud.launcher

# Everything but the soak: the chaos suite (real processes killed, restarted, overloaded)
# takes seconds, so it runs here too; `make chaos` runs it alone.
test: setup
	$(PY) -m pytest -m "not soak" $(PYTEST_ARGS)

chaos: setup
	$(PY) -m pytest -m chaos tests/chaos $(PYTEST_ARGS)

# 10 minutes of mixed load on the whole stack; every process's memory must stay flat.
soak: setup
	$(PY) -m pytest -m soak tests/soak -s $(PYTEST_ARGS)

# 10,000 generated hostile inputs (make test runs a few hundred of the same tests).
fuzz: setup
	XCLOUD_FUZZ_EXAMPLES=10000 $(PY) -m pytest -m fuzz tests/fuzz $(PYTEST_ARGS)

# XCloud beside its compute limit, a naive PyTorch server and MLServer, plus the ratios of
# docs/benchmarks.md: a table on stdout, report.md and plots in bench-results/report.
bench: setup mlserver-venv
	$(PY) -m xcloud.cli.main bench

# Per-model throughput at batch 1/8/32 on CUDA (TensorRT when present) against the CPU;
# prints "no GPU" and succeeds where there is none (needs onnxruntime-gpu to find one).
bench-gpu: setup
	$(PY) -m benchmarks.gpu

# Seldon MLServer for `make bench`, in its own venv: it pins protobuf<7, XCloud needs 7;
# uvloop 0.21: with 0.22+ MLServer 1.7.1's inference workers die at start.
MLSERVER_VENV ?= .venv-mlserver
mlserver-venv: $(MLSERVER_VENV)/.installed

$(MLSERVER_VENV)/.installed:
	test -x $(MLSERVER_VENV)/bin/python || $(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install -q "mlserver==1.7.1" "onnxruntime==1.32.0" "uvloop==0.21.0"
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check services gateway models xcloud tests benchmarks

# Trained models: each reproduces the small committed weights under models/<family>/weights/.
.PHONY: train-content-quality train-fine-grained
train-content-quality: $(VENV)/.installed
	$(PY) -m models.text_quality.train

# The face-attribute heads (models/attributes): each rewrites models/attributes/weights/<model>.*
# from ../shared/data (or $$XCLOUD_DATA), then rebuilds the served model.
.PHONY: train-beauty train-race train-gender
train-beauty: $(VENV)/.installed
	$(PY) -m models.attributes.train_beauty
	$(PY) -m models.build --force beauty_scut5500

train-race: $(VENV)/.installed
	$(PY) -m models.attributes.train_race
	$(PY) -m models.build --force race_utkface

train-gender: $(VENV)/.installed
	$(PY) -m models.attributes.train_gender
	$(PY) -m models.build --force gender_xcloud

# The face trunk (face_trunk_xcloud) carries every head above plus these two.
.PHONY: train-age train-identity
train-age: $(VENV)/.installed
	$(PY) -m models.attributes.train_age
	$(PY) -m models.build --force face_trunk_xcloud

train-identity: $(VENV)/.installed
	$(PY) -m models.identity.train
	$(PY) -m models.build --force face_embedding_xcloud

# Rewrites models/fine_grained/weights/ from flowers17, then rebuilds the served model.
train-fine-grained: $(VENV)/.installed
	$(PY) -m models.fine_grained.train
	$(PY) -m models.build --force flowers17_mobilenet_v2

clean-models:
	rm -rf models/repository/*/

# ---- deployment (docs/deployment.md) ----------------------------------------------------------
.PHONY: base-image images compose-smoke helm-check

# Debian bookworm + python3 by debootstrap, imported as xcloud-base:bookworm (no registry needed).
base-image:
	deploy/scripts/build-base-image.sh

# Every image of docker-compose.yml; BASE_IMAGE, XCLOUD_VARIANT=gpu, XCLOUD_MODELS=mounted apply.
images: models
	deploy/scripts/build-images.sh

# Build, start the compose stack, Analyze through the gateway, check Prometheus and Grafana,
# tear down. Minutes, not part of `make test`.
compose-smoke: setup
	PY=$(PY) deploy/scripts/compose-smoke.sh

# The offline chart, rules and compose checks alone (they also run in `make test`).
helm-check: $(VENV)/.installed
	$(PY) -m pytest tests/deploy -q

# The Grafana dashboards (deploy/grafana/dashboards/*.json) from their builder; commit the result
# (tests/deploy/test_dashboards.py fails when the JSON and the builder disagree).
.PHONY: dashboards
dashboards: $(VENV)/.installed
	$(PY) -m deploy.grafana.build_dashboards
