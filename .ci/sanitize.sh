#!/usr/bin/env bash
# `make sanitize`: the engine, its unit tests and the Python module built with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake option BNLAB_SANITIZE, in build/sanitize, CPU only), then ctest and the
# engine-facing part of the pytest suite against that module (.ci/alt-build.sh). Any report fails the run.
#   SANITIZE_TESTS="tests/..."   the pytest files to run (default: every test that drives the engine)
# Python itself is not instrumented, so libasan is preloaded; leak detection is off (the interpreter keeps
# its own allocations to the end); UBSan stops at the first report with a stack trace.
set -euo pipefail
cd "$(dirname "$0")/.."
default_tests="tests/test_ops_forward.py tests/test_ops_gradcheck.py tests/test_batchnorm_behaviour.py
  tests/test_fused_bn_relu.py tests/test_keras_layers.py tests/test_keras_fit.py tests/test_keras_errors.py
  tests/test_keras_step_numpy.py tests/test_torch_tensor.py tests/test_torch_nn.py tests/test_torch_optim.py
  tests/test_torch_data.py tests/test_data_pipeline.py tests/fuzz"

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_init_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# libstdc++ is preloaded too: Python does not link it, and ASan's __cxa_throw interceptor must find it at start.
ALT_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so)" \
  ALT_NAME=sanitize ALT_CMAKE="-DBNLAB_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
  ALT_TESTS="${SANITIZE_TESTS:-$default_tests}" ALT_JOBS="${SANITIZE_JOBS:-2}" exec bash .ci/alt-build.sh
