# Quick start: `make demo` (one /unmask job through the whole service, CPU, no network) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint bench
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml deploy/install.sh
	bash deploy/install.sh $(VENV)

demo: install
	$(VENV)/bin/atelier demo --output-dir out

test: install
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check bots core jobs dreambooth tests bench
	$(VENV)/bin/ruff format --check bots core jobs dreambooth tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: install
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done
