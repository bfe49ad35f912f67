#!/usr/bin/env bash
# Installs the Debian packages Petrel's build, tests, benchmarks and demo need.
# Idempotent: only calls apt-get when something is missing. Run as root on Debian 12.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  libcurl4-openssl-dev libprotobuf-dev protobuf-compiler libsnappy-dev libyaml-cpp-dev
  libfmt-dev libspdlog-dev libre2-dev libcpp-httplib-dev nlohmann-json3-dev libabsl-dev
  libssl-dev zlib1g-dev libzstd-dev libxxhash-dev libdeflate-dev
  # tests and benchmarks
  catch2 libbenchmark-dev curl jq ca-certificates procps bc unzip
  # fault tests (test/faults): test CA, accounting and a recording receiver
  openssl python3
  # fuzzing (fuzz/: libFuzzer, ASan, UBSan)
  clang-14 libclang-rt-14-dev
  # real peers: receiver, agent baseline, promtool, target, second receiver and vmagent
  prometheus prometheus-node-exporter victoria-metrics
)

# The chart tests take helm and the manifest validator from the npm registry
# (../shared/tools); Debian's nodejs and npm provide it unless a node with npm is present.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
