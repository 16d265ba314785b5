# mock-sprinto: every target but `image` and `clean` creates the virtualenv and installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
ARGS   ?=

.PHONY: serve test test-pythons lint check bench soak fuzz clean image test-image

# The virtualenv with a current pip. The pip a fresh venv carries (23.2 with Python 3.11) spends seconds
# weighing every wheel of a large index; a current one halves the install. An empty venv plus the outer
# pip installing pip into it (`--python`, pip >= 22.3) is quicker than ensurepip, which stays the fallback.
PIP_STAMP := $(VENV)/.pip-ready
$(PIP_STAMP):
	@echo "mock-sprinto: a virtualenv in $(VENV) with a current pip"
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip --python $(BIN)/python install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null \
		|| { $(BIN)/python -m ensurepip --upgrade && $(BIN)/python -m pip install --quiet --upgrade pip; }
	@touch $(PIP_STAMP)

# The runtime only (what `serve` needs): no development toolchain. The project's editable build and its
# dependencies install side by side (two pips, disjoint files: ~2 s of a fresh `make serve`); where the
# dependency list cannot be read (Python 3.10 has no tomllib) one pip does both.
$(RUNTIME_STAMP): pyproject.toml $(PIP_STAMP)
	@echo "mock-sprinto: installing the emulator and its dependencies (editable)"
	@if $(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
		> $(VENV)/runtime-requirements.txt 2>/dev/null; then \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . & editable=$$!; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(VENV)/runtime-requirements.txt; \
		dependencies=$$?; wait $$editable && test $$dependencies = 0; \
	else $(BIN)/python -m pip install --quiet --disable-pip-version-check -e .; fi
	@$(BIN)/python -m compileall -q mock_sprinto  # an editable install has no bytecode; PYTHONDONTWRITEBYTECODE would keep it so
	@touch $(RUNTIME_STAMP)

# The development install (the test extra holds the runtime too, so it stands for both stamps).
$(STAMP): pyproject.toml $(PIP_STAMP)
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

check: test  ## the same as `make test` (an alias)

# The suite under other CPython versions, each in a virtualenv of its own (.venv-3.X): 3.10's
# fromisoformat and 3.13's strftime each broke a test that 3.11 passed. An interpreter not on the
# PATH is skipped, named; PYTHONS lists others (paths or names).
PYTHONS ?= python3.10 python3.12 python3.13
test-pythons:  ## the whole suite under each of PYTHONS (default python3.10 python3.12 python3.13) found on the PATH
	@for py in $(PYTHONS); do \
		if ! command -v $$py >/dev/null 2>&1 || ! $$py -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then \
			echo "mock-sprinto: $$py is not here (or older than 3.10): skipped"; continue; fi; \
		echo "mock-sprinto: the suite under $$($$py --version)"; \
		$(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])') ARGS="$(ARGS)" || exit 1; \
	done

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)  # the bench extra (profilers) on top of the test install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)  ## benchmarks: every figure with its baseline, into benchmarks/RESULTS.md (ARGS="--quick": a smoke run, written under .venv/)
	$(BIN)/python -m benchmarks $(ARGS)

soak: $(STAMP)  ## bounded load on 127.0.0.1: 50 clients, whole lifecycles, gzip, rejected pages, throttling, a CI job carrying its run home (report, verify, bundle export and import, HAR judged), plus a hostile phase (gzip floods, slow connections, churn, hang-ups), 60 s, printed as a timeline of windows (ARGS="--duration 3600 --windows 12"; up to 4 h)
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

lint: $(STAMP)  ## ruff check, ruff format --check, mypy (no tests)
	$(BIN)/ruff check mock_sprinto tests benchmarks examples
	$(BIN)/ruff format --check mock_sprinto tests benchmarks examples
	$(BIN)/mypy

clean:  ## remove the virtualenvs and the tools' caches (no virtualenv needed)
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache .hypothesis .fuzz-corpus
