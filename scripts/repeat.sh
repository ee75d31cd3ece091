#!/usr/bin/env bash
# repeat.sh: run one integration test many times, under several GOMAXPROCS values, to catch a
# flaky failure.
#
# usage: scripts/repeat.sh [-n N] [--procs 1,2] [--release] <test-file> <test name>
#
#   <test-file>   the integration test target, as for `cargo test --test <test-file>`
#                 (e.g. stress_select for gort/tests/stress_select.rs)
#   <test name>   the test's full name, matched exactly (`--exact`), e.g.
#                 same_channel_send_and_recv_arms_with_timer
#   -n N          runs per GOMAXPROCS value (default 200)
#   --procs LIST  comma-separated GOMAXPROCS values to run under, in turn (default 1,2)
#   --release     build and run the release profile
#
# The test binary is built once (`cargo test --test <file> --no-run`), then the single test is
# run N times for each GOMAXPROCS value (environment variable GOMAXPROCS), one test thread, each
# run under `timeout 60`. The first failing run (non-zero exit, a timeout, or a signal) stops
# the loop: its output and run number are printed and the script exits with status 1. The last
# line is a summary either way.
#
# example: scripts/repeat.sh -n 500 --procs 1,2,4 --release stress_select \
#              same_channel_send_and_recv_arms_with_timer

set -euo pipefail

runs=200
procs=1,2
profile=()
usage() {
    sed -n '4,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    -n)
        [[ $# -ge 2 ]] || usage
        runs=$2
        shift 2
        ;;
    --procs)
        [[ $# -ge 2 ]] || usage
        procs=$2
        shift 2
        ;;
    --release)
        profile=(--release)
        shift
        ;;
    -h | --help) usage ;;
    -*)
        echo "repeat.sh: unknown option $1" >&2
        usage
        ;;
    *) break ;;
    esac
done
[[ $# -eq 2 ]] || usage
file=$1
name=$2
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || {
    echo "repeat.sh: -n needs a positive number" >&2
    exit 2
}

cd "$(dirname "$0")/.."

# Build once; find the test executable in cargo's JSON messages (the artifact of a test
# profile with an "executable"), falling back to the human "Executable" line.
echo "repeat.sh: building --test $file ${profile[*]:-}" >&2
build_log=$(mktemp)
trap 'rm -f "$build_log" "${out:-}"' EXIT
# (json-render-diagnostics: JSON on stdout, compiler messages rendered as usual on stderr)
if ! cargo test "${profile[@]}" --test "$file" --no-run \
    --message-format=json-render-diagnostics >"$build_log"; then
    echo "repeat.sh: build failed" >&2
    exit 1
fi
bin=$(grep '"reason":"compiler-artifact"' "$build_log" | grep '"test":true' |
    grep -o '"executable":"[^"]*"' | tail -1 | sed 's/^"executable":"//; s/"$//' || true)
if [[ -z $bin ]]; then
    bin=$(cargo test "${profile[@]}" --test "$file" --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
fi
if [[ -z $bin || ! -x $bin ]]; then
    echo "repeat.sh: could not find the test executable for --test $file" >&2
    exit 1
fi
echo "repeat.sh: $bin" >&2

# The name must select exactly one test.
listed=$("$bin" --list --exact "$name" 2>/dev/null | grep -c ': test$' || true)
if [[ $listed -ne 1 ]]; then
    echo "repeat.sh: '$name' matches $listed tests in $file (want exactly 1); tests are:" >&2
    "$bin" --list 2>/dev/null | sed -n 's/: test$//p' | sed 's/^/  /' >&2
    exit 2
fi

out=$(mktemp)
total=0
start=$SECONDS
IFS=, read -r -a plist <<<"$procs"
for p in "${plist[@]}"; do
    for ((i = 1; i <= runs; i++)); do
        rc=0
        GOMAXPROCS=$p timeout 60 "$bin" --exact "$name" --test-threads=1 >"$out" 2>&1 || rc=$?
        if [[ $rc -ne 0 ]]; then
            if [[ $rc -eq 124 ]]; then
                why="timed out after 60 s"
            elif [[ $rc -gt 128 ]]; then
                why="killed by signal $((rc - 128))"
            else
                why="exit status $rc"
            fi
            echo "==== output of the failing run ===="
            cat "$out"
            echo "==== end of output ===="
            echo "repeat.sh: FAILED: $file::$name, run $i of $runs at GOMAXPROCS=$p ($why)," \
                "after $total passing runs in $((SECONDS - start)) s"
            exit 1
        fi
        total=$((total + 1))
    done
    echo "repeat.sh: GOMAXPROCS=$p: $runs runs passed" >&2
done
echo "repeat.sh: PASSED: $file::$name, $total runs ($runs x GOMAXPROCS ${procs}) in" \
    "$((SECONDS - start)) s"
