# nnlab: `make run` opens the app on the bundled default scene, `make test` runs the whole test suite.
# Both create .venv and install everything (Debian packages too when run as root).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# A CPU build of torch: 2.13.0 is the release these machines hold as a local CPU wheel.
TORCH_SPEC ?= torch==2.13.0
SCENE  ?= resources/scenes/default.toml
XVFB_ARGS := -a -s "-screen 0 1920x1080x24 -nolisten tcp"

.PHONY: run test lint setup system-deps bench clean

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,video]"
	@touch $@

setup: system-deps $(VENV)/.installed

run: setup
	$(PY) main.py gui $(SCENE)

test: setup lint
	# `timeout`: a suite that hangs fails (with the stacks pytest-timeout/faulthandler print) instead of sitting there
	QT_QPA_PLATFORM=xcb LIBGL_ALWAYS_SOFTWARE=1 timeout -k 30 1800 xvfb-run $(XVFB_ARGS) $(PY) -m pytest -q -p no:cacheprovider tests

# Rules that check themselves: pyflakes-level lint, and the import contracts in pyproject.toml (layers, no cycles)
lint: setup
	$(VENV)/bin/ruff check -q nnlab tests bench main.py
	$(VENV)/bin/lint-imports --no-cache

# Benchmarks print ratios against baselines measured in the same run (see README, "Benchmarks").
BENCHES ?= train optimize bab heuristics export ui_latency
bench: setup
	for b in $(BENCHES); do echo "== bench/$$b.py"; \
	  QT_QPA_PLATFORM=xcb xvfb-run $(XVFB_ARGS) $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
