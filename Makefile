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

.PHONY: setup data browser postgres-server postgres demo lint test test-fast test-all bench reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all,test]'
	touch $(STAMP)

# Debian's packages of real data: Fashion-MNIST (images), the English and Chinese fortunes (text),
# espeak-ng, which speaks the spoken-digits audio set, FluidSynth with the General MIDI soundfont, which
# plays melodies, Chromaprint, which fingerprints generated clips, and the Festival voices and Asterisk's recorded
# prompts of the voice-digits set.
FORTUNES := /usr/share/games/fortunes
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2
VOICES := festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts asterisk-core-sounds-en-wav \
	asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav
DEB_DATA := dataset-fashion-mnist fortunes fortunes-zh espeak-ng fluidsynth fluid-soundfont-gm libchromaprint-tools \
	sweethome3d-furniture $(VOICES)
data:
	@if [ -d $(FMNIST) ] && [ -f $(FORTUNES)/love ] && [ -f $(FORTUNES)/tang300 ] && command -v espeak-ng >/dev/null \
	  && command -v fluidsynth >/dev/null && [ -f $(SOUNDFONT) ] && command -v fpcalc >/dev/null \
	  && [ -d /usr/share/sweethome3d/furniture ] && command -v text2wave >/dev/null \
	  && [ -d /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU ]; then \
	  echo "data: $(FMNIST), $(FORTUNES), espeak-ng, fluidsynth"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q $(DEB_DATA) >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(DEB_DATA) >/dev/null 2>&1) || \
	  echo "note: could not install $(DEB_DATA); the demo falls back to digits"; \
	else echo "note: apt-get install $(DEB_DATA) for the real data sets; the demo uses digits"; fi

# Debian's Chromium for the browser test (Playwright drives it; it never downloads a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) || \
	  echo "note: could not install chromium; the browser test will be skipped"; \
	else echo "note: no /usr/bin/chromium (apt-get install chromium); the browser test will be skipped"; fi

setup: $(STAMP) data

# Debian's PostgreSQL server binaries, for many tuning workers on one study (the tests start a throwaway
# cluster with them); `make postgres` starts one on 127.0.0.1:55432 and prints its storage URL.
postgres-server:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q postgresql >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1) || \
	  echo "note: could not install postgresql; the PostgreSQL tuning tests will be skipped"; \
	else echo "note: apt-get install postgresql for the PostgreSQL tuning tests (skipped without it)"; fi

postgres: setup postgres-server
	$(PY) -m genforge.tune.pgcluster start --dir /tmp/genforge-pg --port 55432

# About 10 minutes after set-up, on a quiet or a busy machine alike (the budget is wall-clock):
# the family --model auto picks first (the VAE default on Fashion-MNIST), then the article's DCGAN and VAE, grids,
# a report, a comparison.
demo: setup
	rm -rf runs/demo
	$(GF) demo --data $(DEMO_DATA) --minutes 10 --out runs/demo

# Two tiers (docs/testing.md): test-fast is every module's logic on tiny tensors and configs (no process, database,
# browser or torchrun; under 2 minutes on 2 cores), run after every change; test adds the lint and the integration
# tier, both on two pytest-xdist workers (at most 10 minutes on 2 cores). CI runs `make test`.
test-fast: setup
	$(PY) -m pytest -n 2 --dist worksteal -m "not slow and not integration"

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

test: setup browser postgres-server lint
	$(PY) -m pytest -n 2 --dist worksteal

test-all: setup browser postgres-server
	$(PY) -m pytest -n 2 --dist worksteal -m ""

# The whole reliability campaign (docs/reliability.md): kills of train / evaluate / tune, fuzzing of every
# loader and of the server, the server's load test, and the safe-loading audit. About 40 minutes on 2 cores.
reliability: setup
	$(PY) -m genforge.faults --command train --kills 20
	$(PY) -m genforge.faults --command evaluate --kills 20
	$(PY) -m genforge.faults --command tune --kills 20
	$(PY) -m genforge.fuzz --cases 1000
	$(PY) -m genforge.bench.serve --requests 500 --clients 8 --repeats 3
	$(PY) -m pytest tests/test_reliability.py tests/test_faults.py tests/test_fuzz.py -m ""

bench: setup
	$(PY) -m genforge.bench --levers --load --eval $(DEMO_DATA)

clean:
	rm -rf $(VENV) runs .pytest_cache
