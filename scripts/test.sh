#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs ctest. Used by .ci/run.
#  1. the fuzz tree (clang-14 with libFuzzer, ASan and UBSan, build-fuzz/; -O1 here, which
#     compiles faster than -O2, for a smoke run): each fuzzer runs 10 s from its seed corpus
#     (the 10-minute runs are done by hand at -O2, see fuzz/CMakeLists.txt);
#  2. the unit tests under ASan + UBSan (clang-14, preset asan, build-asan/): any finding,
#     leaks included, fails the test;
#  3. the main tree (gcc, build/): unit, integration (real Prometheus, node_exporter, promtool)
#     and chart tests.
# The main suite runs last, so the closing line is its ctest summary; the exit status fails if
# any suite failed. PETREL_SKIP_ASAN=1 skips step 2 (a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cmake -S fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" -DPETREL_FUZZ_SECONDS=10
cmake --build build-fuzz -j"$(nproc)"

# Unit tests take 2 ctest slots each (test/CMakeLists.txt), so twice the cores in slots runs as
# many unit tests at once as there are cores, with the mostly-waiting end-to-end tests beside.
slots=$(($(nproc) * 2))

# Failures before the main suite are reported as they happen and fail the run at the end, so
# the last line stays the main ctest summary.
failed=0
fuzz_rc=0
ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" --timeout 300 || fuzz_rc=$?
[ "$fuzz_rc" -eq 0 ] || { echo "test.sh: the fuzz suite FAILED (exit $fuzz_rc)"; failed=1; }

if [ -z "${PETREL_SKIP_ASAN:-}" ]; then
  asan_start=$SECONDS
  asan_rc=0
  # The preset's filter leaves out the integration, chart, fault, soak and bench labels.
  { cmake --preset asan >/dev/null &&
    cmake --build build-asan -j"$(nproc)" &&
    ctest --preset asan -j"$slots" --timeout 300; } || asan_rc=$?
  echo "test.sh: ASan + UBSan build and unit tests took $((SECONDS - asan_start)) s"
  [ "$asan_rc" -eq 0 ] || { echo "test.sh: ASan + UBSan unit tests FAILED (exit $asan_rc)"; failed=1; }
fi

main_rc=0
(cd build && ctest --output-on-failure -j"$slots" --timeout 600) || main_rc=$?
[ "$main_rc" -eq 0 ] || exit "$main_rc"
exit "$failed"
