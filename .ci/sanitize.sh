#!/usr/bin/env bash
# `make sanitize`: the engine, its unit tests and the Python module built with AddressSanitizer and
# UndefinedBehaviorSanitizer (CMake option BNLAB_SANITIZE, in build/sanitize, CPU only), then ctest and the
# engine-facing part of the pytest suite against that module. Any report fails the run.
#   SANITIZE_TESTS="tests/..."   the pytest files to run (default: every test that drives the engine)
# Python itself is not instrumented, so libasan is preloaded; leak detection is off (the interpreter keeps
# its own allocations to the end); UBSan stops at the first report with a stack trace.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/sanitize
py=.venv/bin/python
default_tests="tests/test_ops_forward.py tests/test_ops_gradcheck.py tests/test_batchnorm_behaviour.py
  tests/test_fused_bn_relu.py tests/test_keras_layers.py tests/test_keras_fit.py tests/test_keras_errors.py
  tests/test_keras_step_numpy.py tests/test_torch_tensor.py tests/test_torch_nn.py tests/test_torch_optim.py
  tests/test_torch_data.py tests/test_data_pipeline.py tests/fuzz"

$py -m pip install --quiet "pybind11>=2.12"
mkdir -p build
.venv/bin/cmake -S . -B "$build" -G Ninja -DBNLAB_SANITIZE=ON -DBNLAB_TESTS=ON -DBNLAB_PYTHON=ON -DBNLAB_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_MAKE_PROGRAM="$PWD/.venv/bin/ninja" \
  -DPython_EXECUTABLE="$PWD/$py" -Dpybind11_DIR="$($py -m pybind11 --cmakedir)" > "$build.log" 2>&1 \
  || { cat "$build.log"; exit 1; }
.venv/bin/cmake --build "$build" -j "${SANITIZE_JOBS:-2}"

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_init_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
.venv/bin/ctest --test-dir "$build" --output-on-failure

# The package as an install would lay it out: the sources (linked) and the sanitized _core beside them.
site="$build/site"
rm -rf "$site" && mkdir -p "$site/bnlab"
for entry in bnlab/*; do
  [ "$(basename "$entry")" = __pycache__ ] || ln -s "$PWD/$entry" "$site/bnlab/"
done
cp "$build"/_core*.so "$site/bnlab/"
# -S: no site hooks, so the editable install's finder cannot hand out the normal _core; -P: the current
# folder (a checkout whose bnlab has no _core) does not lead sys.path.
purelib="$($py -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
# libstdc++ is preloaded too: Python does not link it, and ASan's __cxa_throw interceptor must find it at start.
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so)"
export PYTHONPATH="$PWD/$site:$purelib"
$py -S -P -c 'import bnlab._core as c, sys; sys.exit(0 if "/sanitize/" in c.__file__ else "not the sanitized module: " + c.__file__)'
# shellcheck disable=SC2086
$py -S -P -m pytest -q -s -p no:cacheprovider ${SANITIZE_TESTS:-$default_tests}
