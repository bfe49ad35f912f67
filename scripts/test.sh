#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs ctest. Used by .ci/run.
#  1. the main tree (gcc, build/): unit, integration (real Prometheus, node_exporter, promtool)
#     and chart tests;
#  2. the fuzz tree (clang-14 with libFuzzer, ASan and UBSan, build-fuzz/): each fuzzer runs
#     30 s from its seed corpus.
# The main suite runs last, so the closing line is its ctest summary; the exit status fails if
# either suite failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cmake -S fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-fuzz -j"$(nproc)"

fuzz_rc=0
ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" --timeout 300 || fuzz_rc=$?
[ "$fuzz_rc" -eq 0 ] || echo "test.sh: the fuzz suite FAILED (exit $fuzz_rc)"

cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
exit "$fuzz_rc"
