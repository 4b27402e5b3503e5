# Siam Workbench — two commands:  `make run` (set up + open the app), `make test` (set up + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROJECT ?= projects/quickstart

.PHONY: run test setup system-deps lint screenshots clean-venv

run: setup
	@bash tools/run-app.sh $(BIN)/siam-workbench $(PROJECT)

test: setup
	$(BIN)/ruff check src tests benchmarks examples projects resources tools
	$(BIN)/lint-imports
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

setup: system-deps $(STAMP)

system-deps:
	@bash tools/system-deps.sh

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Siam Workbench needs Python >= 3.11 (found: $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade -q pip
	# The constraints file pins torch==2.13.0: the CPU build, not a multi-GB CUDA download.
	# The onnx extra comes too, so the ONNX export is tested wherever the tests run.
	$(BIN)/python -m pip install -c constraints.txt -e '.[test,onnx]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests benchmarks examples projects resources tools
	$(BIN)/lint-imports
	$(BIN)/mypy

screenshots: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/siam-workbench --screenshot docs/screenshots $(PROJECT)

clean-venv:
	rm -rf $(VENV)
