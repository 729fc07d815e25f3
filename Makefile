# Each target builds the virtualenv it needs from this project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo demo-dbn test test-slow test-all bench clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,sklearn,plots,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/mnist_rbm.py $(ARGS)

demo-dbn: $(STAMP)
	$(BIN)/python examples/mnist_dbn.py $(ARGS)

# Two workers (one per core of the CI machine); each test file runs in one worker, so the compiled
# functions its module-scoped fixtures share are compiled once. `make test` leaves out the end-to-end
# runs marked slow (examples, subprocesses, packaging); `make test-slow` runs them, `make test-all` both.
# One BLAS thread per worker: two workers already fill the two cores, and with the environment's OpenBLAS
# threads a 10 x 784 x 500 Numba step took 26.4 ms instead of 4.3 ms on the busy 2-core machine
# (benchmarks/results/bench_small.txt, "time per minibatch by model size").
TEST_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=20 -m "not slow" $(ARGS)

test-slow: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q -n 2 --dist load --durations=10 -m slow $(ARGS)

test-all: test test-slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_epoch.py $(ARGS)

# The documentation, into docs/_build/html; any Sphinx warning fails the build. The examples are shown
# with their stored figures, not run (they train for minutes).
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -W --keep-going -q docs docs/_build/html

clean:
	rm -rf $(VENV) rbm_plots .pytest_cache docs/_build docs/api/generated
