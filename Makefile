# Every target does its own set-up on a fresh machine: a venv, torch 2.13.0 (CPU
# wheel, installed first so nothing pulls a CUDA build), the package, and Debian's
# Fashion-MNIST when apt-get is there.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GF := $(VENV)/bin/genforge
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist
DEMO_DATA = $(shell [ -d $(FMNIST) ] && echo fashion-mnist || echo digits)

.PHONY: setup data browser demo test test-all bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian's packages of real data: Fashion-MNIST (images), the English and Chinese fortunes (text).
FORTUNES := /usr/share/games/fortunes
data:
	@if [ -d $(FMNIST) ] && [ -f $(FORTUNES)/love ] && [ -f $(FORTUNES)/tang300 ]; then echo "data: $(FMNIST), $(FORTUNES)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q dataset-fashion-mnist fortunes fortunes-zh >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist fortunes fortunes-zh >/dev/null 2>&1) || \
	  echo "note: could not install dataset-fashion-mnist / fortunes; the demo falls back to digits"; \
	else echo "note: apt-get install dataset-fashion-mnist fortunes fortunes-zh for the real data sets; the demo uses digits"; fi

# Debian's Chromium for the browser test (Playwright drives it; it never downloads a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) || \
	  echo "note: could not install chromium; the browser test will be skipped"; \
	else echo "note: no /usr/bin/chromium (apt-get install chromium); the browser test will be skipped"; fi

setup: $(STAMP) data

# About 15 minutes on 2 quiet cores: the article's DCGAN, genforge's default DCGAN, the
# article's VAE. Budgets are steps, not minutes, so the grids look the same on a busy
# machine (where they take longer).
demo: setup
	rm -rf runs/demo-article-dcgan runs/demo-dcgan runs/demo-article-vae
	$(GF) train --model dcgan --preset article --data $(DEMO_DATA) --steps 400 --out runs/demo-article-dcgan
	$(GF) train --model dcgan --data $(DEMO_DATA) --steps 4000 --out runs/demo-dcgan
	$(GF) train --model vae --preset article --data $(DEMO_DATA) --steps 1200 --out runs/demo-article-vae
	$(GF) sample runs/demo-article-dcgan -n 64 --out runs/demo-article-dcgan/grid.png
	$(GF) sample runs/demo-dcgan -n 64 --out runs/demo-dcgan/grid.png
	$(GF) sample runs/demo-article-vae -n 64 --out runs/demo-article-vae/grid.png
	$(GF) sample runs/demo-article-vae --mode manifold --out runs/demo-article-vae/manifold.png
	$(GF) report runs/demo-dcgan
	@echo "demo done. Sample grids:"; ls -1 runs/demo-*/grid.png runs/demo-article-vae/manifold.png
	@echo "report (open in a browser): runs/demo-dcgan/report.html"

test: setup browser
	$(PY) -m pytest

test-all: setup browser
	$(PY) -m pytest -m ""

bench: setup
	$(PY) -m genforge.bench --levers --load --eval $(DEMO_DATA)

clean:
	rm -rf $(VENV) runs .pytest_cache
