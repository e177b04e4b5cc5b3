#!/usr/bin/env bash
# Installs the Debian packages bnlab needs when any is missing: as root directly, otherwise through sudo;
# without either it prints the exact apt-get line and stops.
set -euo pipefail
packages=(libxtensor-dev libopenblas-dev libgtest-dev dataset-fashion-mnist clang-format
          cmake ninja-build python3-venv g++)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# cmake, ninja and the venv module may come from elsewhere (pip, pyenv): only ask for them when absent.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    cmake) command -v cmake >/dev/null || filtered+=("$p") ;;
    ninja-build) command -v ninja >/dev/null || filtered+=("$p") ;;
    python3-venv) python3 -c "import venv, ensurepip" 2>/dev/null || filtered+=("$p") ;;
    g++) command -v g++ >/dev/null || filtered+=("$p") ;;
    *) filtered+=("$p") ;;
  esac
done
[ ${#filtered[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${filtered[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "bnlab: installing ${filtered[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive $cmd
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  echo "bnlab: installing ${filtered[*]} (sudo)"
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive $cmd
else
  echo "bnlab needs Debian packages that are not installed. Run, as root:"
  echo "  apt-get update && $cmd"
  exit 1
fi
