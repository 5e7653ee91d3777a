#!/usr/bin/env bash
# Installs the Debian packages kiln needs (idempotent), then configures and builds it.
#   scripts/setup.sh            # Release build in build/
#   KILN_BUILD_DIR=b scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${KILN_BUILD_DIR:-build}

mapfile -t packages < <(grep -vE '^\s*(#|$)' scripts/debian-packages.txt | awk '{print $1}')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node packages the reference tests and benchmarks use (npm registry), when a domain has them.
for dir in scripts/fixtures/*/; do
  if [ -f "$dir/package.json" ] && [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ] && command -v npm >/dev/null; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund) || echo "setup: npm ci in $dir failed (reference tools only)"
  fi
done

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)"
echo "setup: built $build_dir/kiln"
