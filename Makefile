# logicpo: two commands for a newcomer.
#   make demo   set up .venv and run the main demo
#   make test   set up .venv, lint, and run the test suite
#   make bench  run the benchmarks;  make docs  regenerate docs/zoo.md
#
# TORCH selects the torch requirement. Users get the normal wheel; CI on
# CPU-only machines sets TORCH=torch==2.13.0 (a CPU build on local disk).
# The test environment includes the trl, torchtune and ray extras (TRL, transformers, PEFT,
# torchtune with its torchao pin, Ray for the sweep backend's test), installed after
# torch so that pip keeps the torch chosen here.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint setup clean bench docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev,trl,torchtune,ray]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check logicpo tests benchmarks examples

test: lint
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/python -m logicpo docs --write

# Each benchmark's output is kept in out/bench/; the goal lines of all of them (issue 14's
# ratios next to their goals, "goal <op> <target>  MET" or "NOT MET") are printed at the end.
bench: $(STAMP)
	@mkdir -p out/bench
	@for b in benchmarks/bench_*.py; do \
	  name=$$(basename $$b .py); echo "== $$b"; \
	  $(BIN)/python $$b > out/bench/$$name.txt 2>&1; status=$$?; cat out/bench/$$name.txt; \
	  if [ $$status -ne 0 ]; then exit $$status; fi; \
	done
	@echo "== goals (out/bench/*.txt)"
	@grep -H -E "goal (<=|>=|<|>) .*  (MET|NOT MET)" out/bench/*.txt | sed 's|^out/bench/||'

clean:
	rm -rf $(VENV) build dist .pytest_cache
