# NCGLF2 for QGIS: one-command setup, tests, demo, benchmark, deployment.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ncglf2-setup
APT_PACKAGES := gcc python3-qgis qgis-providers python3-gdal gdal-bin python3-venv python3-matplotlib python3-mock xvfb qgis
PLUGIN_NAME := ncglf2
QGIS_PLUGINS_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins
export QT_QPA_PLATFORM ?= offscreen

.PHONY: help setup system-packages test lint test-core test-qgis demo bench deploy zip clean

help:
	@echo "make setup   install what is missing (Debian packages, .venv, Python requirements)"
	@echo "make test    set up, then run every test (real QGIS offscreen, real GDAL, real torch)"
	@echo "make demo    set up, then train and classify the bundled demo scene into demo_output/"
	@echo "make bench   set up, then measure inference, training and end-to-end speed"
	@echo "make deploy  install the plugin into a QGIS profile (QGIS_PLUGINS_DIR=...) and enable it"
	@echo "make zip     build the plugin zip for the QGIS plugin repository into dist/"

setup: system-packages $(STAMP)

# Checked on every run (dpkg-query is fast); apt only runs when something is missing.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ncglf2.core.nn.native
	@touch $@

test: setup lint
	$(PY) -m pytest -q --durations=25 tests
	@echo "again with the native kernels switched off (torch's operators only):"
	NCGLF2_NATIVE=0 $(PY) -m pytest -q tests/core -m "not slow"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test-core: setup
	$(PY) -m pytest -q tests/core

test-qgis: setup
	$(PY) -m pytest -q tests/qgis

demo: setup
	$(VENV)/bin/ncglf2 demo --out demo_output

bench: setup
	$(VENV)/bin/ncglf2 bench

deploy:
	/usr/bin/python3 tools/package.py deploy "$(QGIS_PLUGINS_DIR)"

ZIP ?= dist/$(PLUGIN_NAME).zip
zip:
	/usr/bin/python3 tools/package.py zip $(ZIP)

clean:
	rm -rf build dist demo_output .pytest_cache test-artifacts
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
