#!/usr/bin/env bash
# `make portable`: the engine, its unit tests and the Python module built without -march=native (BNLAB_NATIVE=OFF,
# in build/portable: no AVX-512, so no narrow GEMM; cblas_sgemm and the compiler's baseline x86-64 code), then
# ctest and the parity tests against that module (.ci/alt-build.sh): a stand-in for another x86-64 machine.
#   PORTABLE_TESTS="tests/..."   the pytest files to run (default: the tests that compare with Keras/PyTorch/NumPy)
set -euo pipefail
cd "$(dirname "$0")/.."
default_tests="tests/test_keras_parity.py tests/test_keras_conv.py tests/test_torch_parity.py
  tests/test_torch_conv_parity.py tests/test_norm_parity.py tests/test_seed000.py tests/test_seed001.py
  tests/test_seed003.py tests/test_seed004.py tests/test_keras_step_numpy.py tests/test_dense_narrow.py
  tests/test_conv_narrow.py tests/test_keras_norm_live_settings_parity.py"
ALT_NAME=portable ALT_CMAKE="-DBNLAB_NATIVE=OFF -DCMAKE_BUILD_TYPE=Release" \
  ALT_TESTS="${PORTABLE_TESTS:-$default_tests}" exec bash .ci/alt-build.sh
