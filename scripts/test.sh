#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs ctest. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
