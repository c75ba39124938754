# Every target creates .venv on first use and installs the pinned lock into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The models are small: one CPU thread per process avoids oversubscription, which
# made a GMF epoch take 51 s instead of 1.8 s on 2 busy cores. Override with
# `make run OMP_NUM_THREADS=2`.
OMP_NUM_THREADS ?= 1
export OMP_NUM_THREADS

.PHONY: run quick test test-fast lab bench lint clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (.venv)" > /dev/null
	touch $(STAMP)

## run: execute every notebook on real data and build presentation/presentation.pdf
run: $(STAMP)
	$(BIN)/python -m helpers run $(ARGS)

## quick: the same in quick mode (small epochs and seeds, real data)
quick: $(STAMP)
	$(BIN)/python -m helpers run --quick $(ARGS)

## test: the whole test suite, notebooks included (about 4 minutes on 2 cores);
## --nbval-lax re-runs 01_neumf.ipynb in quick mode and compares its deterministic cells
test: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax tests notebooks/01_neumf.ipynb $(ARGS)

## test-fast: unit tests only
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not notebooks" $(ARGS)

## lab: JupyterLab on the notebooks folder
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

## bench: speed comparisons in bench/
bench: $(STAMP)
	$(BIN)/python bench/neumf_speed.py

lint: $(STAMP)
	$(BIN)/ruff check helpers tests bench notebooks
	$(BIN)/ruff format --check helpers tests bench

clean-venv:
	rm -rf $(VENV)
