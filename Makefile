# Quick start: `make run` (set-up + the original's run) and `make test` (set-up + every test).
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NBVAL := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env

.PHONY: install run test test-fast test-float-order lint lab notebooks book clean

$(STAMP): pyproject.toml .ci/constraints.txt
	@test -x $(PY) || $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		f"error: therapy_embeddings needs Python 3.11 or newer; $(PYTHON) is {sys.version.split()[0]}")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c .ci/constraints.txt -e '.[lab,test,docs]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv if absent and install the package with its pinned dependencies

run: install  ## the original script's run, reproduced, plus oracle and baseline (figures in results/)
	$(PY) -m therapy_utils run

lint: install
	$(VENV)/bin/ruff check .

test: install lint  ## lint, unit tests and strict nbval over the executed notebooks
	$(PY) -m pytest $(NBVAL) tests notebooks

test-fast: install lint  ## contributors' quick loop (under a minute on 2 cores): ruff and the tests not marked slow
	$(PY) -m pytest -m "not slow" -q tests

test-float-order: install  ## nbval and the checkpoint tests only; CI runs it under MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1
	$(PY) -m pytest $(NBVAL) tests/test_checkpoints.py tests/test_train.py notebooks

lab: install  ## JupyterLab in notebooks/
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

notebooks: install  ## re-execute every notebook in place (maintainers, before committing)
	cd notebooks && for nb in [0-9][0-9]_*.ipynb solutions/*_solutions.ipynb; do \
		../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 \
			--ExecutePreprocessor.store_widget_state=False \
			--ExecutePreprocessor.record_timing=False "$$nb" || exit 1; done

SOLUTIONS ?= yes
book: install  ## the executed notebooks as a static website in notebooks/_build/html (offline); SOLUTIONS=no leaves the worked solutions out
	BOOK_SOLUTIONS=$(SOLUTIONS) $(VENV)/bin/sphinx-build -q -E -b html notebooks notebooks/_build/html
	@echo "open notebooks/_build/html/index.html, or: $(PY) -m http.server -d notebooks/_build/html -b 127.0.0.1"

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache .hypothesis
