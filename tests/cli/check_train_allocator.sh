#!/usr/bin/env bash
# Fails unless the given fastbert-train allocates with jemalloc configured
# never to purge (cli/train_allocator.cpp): jemalloc's own statistics, printed
# at exit, name the options it runs with; glibc's malloc prints nothing.
set -euo pipefail
bin=$1
stats=$(MALLOC_CONF=stats_print:true "$bin" --help 2>&1 >/dev/null || true)
grep -q 'Begin jemalloc statistics' <<<"$stats" || { echo "FAIL: $bin does not allocate with jemalloc" >&2; exit 1; }
for option in dirty_decay_ms muzzy_decay_ms; do
  grep -Eq "opt\.$option: -1( |$)" <<<"$stats" || { echo "FAIL: jemalloc's $option is not -1" >&2; grep "opt\.$option" <<<"$stats" >&2; exit 1; }
done
echo "ok: $bin allocates with jemalloc, dirty and muzzy decay off"
