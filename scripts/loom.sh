#!/usr/bin/env bash
# Model-checks the runtime's lock-free and handshake structures with loom: the run queue, the
# timer heaps (stop racing a move), the P hand-off between sysmon and a hog, a select claimed by
# two wakers, and the semaphore table (waiters, releases and hand-offs). Builds gort with
# `--cfg loom` into its own target directory (so the ordinary build is not invalidated) and runs
# the tests named `loom_*`. Usage: scripts/loom.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
exec cargo test --release -p gort --lib --target-dir target/loom "$@" -- loom_ --test-threads=1
