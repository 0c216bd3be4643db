PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint install clean browser-deps postgres-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/signoff demo

browser-deps:
	command -v chromium >/dev/null && test -d /usr/share/fonts/truetype/noto || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji)

postgres-deps:
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

test: $(STAMP) browser-deps postgres-deps
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check engine storage messages bot tests bench
	$(BIN)/mypy engine storage
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) *.egg-info signoff-demo.db*
