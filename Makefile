# Two set-up commands for a fresh machine (see README.md):
#   make demo   create .venv, install tf_t2i, run the default job (t2i fit on built-in data)
#   make test   create .venv, install tf_t2i[dev], run the default test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-large lint bench clean

$(BIN)/t2i: setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/t2i

install: $(BIN)/t2i

demo: install
	$(BIN)/t2i fit

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

test-large: install
	$(BIN)/python -m pytest -q -m large

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info
