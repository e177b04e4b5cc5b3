#!/usr/bin/env bash
# .ci/gpu/run.sh — builds bnlab with its CUDA backend and verifies it, in one command, on a GPU machine that
# has no internet and may lack the Debian packages the build needs. Run it from a copy of the repo that holds
# .gpu-deps/ (made by .ci/gpu/prepare.sh on a machine with network access; see docs/GPU.md):
#
#   OUT=/some/dir bash .ci/gpu/run.sh
#
# Stages, in order; each runs under `timeout`, and a failing one does not stop the next (its exit code goes to
# $OUT/summary.txt; 124 = ran out of time, "skip" = its prerequisite is missing):
#   env         nvidia-smi, nvcc, compiler, cmake and Python versions, Python.h           -> env.txt
#   deps        copies .gpu-deps/ to $BUILD_DIR/deps, expands its *.xz                    -> build.log
#   gtest       only when needed: GoogleTest is Debian's prebuilt libgtest from .gpu-deps; when bnlab_tests
#               cannot be configured or linked with it, GoogleTest is built from .gpu-deps' sources with this
#               machine's compiler and configure + build run again (GTEST=source: from source first) -> build.log
#   configure   cmake -DBNLAB_CUDA=ON -DBNLAB_TESTS=ON -DBNLAB_PYTHON=ON (OFF when the interpreter has no
#               Python.h: the engine, CUDA included, and bnlab_tests are still built), the deps folder first on
#               CMAKE_PREFIX_PATH (xtl, xtensor, GTest) and on CMAKE_INCLUDE_PATH /
#               CMAKE_LIBRARY_PATH (cblas.h, libopenblas); cuBLAS from the toolkit or the nvidia-cublas
#               wheel of $PYTHON; where CMake found each dependency is written to env.txt -> build.log
#   build       all targets (_core, bnlab_tests), -j$JOBS, keeps going past errors       -> build.log
#   install     copies the built _core*.so into bnlab/ (INSTALL=0 skips)                  -> build.log
#   import      `import bnlab`: built with CUDA? CUDA backend available? It fails when a GPU is present
#               (nvidia-smi -L lists one; REQUIRE_GPU=0/1 overrides) but the backend is not  -> env.txt
#   ctest       the GoogleTest unit tests                                                  -> ctest.log
#   pytest-gpu  python -m pytest -m gpu tests/ (every GPU-marked test), -rA                 -> pytest_gpu.log
#   bench       benchmarks/bench_cuda.py --out $OUT/bench_cuda.md                          -> bench.log
#   pytest-cpu  the rest of the suite (-m "not gpu"), with torch, torchvision and keras hidden (the parity
#               tests need the versions this project pins), in parallel when pytest-xdist is there
#                                                                                          -> pytest_cpu.log
# At most 8 files land in $OUT: summary.txt env.txt build.log ctest.log pytest_gpu.log bench_cuda.md bench.log
# pytest_cpu.log. The whole run keeps within BUDGET_S seconds (default 520): each stage's limit is cut to what
# is left. Exit status: 0 when every stage ran and passed, else 1.
#
# Environment (all optional):
#   PYTHON=python3      the interpreter to build for and test with (it needs numpy, pytest, pybind11)
#   OUT                 where logs go (default $BUILD_DIR/out)
#   BUILD_DIR           default <repo>/build/gpu (git-ignored)
#   JOBS                parallel compile jobs (default: all cores)
#   BNLAB_CUDA=ON       OFF or AUTO to build without the CUDA backend (a dry run on a machine without nvcc)
#   INSTALL=1           0: leave bnlab/ alone (the test stages then use whatever _core Python finds)
#   STAGES="..."        a subset of the stage names above, e.g. STAGES="env deps configure build"
#   GTEST=prebuilt      or source (see the gtest stage)
#   GPU_DEPS_DIR        default <repo>/.gpu-deps;  BNLAB_CUBLAS_ROOT: a cuBLAS folder (include/, lib/)
#   BUDGET_S=520        TIMEOUT_SCALE=1 (multiplies every stage's own limit: a slow machine's dry run)
#   REQUIRE_GPU=auto|0|1        CPU_TESTS_MARK="not gpu"        HIDE_MODULES="torch torchvision ..."
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
T0=$(date +%s)
PATH=$PATH:/usr/local/cuda/bin:/usr/local/nvidia/bin  # nvcc and nvidia-smi where NVIDIA's images put them

die() { echo "run.sh: error: $*" >&2; exit 2; }

PYTHON=$(command -v "${PYTHON:-python3}") || die "no interpreter '${PYTHON:-python3}' (set PYTHON=...)"
BUILD_DIR=${BUILD_DIR:-$ROOT/build/gpu}
OUT=${OUT:-$BUILD_DIR/out}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
BNLAB_CUDA=${BNLAB_CUDA:-ON}
INSTALL=${INSTALL:-1}
BUDGET_S=${BUDGET_S:-520}
TIMEOUT_SCALE=${TIMEOUT_SCALE:-1}
REQUIRE_GPU=${REQUIRE_GPU:-auto}
CPU_TESTS_MARK=${CPU_TESTS_MARK:-not gpu}
HIDE_MODULES=${HIDE_MODULES:-torch torchvision torchaudio keras tensorflow}
GPU_DEPS_DIR=${GPU_DEPS_DIR:-$ROOT/.gpu-deps}
ALL_STAGES="env deps gtest configure build install import ctest pytest-gpu bench pytest-cpu"
GTEST=${GTEST:-prebuilt}
STAGES=${STAGES:-$ALL_STAGES}

mkdir -p "$BUILD_DIR" "$OUT" || die "cannot create $BUILD_DIR or $OUT"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
OUT=$(cd "$OUT" && pwd)
DEPS=$BUILD_DIR/deps              # the expanded copy of .gpu-deps
CMB=$BUILD_DIR/cmake              # the project's CMake build tree
GTEST_PREFIX=$BUILD_DIR/gtest     # GoogleTest built here from source

# cmake, ctest, ninja: on PATH, or next to the interpreter (pip's cmake and ninja wheels)
tool() {
  local t
  t=$(command -v "$1" 2>/dev/null) || { [ -x "$(dirname "$PYTHON")/$1" ] && t=$(dirname "$PYTHON")/$1; } || true
  echo "${t:-}"
}
CMAKE=$(tool cmake)
CTEST=$(tool ctest)
NINJA=$(tool ninja)
[ -n "$CMAKE" ] || die "no cmake on PATH or next to $PYTHON"
if [ -n "$NINJA" ]; then GEN=(-G Ninja "-DCMAKE_MAKE_PROGRAM=$NINJA"); KEEP_GOING=(-k 0)
else GEN=(-G "Unix Makefiles"); KEEP_GOING=(-k); fi

# Python's view: where the bnlab package will be imported from
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
export PYTHON BUILD_DIR OUT JOBS BNLAB_CUDA DEPS CMB GTEST_PREFIX CMAKE CTEST NINJA GPU_DEPS_DIR ROOT
export CPU_TESTS_MARK HIDE_MODULES
export GTEST_FROM_SOURCE=0
export GEN_ARGS="${GEN[*]}" KEEP_GOING_ARGS="${KEEP_GOING[*]}"

SUMMARY=$OUT/summary.txt
{
  echo "# bnlab CUDA verification, .ci/gpu/run.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) && { git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev+=" + local changes"; }
  echo "# repo ${rev:-(no git)}; python $PYTHON; BNLAB_CUDA=$BNLAB_CUDA; jobs $JOBS"
  printf '%-11s %5s %6s  %s\n' stage rc secs note
} >"$SUMMARY"
: >"$OUT/env.txt"
: >"$OUT/build.log"
FAILED=()
OUT_OF_TIME=()

wants() { [[ " $STAGES " == *" $1 "* ]]; }
NOT_RUN=""
record() {  # record STAGE RC SECONDS NOTE
  if [ -n "$NOT_RUN" ] && { [ "$1" = "$NOT_RUN" ] || [ "$1" = "${NOT_RUN}2" ]; }; then NOT_RUN=""; return 0; fi
  local note=${4:-}
  case "$2" in 124|137) note="TIMED OUT${note:+; $note}" ;; esac
  printf '%-11s %5s %6s  %s\n' "$1" "$2" "$3" "$note" >>"$SUMMARY"
  echo "run.sh: [$(($(date +%s) - T0))s] $1: rc=$2 (${3}s) $note"
  case "$2" in 0|skip|-) ;; *) FAILED+=("$1") ;; esac
}

# run_stage NAME MAX_SECONDS LOG FUNCTION: FUNCTION runs in a child bash under timeout, output appended to LOG
run_stage() {
  local name=$1 max=$2 log=$3 fn=$4 left limit t rc
  if ! wants "$name"; then return 0; fi
  left=$((BUDGET_S - ($(date +%s) - T0) - 10))
  max=$((max * TIMEOUT_SCALE))
  limit=$((max < left ? max : left))
  if [ "$limit" -lt 10 ]; then  # not run: recorded here, and the caller's record of it is ignored
    record "$name" skip 0 "out of time (BUDGET_S=$BUDGET_S)"
    NOT_RUN=$name STAGE_RC=125 STAGE_SECS=0
    OUT_OF_TIME+=("$name")
    return 0
  fi
  echo "run.sh: [$(($(date +%s) - T0))s] $name (limit ${limit}s) -> $(basename "$log")"
  printf '\n===== %s (limit %ss) =====\n' "$name" "$limit" >>"$log"
  t=$(date +%s)
  timeout -k 10 "$limit" bash -c "$fn" >>"$log" 2>&1 </dev/null
  rc=$?
  STAGE_SECS=$(($(date +%s) - t))
  STAGE_RC=$rc
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "===== $name: TIMED OUT after ${limit}s =====" >>"$log"
  return 0
}

# ---------------------------------------------------------------- the stages (each a function run by bash -c)
stage_env() {
  echo "## date: $(date -u)   uname: $(uname -a)"
  [ -r /etc/os-release ] && grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release
  echo "## cores: $(nproc)   memory: $(free -g 2>/dev/null | awk '/Mem:/{print $2 " GiB"}')"
  echo "## nvidia-smi"
  if command -v nvidia-smi >/dev/null; then nvidia-smi; nvidia-smi -L; else echo "(nvidia-smi not found)"; fi
  echo "## nvcc: $(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  { command -v nvcc >/dev/null && nvcc --version; } || /usr/local/cuda/bin/nvcc --version || echo "(no nvcc)"
  echo "## compilers"; c++ --version | head -1; cc --version | head -1
  echo "## cmake: $CMAKE ($("$CMAKE" --version | head -1)); ninja: ${NINJA:-none} ($([ -n "$NINJA" ] && "$NINJA" --version))"
  echo "## python: $PYTHON"
  "$PYTHON" - <<'EOF'
import importlib.metadata as md, os, sys, sysconfig
print(sys.version)
inc = sysconfig.get_paths()["include"]
print("Python.h:", os.path.join(inc, "Python.h"), "present" if os.path.exists(os.path.join(inc, "Python.h"))
      else "MISSING (the pybind11 module cannot be built)")
for name in ["numpy", "pytest", "pybind11", "hypothesis", "pytest-xdist", "torch", "nvidia-cublas", "matplotlib"]:
    try:
        print(f"  {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name} (not installed)")
EOF
  echo "## system libgfortran.so.5: $(ldconfig -p 2>/dev/null | grep -m1 'libgfortran.so.5 ' || echo 'none')"
}

stage_deps() {
  set -e
  [ -d "$GPU_DEPS_DIR/usr" ] || { echo "no $GPU_DEPS_DIR/usr: run .ci/gpu/prepare.sh (with network) and copy .gpu-deps/ here"; exit 1; }
  [ -f "$GPU_DEPS_DIR/MANIFEST.txt" ] && cat "$GPU_DEPS_DIR/MANIFEST.txt"
  rm -rf "$DEPS"
  cp -a "$GPU_DEPS_DIR" "$DEPS"
  find "$DEPS" -type f -name '*.xz' -print0 | while IFS= read -r -d '' f; do
    if command -v xz >/dev/null; then xz -d -f "$f"
    else "$PYTHON" -c 'import lzma, os, shutil, sys
src = sys.argv[1]
with lzma.open(src) as i, open(src[:-3], "wb") as o: shutil.copyfileobj(i, o)
os.remove(src)' "$f"; fi
    echo "expanded ${f%.xz}"
  done
  # the libraries' links, should the copy have lost them: each one's SONAME, and libopenblas.so for the build
  find "$DEPS/usr/lib" -type f -name 'lib*.so*' -print0 | while IFS= read -r -d '' f; do
    soname=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    if [ -n "$soname" ] && [ ! -e "$(dirname "$f")/$soname" ]; then
      ln -sfn "$(basename "$f")" "$(dirname "$f")/$soname" && echo "re-linked $(dirname "$f")/$soname"
    fi
  done
  ob=$(find "$DEPS/usr/lib" -name 'libopenblas.so.0' -print -quit)
  if [ -n "$ob" ] && [ ! -e "$(dirname "$ob")/libopenblas.so" ]; then
    ln -sfn libopenblas.so.0 "$(dirname "$ob")/libopenblas.so" && echo "re-linked $(dirname "$ob")/libopenblas.so"
  fi
  dangling=$(find "$DEPS" -xtype l)
  [ -z "$dangling" ] || { echo "dangling links: $dangling"; exit 1; }
  echo "deps ready in $DEPS ($(du -sh "$DEPS" | cut -f1))"
}

stage_gtest() {
  set -e
  src=$DEPS/usr/src/googletest
  [ -f "$src/CMakeLists.txt" ] || { echo "no GoogleTest sources in $src"; exit 1; }
  rm -rf "$BUILD_DIR/gtest-build" "$GTEST_PREFIX"
  # shellcheck disable=SC2086  # GEN_ARGS is a word list made by run.sh
  "$CMAKE" -S "$src" -B "$BUILD_DIR/gtest-build" $GEN_ARGS -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
    -DINSTALL_GTEST=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$GTEST_PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POLICY_VERSION_MINIMUM=3.5
  "$CMAKE" --build "$BUILD_DIR/gtest-build" -j "$JOBS"
  "$CMAKE" --install "$BUILD_DIR/gtest-build"
}

stage_configure() {
  set -e
  cblas=$(find "$DEPS/usr/include" -name cblas.h -print -quit)
  openblas=$(find "$DEPS/usr/lib" -name 'libopenblas.so' -print -quit)
  if [ -z "$cblas" ] || [ -z "$openblas" ]; then echo "no cblas.h or libopenblas.so under $DEPS"; exit 1; fi
  pybind11_dir=$("$PYTHON" -m pybind11 --cmakedir) || { echo "$PYTHON has no pybind11"; exit 1; }
  cublas=${BNLAB_CUBLAS_ROOT:-}
  if [ -z "$cublas" ]; then  # the nvidia-cublas wheel of this interpreter, if any
    cublas=$("$PYTHON" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("nvidia")
for base in (spec.submodule_search_locations if spec else []):
    for sub in ("cu13", "cublas"):
        if (pathlib.Path(base, sub, "include", "cublas_v2.h")).exists():
            print(pathlib.Path(base, sub)); raise SystemExit
EOF
)
  fi
  echo "cblas.h: $cblas; libopenblas: $openblas; pybind11: $pybind11_dir; cuBLAS wheel: ${cublas:-none}"
  with_python=ON  # without Python.h the module cannot be built: build the engine and bnlab_tests at least
  if ! "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    echo "WARNING: $PYTHON has no Python.h: configuring without the Python module (BNLAB_PYTHON=OFF)"
    with_python=OFF
    rm -f "$CMB"/_core*.so
  fi
  prefixes="$DEPS/usr"
  [ "$GTEST_FROM_SOURCE" = 1 ] && prefixes="$GTEST_PREFIX;$prefixes"
  rm -f "$CMB/CMakeCache.txt"
  # shellcheck disable=SC2086
  "$CMAKE" -S "$ROOT" -B "$CMB" $GEN_ARGS -DCMAKE_BUILD_TYPE=Release \
    -DBNLAB_CUDA="$BNLAB_CUDA" -DBNLAB_TESTS=ON -DBNLAB_PYTHON="$with_python" \
    -DPython_EXECUTABLE="$PYTHON" -Dpybind11_DIR="$pybind11_dir" \
    -DCMAKE_PREFIX_PATH="$prefixes" \
    -DCMAKE_INCLUDE_PATH="$(dirname "$cblas")" -DCMAKE_LIBRARY_PATH="$(dirname "$openblas")" \
    -DBLA_VENDOR=OpenBLAS ${cublas:+-DBNLAB_CUBLAS_ROOT="$cublas"}
}

stage_build() {
  # shellcheck disable=SC2086
  "$CMAKE" --build "$CMB" -j "$JOBS" -- $KEEP_GOING_ARGS
}

stage_install() {
  set -e
  so=$(find "$CMB" -maxdepth 1 -name '_core*.so' -print -quit)
  cp -v "$so" "$ROOT/bnlab/"
}

stage_import() {
  "$PYTHON" - <<'EOF'
import os, sys
import bnlab
from bnlab import _core
cuda = _core.backend_available(_core.Device.CUDA) if _core.built_with_cuda else False
print(f"bnlab from {os.path.dirname(bnlab.__file__)}; _core: {_core.__file__}")
print(f"built_with_cuda={bool(_core.built_with_cuda)} cuda_backend_available={bool(cuda)}")
want_cuda_build = os.environ["BNLAB_CUDA"] == "ON"
need_gpu = os.environ["NEED_GPU"] == "1"
if want_cuda_build and not _core.built_with_cuda:
    sys.exit("FAIL: BNLAB_CUDA=ON but the module was built without CUDA")
if need_gpu and not cuda:
    sys.exit("FAIL: a GPU is present but bnlab's CUDA backend is not available (the GPU tests would all skip)")
EOF
  echo "## ldd $(find "$CMB" -maxdepth 1 -name '_core*.so' -print -quit)"
  ldd "$(find "$CMB" -maxdepth 1 -name '_core*.so' -print -quit)"
}

stage_ctest() {
  cd "$CMB" && "$CTEST" --output-on-failure -j "$JOBS" --timeout 120
}

stage_pytest_gpu() {
  cd "$ROOT" && "$PYTHON" -m pytest -m gpu -q -rA --durations=15 --continue-on-collection-errors -p no:cacheprovider \
    --junitxml "$BUILD_DIR/pytest_gpu.xml" tests/
}

stage_bench() {
  cd "$ROOT" && "$PYTHON" benchmarks/bench_cuda.py --out "$OUT/bench_cuda.md"
}

stage_pytest_cpu() {
  hide=$BUILD_DIR/hide
  rm -rf "$hide"
  for m in $HIDE_MODULES; do
    mkdir -p "$hide/$m"
    # ModuleNotFoundError: what pytest.importorskip turns into a skip
    echo "raise ModuleNotFoundError('$m is hidden by .ci/gpu/run.sh (the tests pin another version)', name='$m')" \
      >"$hide/$m/__init__.py"
  done
  par=()
  if "$PYTHON" -c "import xdist" 2>/dev/null; then par=(-p xdist.plugin -n "$((JOBS < 8 ? JOBS : 8))"); fi
  echo "hidden: $HIDE_MODULES; parallel: ${par[*]:-no}"
  cd "$ROOT" && PYTHONPATH="$hide:$PYTHONPATH" "$PYTHON" -m pytest -m "$CPU_TESTS_MARK" -q -rfEs \
    --continue-on-collection-errors -p no:cacheprovider "${par[@]}" tests/
}
export -f stage_env stage_deps stage_gtest stage_configure stage_build stage_install stage_import stage_ctest \
  stage_pytest_gpu stage_bench stage_pytest_cpu

# ---------------------------------------------------------------- run them
last_line() { grep -E "$2" "$1" 2>/dev/null | tail -1 | cut -c1-150; }

run_stage env 60 "$OUT/env.txt" stage_env
wants env && record env "$STAGE_RC" "$STAGE_SECS" "$(grep -m1 -E '^GPU 0:' "$OUT/env.txt" || echo 'no GPU listed by nvidia-smi')"

run_stage deps 60 "$OUT/build.log" stage_deps
wants deps && record deps "$STAGE_RC" "$STAGE_SECS"
# the build, the module and the tests find libopenblas (and, where the system has none, libgfortran) here
lib=$(find "$DEPS/usr/lib" -name 'libopenblas.so.0' -print -quit 2>/dev/null)
[ -n "$lib" ] && LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
lib=$(find "$DEPS/usr/lib" -name 'libgfortran.so.5' -print -quit 2>/dev/null)
if [ -n "$lib" ] && ! ldconfig -p 2>/dev/null | grep 'libgfortran.so.5 ' >/dev/null; then
  LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$lib")"
fi
export LD_LIBRARY_PATH
echo "## LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$OUT/env.txt"

gtest_from_source() {
  run_stage gtest 150 "$OUT/build.log" stage_gtest
  wants gtest && record gtest "$STAGE_RC" "$STAGE_SECS" "GoogleTest built from source"
  [ "${STAGE_RC:-1}" -eq 0 ] && wants gtest && GTEST_FROM_SOURCE=1
}

drop_stale() {  # drop_stale FROM_LINE: after a failed build, an output whose own inputs failed is an older build's
  local failed
  failed=$(tail -n +"$1" "$OUT/build.log" | grep -E '^FAILED: |\*\*\* \[' || true)
  [ -n "$NINJA" ] || failed="_core bnlab_tests"  # make's messages are vaguer: drop both
  if grep -E 'CMakeFiles/(bnlab_engine|_core)\.dir/|_core' <<<"$failed" >/dev/null; then
    rm -fv "$CMB"/_core*.so >>"$OUT/build.log"
  fi
  if grep -E 'CMakeFiles/(bnlab_engine|bnlab_tests)\.dir/|bnlab_tests' <<<"$failed" >/dev/null; then
    rm -fv "$CMB/bnlab_tests" >>"$OUT/build.log"
  fi
}

configure_and_build() {  # configure_and_build SUFFIX: the configure and build stages (recorded as configureSUFFIX...)
  local from note
  from=$(wc -l <"$OUT/build.log")
  run_stage configure 150 "$OUT/build.log" stage_configure
  if wants configure; then
    note=$(last_line "$OUT/build.log" 'bnlab CUDA backend:|CMake Error')
    record "configure$1" "$STAGE_RC" "$STAGE_SECS" "$note"
    if tail -n +"$from" "$OUT/build.log" | grep 'has no Python.h' >/dev/null; then
      record python.h 1 0 "$PYTHON has no Python.h: configured with BNLAB_PYTHON=OFF, no module, no Python tests"
    fi
    # where each dependency came from: the deps copy, the source-built GoogleTest, or the system
    {
      echo "## where CMake found the dependencies ($CMB/CMakeCache.txt)"
      grep -E '^(xtl_DIR|xtensor_DIR|GTest_DIR|pybind11_DIR|BNLAB_CBLAS_INCLUDE|BNLAB_OPENBLAS|BLAS_openblas_LIBRARY|LAPACK_openblas_LIBRARY|BNLAB_CUBLAS_[A-Z]*|CUDAToolkit_[A-Z_]*DIR|CMAKE_CUDA_COMPILER|CMAKE_CXX_COMPILER|Python_EXECUTABLE)[:=]' \
        "$CMB/CMakeCache.txt" 2>/dev/null | sed -e "s|$DEPS|<deps>|g" -e "s|$GTEST_PREFIX|<gtest-from-source>|g"
    } >>"$OUT/env.txt"
    local system
    system=$(grep -E '^(xtl_DIR|xtensor_DIR|GTest_DIR|BNLAB_CBLAS_INCLUDE|BNLAB_OPENBLAS)[:=]' "$CMB/CMakeCache.txt" 2>/dev/null |
             grep -v -e "$DEPS" -e "$GTEST_PREFIX" | cut -d: -f1 | tr '\n' ' ')
    [ -n "$system" ] && record found-deps - 0 "from the system, not .gpu-deps: $system"
  fi
  from=$(wc -l <"$OUT/build.log")
  run_stage build 330 "$OUT/build.log" stage_build
  if wants build; then
    [ "$STAGE_RC" -ne 0 ] && drop_stale "$from"
    note=""
    [ "$STAGE_RC" -ne 0 ] && note=$(tail -n +"$from" "$OUT/build.log" | grep -m1 -E 'error:|FAILED:|Error [0-9]' | cut -c1-150)
    record "build$1" "$STAGE_RC" "$STAGE_SECS" "$note"
  fi
}

# GoogleTest: Debian's prebuilt static library from .gpu-deps first (no time spent); when bnlab_tests cannot be
# configured or linked with it (another compiler's ABI, say), it is built from .gpu-deps' sources and the
# project configured and built again (only what changed is rebuilt). GTEST=source builds it from source first.
[ "$GTEST" = source ] && gtest_from_source
log_start=$(wc -l <"$OUT/build.log")
configure_and_build ""
if wants build && [ "$GTEST" != source ] && [ "$STAGE_RC" -ne 0 ] && [ -f "$DEPS/usr/src/googletest/CMakeLists.txt" ] &&
   tail -n +"$log_start" "$OUT/build.log" | grep -E 'need GoogleTest|GTest|libgtest|undefined reference to .*testing::' >/dev/null; then
  record gtest-retry - 0 "bnlab_tests did not configure/link with the prebuilt GoogleTest: building it from source"
  gtest_from_source
  configure_and_build "2"
  if [ "$STAGE_RC" -eq 0 ]; then  # the retry built everything: the first build's failure is superseded
    kept=(); for st in "${FAILED[@]}"; do [ "$st" = build ] || [ "$st" = configure ] || kept+=("$st"); done
    FAILED=("${kept[@]}")
  fi
fi

CORE_SO=$(find "$CMB" -maxdepth 1 -name '_core*.so' -print -quit 2>/dev/null)
if wants install; then
  if [ "$INSTALL" != 1 ]; then record install skip 0 "INSTALL=$INSTALL"
  elif [ -z "$CORE_SO" ]; then record install skip 0 "no _core*.so was built"
  else run_stage install 30 "$OUT/build.log" stage_install; record install "$STAGE_RC" "$STAGE_SECS" "$(basename "$CORE_SO") -> bnlab/"; fi
fi

NEED_GPU=0
case "$REQUIRE_GPU" in
  1) NEED_GPU=1 ;;
  auto) nvidia-smi -L 2>/dev/null | grep '^GPU ' >/dev/null && [ "$BNLAB_CUDA" = ON ] && NEED_GPU=1 ;;
esac
export NEED_GPU
if wants import; then
  if [ -z "$CORE_SO" ]; then record import skip 0 "no _core*.so was built"
  else run_stage import 60 "$OUT/env.txt" stage_import
    record import "$STAGE_RC" "$STAGE_SECS" "$(last_line "$OUT/env.txt" '^built_with_cuda|^FAIL') (GPU required: $NEED_GPU)"; fi
fi

if wants ctest; then
  if [ -z "$(find "$CMB" -maxdepth 1 -name bnlab_tests -type f 2>/dev/null)" ]; then record ctest skip 0 "bnlab_tests was not built"
  else run_stage ctest 150 "$OUT/ctest.log" stage_ctest; record ctest "$STAGE_RC" "$STAGE_SECS" "$(last_line "$OUT/ctest.log" 'tests passed|tests failed')"; fi
fi

for st in pytest-gpu bench pytest-cpu; do
  wants "$st" || continue
  if [ -z "$CORE_SO" ] && [ "$INSTALL" = 1 ]; then record "$st" skip 0 "no _core*.so was built"; continue; fi
  case $st in
    pytest-gpu) run_stage "$st" 200 "$OUT/pytest_gpu.log" stage_pytest_gpu
                record "$st" "$STAGE_RC" "$STAGE_SECS" "$(last_line "$OUT/pytest_gpu.log" ' (passed|failed|skipped|error|deselected)')" ;;
    bench)      run_stage "$st" 200 "$OUT/bench.log" stage_bench
                note=$(last_line "$OUT/bench.log" '.'); [ -s "$OUT/bench_cuda.md" ] && note="table in bench_cuda.md"
                record "$st" "$STAGE_RC" "$STAGE_SECS" "$note" ;;
    pytest-cpu) run_stage "$st" 240 "$OUT/pytest_cpu.log" stage_pytest_cpu
                record "$st" "$STAGE_RC" "$STAGE_SECS" "$(last_line "$OUT/pytest_cpu.log" ' (passed|failed|skipped|error|deselected)')" ;;
  esac
done

# ---------------------------------------------------------------- report: failures' tails, the table, the summary
echo "total $(($(date +%s) - T0))s (budget ${BUDGET_S}s); failed: ${FAILED[*]:-none}; not run for lack of time: ${OUT_OF_TIME[*]:-none}" >>"$SUMMARY"
for st in "${FAILED[@]}"; do
  case $st in
    env|import) f=env.txt ;; ctest) f=ctest.log ;; pytest-gpu) f=pytest_gpu.log ;; bench) f=bench.log ;;
    pytest-cpu) f=pytest_cpu.log ;; *) f=build.log ;;
  esac
  echo; echo "----- $st failed: the end of $f -----"
  grep -v '^$' "$OUT/$f" | tail -n 25 | cut -c1-300
done
[ -s "$OUT/bench_cuda.md" ] && { echo; cat "$OUT/bench_cuda.md"; }
echo; cat "$SUMMARY"
echo "logs: $OUT"
[ ${#FAILED[@]} -eq 0 ] && [ ${#OUT_OF_TIME[@]} -eq 0 ]
