#!/usr/bin/env bash
# Quick start: set up, build, and run kiln's main job (a curate run) on the sample data
# shipped in data/sample/. Prints where the outputs and the report are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${KILN_BUILD_DIR:-build}
echo
echo "\$ $build_dir/kiln curate data/sample/recipe.toml"
"$build_dir/kiln" curate data/sample/recipe.toml
echo
echo "kept documents:  out/sample/part-*.jsonl.zst   (look: $build_dir/kiln cat out/sample | head -n 1)"
echo "rejects:         out/sample/rejects/           (every dropped document with its stage and reason)"
echo "report:          out/sample/report.html"
