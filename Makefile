# memcollab — set-up, tests and the demo, from nothing. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MC     := $(BIN)/memcollab

.PHONY: install models data test test-fast demo lint bench bench-gpu-smoke clean

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null
	# llama-cpp-python compiles llama.cpp (about 10 min on 2 cores); pip caches the wheel.
	# For GPU offload: CMAKE_ARGS="-DGGML_CUDA=on" make install (or -DGGML_METAL=on).
	$(BIN)/pip install -e '.[dev,server,plot]'
	touch $@

models: install
	$(MC) models pull smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b

data: install
	$(MC) data pull

# MBPP ships in no package: tests read it from MEMCOLLAB_MBPP, by default the data directory
# beside the checkout where there is one (tests that need MBPP skip without it).
export MEMCOLLAB_MBPP ?= $(wildcard $(CURDIR)/../shared/data/mbpp)

test: install data
	$(MC) models pull smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not model"

lint: install
	$(BIN)/ruff check memcollab_cli tests bench

demo: install models data
	bash scripts/demo.sh

bench: install models
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/prefix.py
	$(BIN)/python bench/bank.py

# The GPU scaling bench (bench/scaling.py, what scripts/gpu-run.py measures first), on CPU with the
# smallest model and tiny N: under a minute.
bench-gpu-smoke: install
	MEMCOLLAB_THREADS=$${MEMCOLLAB_THREADS:-1} $(BIN)/python bench/scaling.py -m smollm2-135m \
	    --parallel 1 2 --max-tokens 16 --n-ctx 1024

clean:
	rm -rf $(VENV) build *.egg-info demo-out
