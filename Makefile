# One command to make a film, one to pass the tests. Everything installs from PyPI into .venv:
# ffmpeg (imageio-ffmpeg), espeak-ng (espeakng-loader), the CJK caption font (noto-cjk-sans-otc).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
THEME ?= An astronaut's space adventure
# The CPU build (from the machine's wheel cache where there is one); set TORCH= to keep your own.
TORCH ?= torch==2.13.0

.PHONY: setup demo test bench clean

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

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup

# MoviePy (the bench extra, then moviepy without its pillow pin) after setup, so torch is the CPU build
# already there when pip resolves it.
bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m pip install -q --no-deps 'moviepy>=2,<3'
	$(BIN)/python benchmarks/make_default.py
	$(BIN)/python benchmarks/assembly.py

clean:
	rm -rf runs .pytest_cache
