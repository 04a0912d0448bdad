# `make demo` and `make test` work on a fresh machine with only Python >= 3.11 installed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow figures figures-paper bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diffsim collapse --data.model gaussian --data.alpha 0.2 --data.dim 24,32,40,48 --measure.n-trajectories 512 --seed 0 --figure figures/demo_collapse.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

figures: $(STAMP)
	$(BIN)/diffsim figures --scale quick --gallery docs/gallery --rerun-stale

figures-paper: $(STAMP)
	$(BIN)/diffsim figures --scale paper

clean:
	rm -rf $(VENV) figures results .pytest_cache
