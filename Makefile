# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint setup clean bench bytecode

setup: $(STAMP)

# Debian packages (bubblewrap for the datum sandbox, postgresql for the tests that run
# the metadata on a real server) when we are root and they are missing, then the package
# and its dev tools into a venv. PYFASTCDC_REQUIRE_CYTHON makes pyfastcdc build its fast
# extension instead of silently falling back to pure Python.
$(STAMP): pyproject.toml
	@if [ "$$(id -u)" = 0 ]; then missing=""; \
	  command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  if [ -n "$$missing" ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing >/dev/null) || echo "note: not installed:$$missing"; fi; fi
	$(PYTHON) -m venv $(VENV)
	PYFASTCDC_REQUIRE_CYTHON=1 $(BIN)/pip install -q --upgrade pip
	PYFASTCDC_REQUIRE_CYTHON=1 $(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# An editable install leaves loxo's modules uncompiled, and with PYTHONDONTWRITEBYTECODE
# set (it is, here) every process (each worker, each batching user process) would compile
# them again: ~0.3 s per start. compileall skips what is up to date.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src

demo: bytecode
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: bytecode
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: bytecode
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/ingest.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/datums.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/server.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/executors.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
