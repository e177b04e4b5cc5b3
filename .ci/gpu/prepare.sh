#!/usr/bin/env bash
# .ci/gpu/prepare.sh — run on a machine WITH network access (Debian or Ubuntu, any user; root is not needed),
# before verifying the CUDA backend on a GPU machine that has no internet and may lack the Debian packages
# the build needs. It fetches those packages' .deb files with `apt-get download` and unpacks them with
# `dpkg -x` into the repo-local folder .gpu-deps/ (git-ignored), which is then copied to the GPU machine along
# with the repo, where .ci/gpu/run.sh uses it as an install prefix (see docs/GPU.md).
#
#   .ci/gpu/prepare.sh            # (re)creates .gpu-deps/ when its package list or versions changed
#   FORCE=1 .ci/gpu/prepare.sh    # recreates it regardless
#
# What goes in (amd64 packages, the distribution's candidate versions):
#   libxtensor-dev, xtl-dev (Ubuntu/Debian name of "libxtl-dev")                       headers + CMake configs
#   libopenblas-dev, libopenblas-pthread-dev, libopenblas0-pthread (or libopenblas0-serial/-openmp where
#     pthread is missing, or the pre-2021 libopenblas-base)                           cblas.h + libopenblas.so
#   libgfortran5, libquadmath0                                   OpenBLAS's runtime dependencies, as a fallback
#   googletest (sources, built on the GPU machine by its own compiler), libgtest-dev (prebuilt, a fallback)
# What is stripped: documentation, static libraries (except libgtest*.a), OpenBLAS's separate libblas/liblapack
# (libopenblas.so holds both), googlemock, googletest's own tests/samples/docs. Shared libraries over 4 MiB
# (libopenblas) are stored xz-compressed as FILE.xz and expanded by run.sh into its build folder, so that
# .gpu-deps/ stays small (about 9 MiB). MANIFEST.txt inside lists the packages and versions.
#
# Environment: GPU_DEPS_DIR (default <repo>/.gpu-deps), GPU_DEPS_CACHE (where the .deb files are kept between
# runs; default ${XDG_CACHE_HOME:-~/.cache}/bnlab-gpu-debs), FORCE=1. apt-get uses the system's package lists
# when they know every package (and this machine is amd64); otherwise it downloads amd64 lists of the
# system's apt sources into the cache folder first (no root needed for either).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST=${GPU_DEPS_DIR:-$ROOT/.gpu-deps}
CACHE=${GPU_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bnlab-gpu-debs}
ARCH=amd64
BIG=$((4 * 1024 * 1024))

die() { echo "prepare.sh: error: $*" >&2; exit 1; }
say() { echo "prepare.sh: $*"; }

for tool in apt-get apt-cache dpkg dpkg-deb xz find; do
  command -v "$tool" >/dev/null || die "'$tool' is missing: this script needs a Debian or Ubuntu machine (apt, dpkg, xz-utils)"
done
mkdir -p "$CACHE/debs" || die "cannot create the cache folder $CACHE"

# ---- apt options: the system's lists, or private amd64 lists in the cache ----
APT_OPTS=(-o Debug::NoLocking=1)
[ "$(id -u)" -eq 0 ] && APT_OPTS+=(-o APT::Sandbox::User=root)  # root: download into our folder directly

# ---- which packages: each entry lists alternatives, the first one apt has a candidate for wins ----
REQUIRED=("libxtensor-dev" "xtl-dev libxtl-dev"
          "libopenblas-pthread-dev libopenblas-serial-dev libopenblas-openmp-dev libopenblas-dev"
          "libopenblas0-pthread libopenblas0-serial libopenblas0-openmp libopenblas-base"
          "libgfortran5" "libquadmath0")
OPTIONAL=("libopenblas-dev" "googletest" "libgtest-dev")
# shellcheck disable=SC2207  # package names have no spaces
ALL_NAMES=($(printf '%s\n' "${REQUIRED[@]}" "${OPTIONAL[@]}" | tr ' ' '\n' | sort -u))

declare -A CAND=()
read_candidates() {  # one `apt-cache policy` for every name: CAND[name]=candidate version
  local name="" line
  CAND=()
  while IFS= read -r line; do
    if [[ "$line" =~ ^([^[:space:]]+):$ ]]; then name=${BASH_REMATCH[1]%:"$ARCH"}
    elif [[ -n "$name" && "$line" =~ ^[[:space:]]+Candidate:[[:space:]]+(.+)$ ]]; then
      [ "${BASH_REMATCH[1]}" = "(none)" ] || CAND[$name]=${BASH_REMATCH[1]}
    fi
  done < <(apt-cache "${APT_OPTS[@]}" policy "${ALL_NAMES[@]}" 2>/dev/null)
}

read_candidates
if [ "$(dpkg --print-architecture)" != "$ARCH" ] || [ "${PRIVATE_LISTS:-0}" = 1 ] || [ -z "${CAND[libxtensor-dev]:-}" ] ||
   [ -z "${CAND[libgfortran5]:-}" ]; then
  say "using private $ARCH package lists in $CACHE/lists (apt-get update)"
  mkdir -p "$CACHE/lists/partial" "$CACHE/apt-cache/archives/partial"
  APT_OPTS+=(-o "Dir::State::Lists=$CACHE/lists" -o "Dir::Cache=$CACHE/apt-cache"
             -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH")
  apt-get "${APT_OPTS[@]}" -qq update || die "apt-get update failed (no network, or no apt sources configured?)"
  read_candidates
fi

versions=()  # name=version for each package: also the stamp that makes this script idempotent
for alts in "${REQUIRED[@]}"; do
  found=""
  for p in $alts; do
    if [ -n "${CAND[$p]:-}" ]; then found=$p; break; fi
  done
  [ -n "$found" ] || die "apt has no candidate for any of: $alts (Debian >= 11 / Ubuntu >= 22.04 with main and universe?)"
  versions+=("$found=${CAND[$found]}")
done
for p in "${OPTIONAL[@]}"; do
  if [ -z "${CAND[$p]:-}" ]; then say "note: optional package $p is not known to apt; skipped"
  elif [[ " ${versions[*]} " != *" $p="* ]]; then versions+=("$p=${CAND[$p]}"); fi
done
stamp=$(printf '%s\n' "${versions[@]}" "layout=2")

if [ "${FORCE:-0}" != 1 ] && [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$stamp" ]; then
  say "$DEST is up to date ($(du -sh "$DEST" | cut -f1)); FORCE=1 recreates it"
  exit 0
fi

# ---- download (kept in the cache between runs) ----
say "downloading: ${versions[*]}"
(
  cd "$CACHE/debs"
  missing=()
  for pv in "${versions[@]}"; do
    p=${pv%%=*} v=${pv#*=}
    # the file name apt gives a version: an epoch's ':' becomes %3a
    compgen -G "${p}_${v/:/%3a}_*.deb" >/dev/null || missing+=("$p:$ARCH=$v")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get "${APT_OPTS[@]}" -q download "${missing[@]}" || die "apt-get download failed for: ${missing[*]}"
  fi
)

# ---- unpack into a fresh folder, trim, compress, then swap it in ----
tmp="$DEST.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for pv in "${versions[@]}"; do
  p=${pv%%=*} v=${pv#*=}
  deb=$(compgen -G "$CACHE/debs/${p}_${v/:/%3a}_*.deb" | head -1) || true
  [ -n "$deb" ] || die "downloaded .deb of $p $v not found in $CACHE/debs"
  dpkg -x "$deb" "$tmp" || die "dpkg -x $deb failed"
done

rm -rf "$tmp/usr/share/doc" "$tmp/usr/share/man" "$tmp/usr/share/lintian" "$tmp/usr/share/bug" \
       "$tmp/usr/share/doc-base" "$tmp/usr/src/googletest/googlemock"
if [ -d "$tmp/usr/src/googletest/googletest" ]; then
  rm -rf "$tmp/usr/src/googletest/googletest/"{docs,samples,test}
fi
# static libraries: only GoogleTest's are used (the prebuilt fallback)
find "$tmp" \( -type f -o -type l \) -name '*.a' ! -name 'libgtest*.a' -delete
# OpenBLAS's reference-BLAS/LAPACK-compatible copies: libopenblas.so holds both, and the build links only it
find "$tmp" -path '*openblas*' \( -name 'libblas.so*' -o -name 'liblapack.so*' \) -delete
# links that point outside the prefix (absolute ones) would dangle on the GPU machine
while IFS= read -r link; do
  target=$(readlink "$link")
  if [[ "$target" == /* ]]; then
    if [ -e "$tmp$target" ]; then
      ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
    else
      rm -f "$link"
    fi
  fi
done < <(find "$tmp" -type l)
find "$tmp" -xtype l -delete           # links left dangling by the trimming
find "$tmp" -depth -type d -empty -delete

# big shared libraries are stored compressed; run.sh expands them
while IFS= read -r f; do
  xz -T0 -9 -f "$f" || die "xz failed on $f"
done < <(find "$tmp" -type f -name '*.so*' ! -name '*.xz' -size +"$BIG"c)

# sanity: what run.sh and CMake will look for
for want in xtensor/xtensor.hpp xtl/xtl_config.hpp cblas.h; do
  [ -n "$(find "$tmp/usr/include" -path "*/$want" -print -quit)" ] || die "unpacked tree lacks $want"
done
for want in xtlConfig.cmake xtensorConfig.cmake; do
  [ -n "$(find "$tmp/usr" -name "$want" -print -quit)" ] || die "unpacked tree lacks $want"
done
[ -n "$(find "$tmp/usr/lib" -name 'libopenblas*.so*' -print -quit)" ] || die "unpacked tree lacks libopenblas"

{
  echo "# .gpu-deps: Debian packages unpacked (dpkg -x) by .ci/gpu/prepare.sh on $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# from: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"'), for $ARCH; files named *.xz are expanded by run.sh"
  printf '%s\n' "${versions[@]}"
} >"$tmp/MANIFEST.txt"
printf '%s\n' "$stamp" >"$tmp/.stamp"

rm -rf "$DEST"
mv "$tmp" "$DEST"
trap - EXIT
say "wrote $DEST: $(du -sh "$DEST" | cut -f1) ($(find "$DEST" -type f | wc -l) files)"
