#!/bin/sh
# Copies the Kubernetes API fixtures into the k8s_objects fuzzer's checked-in corpus: every JSON
# body compacted by jq (same document, a third of the bytes, so mutations run faster), the watch
# stream whole and one file per event line.
#   make_k8s_seeds.sh <fixtures dir> <corpus dir>
set -eu
src=$1
out=$2
[ -d "$src" ] || { echo "make_k8s_seeds: no fixtures directory $src" >&2; exit 1; }
mkdir -p "$out"
command -v jq >/dev/null || { echo "make_k8s_seeds: needs jq" >&2; exit 1; }
for f in "$src"/*.json; do
  jq -c . "$f" >"$out/$(basename "$f")"
done
for f in "$src"/*.ndjson; do cat "$f" >"$out/$(basename "$f")"; done
for f in "$src"/*.ndjson; do
  base=$(basename "$f" .ndjson)
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" >"$out/$base-event$n.json"
  done <"$f"
done
echo "make_k8s_seeds: $(ls "$out" | wc -l) seeds in $out"
