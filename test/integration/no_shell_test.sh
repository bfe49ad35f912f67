#!/usr/bin/env bash
# No shell-outs (docs/security.md): petrel never runs another program. Checked twice:
#  1. no source file of the agent calls system, popen, the exec family, fork, posix_spawn or
#     wordexp;
#  2. the petrel binary imports none of them (so neither do the header-only libraries it
#     compiles in). Shared libraries (libcurl, OpenSSL) are outside this check.
set -euo pipefail
SRC=$1
PETREL=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
CALLS='system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|fexecve|fork|vfork|posix_spawn|posix_spawnp|wordexp'

if hits=$(grep -rnE "\b($CALLS)[[:space:]]*\(" --include='*.cc' --include='*.h' \
    "$SRC"/agent "$SRC"/common "$SRC"/config "$SRC"/wal "$SRC"/scrape "$SRC"/remotewrite); then
  echo "$hits" >&2
  fail "a shell-out in the agent's sources"
fi
echo "ok: no call of $CALLS in agent/ common/ config/ wal/ scrape/ remotewrite/"

imports=$(nm -D --undefined-only "$PETREL" | awk '{print $NF}' | sed 's/@.*//')
[ -n "$imports" ] || fail "nm found no dynamic imports in $PETREL"
if bad=$(grep -xE "$CALLS" <<<"$imports"); then
  fail "$PETREL imports $bad"
fi
echo "ok: $(basename "$PETREL") imports none of them ($(wc -l <<<"$imports") dynamic imports checked)"
echo "PASS"
