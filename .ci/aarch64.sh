#!/usr/bin/env bash
# aarch64 Linux, tested under emulation: cross-builds gort's semantic test suites for
# aarch64-unknown-linux-gnu and runs them with qemu-user. Called by .ci/run; runs alone too.
#
# No aarch64 machine is needed and rustup is not used: Debian's rustc with its aarch64 std, the
# cross linker and qemu-user are installed when missing (as root, with apt). The test binaries
# are linked statically: a dynamically linked threaded program hangs under qemu-user 7.2.
# Tests that measure time skip themselves (gort_test_support::skip_if_emulated); child processes run
# under qemu too, and sibling crates build for aarch64 (GORT_TEST_EMULATOR, GORT_TEST_TARGET).
#
# What runs: gort's unit tests; the scheduler, channel, select, sync, context, net and time
# suites; Go's channel tests; the stack-overflow child tests; gort-ffi-tests (calls, callbacks
# from foreign threads, nesting, the register checks; not the cdylib test, which a static build
# cannot have); and a minute of gort-stress with a liveness bound for emulation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=aarch64-unknown-linux-gnu
RUSTC_DEB=/usr/bin/rustc

have_tools() {
    [[ -x ${RUSTC_DEB} ]] &&
        [[ -d $(${RUSTC_DEB} --print sysroot)/lib/rustlib/${TARGET}/lib ]] &&
        command -v aarch64-linux-gnu-gcc >/dev/null &&
        command -v qemu-aarch64 >/dev/null
}

if ! have_tools; then
    echo "installing Debian's rustc with the aarch64 std, the cross linker and qemu-user"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    ${SUDO} dpkg --add-architecture arm64
    ${SUDO} apt-get update -qq
    ${SUDO} apt-get install -y -qq rustc-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu \
        libc6-dev-arm64-cross qemu-user >/dev/null
fi
have_tools || { echo "error: the aarch64 tools are still missing" >&2; exit 1; }

export RUSTC=${RUSTC_DEB}
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export GORT_TEST_EMULATOR=qemu-aarch64
export GORT_TEST_TARGET=${TARGET}
# Its own target directory: a different rustc would otherwise rebuild the host's artifacts.
# Release builds: emulated debug code is too slow for the scale tests' time bounds.
TD=target/aarch64-qemu
cross() { cargo "$1" --release --target "${TARGET}" --target-dir "${TD}" "${@:2}"; }

# qemu-user ignores guard-marker advice, so goroutine stacks use the mprotect mechanism: two
# mappings each. Raise the mapping limit for the 10,000-goroutine tests, and put it back after.
old_maps=$(cat /proc/sys/vm/max_map_count)
if [[ ${old_maps} -lt 1048576 && $(id -u) -eq 0 ]]; then
    sysctl -qw vm.max_map_count=1048576
    trap 'sysctl -qw vm.max_map_count=${old_maps}' EXIT
fi

${RUSTC} --version
qemu-aarch64 --version | head -1

GORT_TESTS=(
    sched_basic sched_migration sched_set_procs sched_procs1
    chan_semantics select_semantics golang_chan_test golang_chan_programs
    sync_mutex sync_cond sync_once sync_rwlock sync_semaphore sync_waitgroup sync_procs1
    context time_semantics net_tcp net_udp net_unix net_procs1 async_bridge goroutine_local trace
)
args=()
for t in "${GORT_TESTS[@]}"; do args+=(--test "$t"); done

echo "== gort: unit tests and the semantic suites"
cross test -p gort --lib "${args[@]}" -- --test-threads=2

echo "== gort: stack overflow child tests"
cross test -p gort --test fatal_paths -- overflow --test-threads=2

# Not library_mode: it dlopens a cdylib, which a static (crt-static) build does not produce.
echo "== gort-ffi-tests: calls, callbacks, foreign threads, nesting, registers"
cross test -p gort-ffi-tests --lib --test call --test call_blocking_procs1 \
    --test callback_threads --test children --test nesting -- --test-threads=2

# The liveness bound is for emulation: every thread runs many times slower.
echo "== gort-stress: a short torture run"
cross build -p gort-stress
qemu-aarch64 "${TD}/${TARGET}/release/gort-stress" --seconds 60 --max-wait-ms 5000
