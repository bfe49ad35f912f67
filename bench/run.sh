#!/usr/bin/env bash
# Builds the micro-benchmarks in a Release tree (build-bench/) and runs them on one core:
# median, mean and stddev of 5 repetitions. Extra args go to the benchmark binary, e.g.
#   bash bench/run.sh --benchmark_filter=ksm_text
# -Werror is off here only because gcc 12 at -O3 reports a false -Wrestrict in std::string code.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPETREL_BUILD_BENCH=ON \
  -DPETREL_BUILD_TESTS=OFF -DPETREL_WERROR=OFF >/dev/null
cmake --build build-bench --target petrel_bench -j1
cpu=${BENCH_CPU:-0}
exec taskset -c "$cpu" build-bench/bench/petrel_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true "$@"
