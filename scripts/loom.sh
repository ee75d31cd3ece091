#!/usr/bin/env bash
# Model-checks the runtime's lock-free and handshake structures with loom: the run queue, the
# timer heaps (stop racing a move), the P hand-off between sysmon and a hog, an M returning from
# a blocking call while sysmon retakes its P, a select claimed by two wakers, and the semaphore
# table (waiters, releases and hand-offs). Builds gort with `--cfg loom` into its own target
# directory (so the ordinary build is not invalidated) and runs each test named `loom_*` in a
# process of its own: loom 0.7 carries scheduler state from one model to the next in a process,
# and a model that passes alone was seen to fail inside loom's own mutex bookkeeping after
# another. Usage: scripts/loom.sh [name filter]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
run() { cargo test --release -p gort --lib --target-dir target/loom "$@"; }
tests=$(run -- "${1:-loom_}" --list 2>/dev/null | sed -n 's/: test$//p' | grep 'loom_')
[ -n "$tests" ] || { echo "no loom tests match '${1:-loom_}'" >&2; exit 1; }
for t in $tests; do
    if out=$(run -- "$t" --exact --test-threads=1 2>&1); then
        echo "loom: $t ok"
    else
        echo "$out" >&2
        echo "loom: $t failed" >&2
        exit 1
    fi
done
echo "loom: $(echo "$tests" | wc -l) models passed"
