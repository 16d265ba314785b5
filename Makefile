# mock-sprinto: every target creates the virtualenv and installs what it needs first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: serve test lint check bench soak fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)  ## serve on 127.0.0.1:8080 (ARGS="--port 0 --config FILE ..." to change)
	$(BIN)/mock-sprinto serve $(ARGS)

test: $(STAMP)  ## the whole suite: lint, types, tests
	$(BIN)/ruff check mock_sprinto tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)  # the bench extra (profilers) on top of the test install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)  ## benchmarks: every figure with its baseline, into benchmarks/RESULTS.md (ARGS="--quick")
	$(BIN)/python -m benchmarks $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mock_sprinto tests
	$(BIN)/ruff format --check mock_sprinto tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
