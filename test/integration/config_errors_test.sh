#!/usr/bin/env bash
# A malformed config gets a one-line error naming the key and line, and exit code 1, before
# petrel does anything (issue 2, acceptance 4). Unknown flags exit 2.
set -euo pipefail
PETREL=$1
WORK=$(mktemp -d /tmp/petrel-cfg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error <name> <yaml> <pattern...>: petrel must exit 1 with one stderr line matching
# every pattern, and must not create its data directory.
expect_error() {
  local name=$1 yaml=$2; shift 2
  printf '%s' "$yaml" >"$WORK/$name.yml"
  local rc=0
  "$PETREL" --config.file="$WORK/$name.yml" --storage.agent.path="$WORK/data-$name" \
    --web.listen-address=127.0.0.1:0 >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$name: exit code $rc, want 1 (stderr: $(cat "$WORK/$name.err"))"
  [ "$(wc -l <"$WORK/$name.err")" -eq 1 ] || fail "$name: want one line, got: $(cat "$WORK/$name.err")"
  for p in "$@"; do
    grep -qF -- "$p" "$WORK/$name.err" || fail "$name: '$p' not in: $(cat "$WORK/$name.err")"
  done
  [ ! -e "$WORK/data-$name" ] || fail "$name: data directory created despite the bad config"
  echo "ok $name: $(cat "$WORK/$name.err")"
}

expect_error unknown_key $'global:\n  scrape_interval: 15s\n  scrape_intervall: 5s\n' \
  "$WORK/unknown_key.yml:3" "scrape_intervall"
expect_error bad_duration $'scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n    static_configs:\n      - targets: ["127.0.0.1:1"]\n' \
  "$WORK/bad_duration.yml:3" "scrape_interval" "5x"
expect_error missing_url $'remote_write:\n  - name: central\n    remote_timeout: 10s\n' \
  "$WORK/missing_url.yml:2" "url"
expect_error nested_unknown $'remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    queue_config:\n      max_shardz: 3\n' \
  "$WORK/nested_unknown.yml:4" "max_shardz"

rc=0
"$PETREL" --config.file="$WORK/missing.yml" --storage.agent.path="$WORK/d" 2>"$WORK/missing.err" || rc=$?
[ "$rc" -eq 1 ] || fail "missing file: exit code $rc"
grep -q "missing.yml" "$WORK/missing.err" || fail "missing file: $(cat "$WORK/missing.err")"

rc=0
"$PETREL" --no-such-flag 2>"$WORK/flag.err" || rc=$?
[ "$rc" -eq 2 ] || fail "unknown flag: exit code $rc, want 2"
grep -q "no-such-flag" "$WORK/flag.err" || fail "unknown flag: $(cat "$WORK/flag.err")"

"$PETREL" --version | grep "^petrel, version" >/dev/null || fail "--version"
"$PETREL" --help | grep -- "--config.file" >/dev/null || fail "--help"
echo "PASS"
