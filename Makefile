# One command to make a film, one to pass the tests. Everything installs from PyPI into .venv:
# ffmpeg (imageio-ffmpeg), espeak-ng (espeakng-loader), the CJK caption font (noto-cjk-sans-otc).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
THEME ?= An astronaut's space adventure
# The CPU build (from the machine's wheel cache where there is one); set TORCH= to keep your own.
TORCH ?= torch==2.13.0

.PHONY: setup demo test browser bench clean studio

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install -q $(TORCH))
	$(BIN)/python -m pip install -q --no-deps 'tinysoundfont>=0.3.6'
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/moviefactory make "$(THEME)"

studio: setup
	$(BIN)/moviefactory serve

test: setup browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs -n 2 --dist loadgroup

# The studio's browser test drives Debian's Chromium (Playwright's own browser download is not used).
# Installed with apt where it is missing and we may; otherwise that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium >/dev/null) || echo "could not install chromium: the studio's browser test will skip"; \
	  else echo "no chromium and no root apt-get: the studio's browser test will skip"; fi; }

# MoviePy (the bench extra, then moviepy without its pillow pin) after setup, so torch is the CPU build
# already there when pip resolves it.
bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m pip install -q --no-deps 'moviepy>=2,<3'
	$(BIN)/python benchmarks/make_default.py
	$(BIN)/python benchmarks/assembly.py

clean:
	rm -rf runs .pytest_cache
