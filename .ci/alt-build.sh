#!/usr/bin/env bash
# A second build of the engine, its unit tests and the Python module in build/<name>, then ctest and a part of
# the pytest suite against that module (not the editable install's). Used by .ci/sanitize.sh and .ci/portable.sh:
#   ALT_NAME=<name> ALT_CMAKE="<-D options>" ALT_TESTS="<pytest files>" [ALT_ENV_CHECK=<python expr>] alt-build.sh
# ALT_PRELOAD: libraries for LD_PRELOAD while pytest runs (the sanitizers' runtime). ALT_JOBS: build jobs (2).
set -euo pipefail
cd "$(dirname "$0")/.."
build="build/$ALT_NAME"
py=.venv/bin/python

$py -m pip install --quiet "pybind11>=2.12"
mkdir -p build
# shellcheck disable=SC2086
.venv/bin/cmake -S . -B "$build" -G Ninja -DBNLAB_TESTS=ON -DBNLAB_PYTHON=ON -DBNLAB_CUDA=OFF $ALT_CMAKE \
  -DCMAKE_MAKE_PROGRAM="$PWD/.venv/bin/ninja" \
  -DPython_EXECUTABLE="$PWD/$py" -Dpybind11_DIR="$($py -m pybind11 --cmakedir)" > "$build.log" 2>&1 \
  || { cat "$build.log"; exit 1; }
.venv/bin/cmake --build "$build" -j "${ALT_JOBS:-2}"

.venv/bin/ctest --test-dir "$build" --output-on-failure

# The package as an install would lay it out: the sources (linked) and this build's _core beside them.
site="$build/site"
rm -rf "$site" && mkdir -p "$site/bnlab"
for entry in bnlab/*; do
  [ "$(basename "$entry")" = __pycache__ ] || ln -s "$PWD/$entry" "$site/bnlab/"
done
cp "$build"/_core*.so "$site/bnlab/"
# -S: no site hooks, so the editable install's finder cannot hand out the normal _core; -P: the current
# folder (a checkout whose bnlab has no _core) does not lead sys.path.
purelib="$($py -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
export PYTHONPATH="$PWD/$site:$purelib"
[ -z "${ALT_PRELOAD:-}" ] || export LD_PRELOAD="$ALT_PRELOAD"
$py -S -P -c "import bnlab._core as c, sys; sys.exit(0 if '/$ALT_NAME/' in c.__file__ else 'not the $ALT_NAME module: ' + c.__file__)"
# shellcheck disable=SC2086
$py -S -P -m pytest -q -s -p no:cacheprovider $ALT_TESTS
