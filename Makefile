# mock-sprinto: every target creates the virtualenv and installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
ARGS   ?=

.PHONY: serve test lint check bench soak fuzz clean image test-image

# The runtime only (what `serve` needs): no pip upgrade, no development toolchain.
$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	$(BIN)/python -m compileall -q mock_sprinto  # an editable install has no bytecode; PYTHONDONTWRITEBYTECODE would keep it so
	touch $(RUNTIME_STAMP)

# The development install (the test extra holds the runtime too, so it stands for both stamps).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q mock_sprinto
	touch $(STAMP) $(RUNTIME_STAMP)

serve: $(RUNTIME_STAMP)  ## serve on 127.0.0.1:8080 (ARGS="--port 0 --config FILE ..." to change)
	$(BIN)/mock-sprinto serve $(ARGS)

test: $(STAMP)  ## the whole suite: lint, format, types, tests
	$(BIN)/ruff check mock_sprinto tests benchmarks examples
	$(BIN)/ruff format --check mock_sprinto tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)  # the bench extra (profilers) on top of the test install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)  ## benchmarks: every figure with its baseline, into benchmarks/RESULTS.md (ARGS="--quick": a smoke run, written under .venv/)
	$(BIN)/python -m benchmarks $(ARGS)

soak: $(STAMP)  ## bounded load on 127.0.0.1: 50 clients, whole lifecycles, gzip, rejected pages, throttling, plus a hostile phase (gzip floods, slow connections, churn, hang-ups), 60 s (ARGS="--duration 300 --clients 100")
	$(BIN)/python -m benchmarks.soak $(ARGS)

FUZZ_STAMP := $(VENV)/.fuzz-installed
$(FUZZ_STAMP): $(STAMP)  # atheris is for `make fuzz` only; where it has no wheel, fuzz runs without it
	$(BIN)/python -m pip install --quiet -e '.[test,fuzz]' || echo "atheris did not install: make fuzz skips the atheris run"
	touch $(FUZZ_STAMP)

FUZZ_SECONDS ?= 300
ST_SEEDS ?= 5
ST_SECONDS ?= 120
fuzz: $(STAMP) $(FUZZ_STAMP)  ## long fuzzing: property tests (fuzz profile), schemathesis (every phase, ST_SEEDS fresh seeds of ST_SECONDS each), atheris on the body path (FUZZ_SECONDS)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -n 2 -p no:cacheprovider tests/property tests/security $(ARGS)
	# one schemathesis worker: with two threads, CPython 3.11's ast.parse (which hypothesis calls to
	# describe a filter) can fail with "AST constructor recursion depth mismatch", a tool error
	for run in $$(seq $(ST_SEEDS)); do \
		ST_MAX_EXAMPLES=200 ST_MAX_TIME=$(ST_SECONDS) ST_SEED=random ST_WORKERS=1 ST_TIMEOUT=3600 \
		$(BIN)/python -m pytest -p no:cacheprovider -s tests/contract/test_schemathesis.py || exit 1; \
	done
	if $(BIN)/python -c "import atheris" 2>/dev/null; then mkdir -p .fuzz-corpus && \
		$(BIN)/python -m tests.property.fuzz_body -max_total_time=$(FUZZ_SECONDS) .fuzz-corpus; fi

# The container image (docs/container.md). BASE: another base image with python3 >= 3.10 and its venv
# module (default: the Dockerfile's python:3.12-slim); DOCKER_BUILD_FLAGS: more `docker build` flags.
IMAGE ?= mock-sprinto:dev
BASE ?=
DOCKER_BUILD_FLAGS ?=
image:  ## build the container image $(IMAGE) (BASE=... for another base image)
	docker build $(if $(BASE),--build-arg BASE=$(BASE)) $(DOCKER_BUILD_FLAGS) -t $(IMAGE) .

IMAGE_STAMP := $(VENV)/.image-installed
$(IMAGE_STAMP): $(STAMP)  # the image extra (testcontainers) on top of the test install
	$(BIN)/python -m pip install --quiet -e '.[test,image]'
	touch $(IMAGE_STAMP)

# Its own Docker daemon (root, docker.io, debootstrap), a Debian base built by debootstrap (cached
# in /var/cache/mock-sprinto-image), the image built and run for real; skipped, with the reason,
# where no daemon can be started.
test-image: $(STAMP) $(IMAGE_STAMP)  ## build the image on a daemon of its own and test it for real (tests/image)
	RUN_IMAGE_TEST=1 $(BIN)/python -m pytest -p no:cacheprovider -rs tests/image $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mock_sprinto tests benchmarks examples
	$(BIN)/ruff format --check mock_sprinto tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .fuzz-corpus
