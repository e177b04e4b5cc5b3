# bnlab — the two commands of the README, plus the pieces they are made of.
#   make demo   runs the main job (BN against no BN on Fashion-MNIST) and writes a report
#   make test   runs every test: pytest, the GoogleTest unit tests (ctest), clang-format and ruff
#   make fuzz   the fuzz suite (tests/fuzz) with Hypothesis's long profile: thousands of examples per test
#   make sanitize  engine, unit tests and Python module with ASan+UBSan (build/sanitize); ctest + pytest on it
#   make portable  the same without -march=native (BNLAB_NATIVE=OFF, build/portable); ctest + the parity tests
# BNLAB_GEMM=cblas (environment) sends every GEMM to cblas_sgemm instead of the engine's AVX-512 narrow GEMM,
#   e.g. `BNLAB_GEMM=cblas make pytest`: the parity tests must pass on both paths.
# Both set up what is missing first: Debian packages, .venv, the package with its test extras.

PY      := .venv/bin/python
STAMP   := .venv/.bnlab-installed
SOURCES := $(shell find cpp bindings cmake -type f 2>/dev/null) CMakeLists.txt pyproject.toml
CTEST_BUILD := build/ctest
CMAKE   := .venv/bin/cmake
NINJA   := .venv/bin/ninja

.PHONY: demo test setup system venv pytest ctest lint format bench fuzz sanitize portable clean

demo: setup
	$(PY) -m bnlab compare $(DEMO_ARGS)

test: setup lint ctest pytest

setup: system $(STAMP)

system:
	@bash .ci/system-deps.sh

$(STAMP): $(SOURCES)
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	@# The reference frameworks of the parity tests (never imported by bnlab itself): PyTorch, Keras on its torch
	@# backend, and the TensorFlow the Keras seeds were written for (tests/test_tf_parity.py, the d2l TF chapter).
	$(PY) -m pip install --quiet cmake ninja torch==2.13.0 keras tensorflow-cpu==2.21.0
	@# nvcc is here but the toolkit may lack cuBLAS: the wheel lets the CUDA backend compile (and run on a GPU).
	if [ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null; then $(PY) -m pip install --quiet "nvidia-cublas==13.1.*"; fi
	$(PY) -m pip install --quiet -e ".[test]" --config-settings=build-dir=build/py
	@touch $(STAMP)

pytest: setup
	.venv/bin/pytest -q $(PYTEST_ARGS)

ctest: setup
	@mkdir -p build
	$(CMAKE) -S . -B $(CTEST_BUILD) -G Ninja -DBNLAB_TESTS=ON -DBNLAB_CUDA=$${BNLAB_CUDA:-AUTO} \
	  -DCMAKE_MAKE_PROGRAM=$(CURDIR)/$(NINJA) > $(CTEST_BUILD).log 2>&1 || (cat $(CTEST_BUILD).log; exit 1)
	$(CMAKE) --build $(CTEST_BUILD) -j 2
	.venv/bin/ctest --test-dir $(CTEST_BUILD) --output-on-failure

lint: setup
	.venv/bin/ruff check bnlab tests benchmarks notebooks tools
	.venv/bin/ruff format --check bnlab tests benchmarks notebooks tools
	@# bnlab/_core/*.pyi against the built engine module; rewrite them with `$(PY) tools/core_stubs.py`
	$(PY) tools/core_stubs.py --check
	clang-format --dry-run --Werror $$(find cpp bindings -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh')

format: setup
	.venv/bin/ruff check --fix bnlab tests benchmarks notebooks tools
	.venv/bin/ruff format bnlab tests benchmarks notebooks tools
	clang-format -i $$(find cpp bindings -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh')

fuzz: setup
	HYPOTHESIS_PROFILE=long .venv/bin/pytest -q tests/fuzz --hypothesis-show-statistics $(PYTEST_ARGS)

sanitize: setup
	bash .ci/sanitize.sh

portable: setup
	bash .ci/portable.sh

bench: setup
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) benchmarks/bench_keras_epoch.py --out benchmarks/results_keras_epoch.md
	$(PY) benchmarks/bench_torch_seed000.py --out benchmarks/results_torch_seed000.md
	$(PY) benchmarks/bench_cuda.py

clean:
	rm -rf build .venv
