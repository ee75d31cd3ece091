#!/usr/bin/env bash
# check-layers.sh: dependencies between gort's modules point downward only (ARCHITECTURE.md,
# "Layers"), and the layers above the core use only the core's facade (gort/src/rt/mod.rs).
#
# usage: scripts/check-layers.sh
#
# For each top-level module of gort/src, ALLOWED lists the modules its `crate::` paths may
# name. Items that lib.rs re-exports at the crate root (`crate::spawn`, `crate::chan`, ...)
# count as uses of the module they come from. Outside `rt` and `stack` (the core), every
# `crate::rt::NAME` must name an item of the facade: one that rt/mod.rs declares or re-exports
# with `pub(crate)`. Unit-test files (`tests.rs`) are not checked: tests may drive a module
# through the layers above it. Exits 1 and lists every violation.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../gort/src"

# Lowest layer first: sys; util, arch; the core (rt, stack); wait; chan, select, sync, io (on sync), ffi, future, local,
# span; goroutine; time; net, context, runtime, compat; signal (on context, for notify_context).
declare -A ALLOWED=(
    [sys]=""
    [util]="sys"
    [arch]="sys util"
    [stack]="sys util arch rt"
    [rt]="sys util arch stack"
    [wait]="sys util rt"
    [chan]="sys util rt wait"
    [select]="sys util rt wait chan"
    [sync]="sys util rt"
    [io]="sys util rt sync"
    [ffi]="sys util rt"
    [future]="sys util rt"
    [local]="sys util rt"
    [span]="sys util rt"
    [fs]="sys util rt"
    [goroutine]="sys util rt chan select sync span"
    [time]="sys util rt chan goroutine"
    [net]="sys util rt io ffi sync goroutine"
    [context]="sys util chan time goroutine"
    [runtime]="sys util rt"
    [compat]="sys util future"
    [process]="sys util rt io goroutine"
    [signal]="sys util rt io chan select goroutine context"
)

# Root re-exports: item -> module, from lib.rs's `pub use MODULE::{...}` lines.
declare -A ROOT=()
while read -r module items; do
    for item in ${items}; do
        ROOT[${item}]=${module}
    done
done < <(tr '\n' ' ' < lib.rs | grep -oE 'pub use [a-z_]+::(\{[^}]*\}|[A-Za-z_]+;)' |
    sed -E 's/pub use ([a-z_]+)::\{([^}]*)\}/\1 \2/; s/pub use ([a-z_]+)::([A-Za-z_]+);/\1 \2/; s/,/ /g')

# Exported macros live at the crate root too (`$crate::NAME!`): map each to the module that
# defines it.
while read -r file name; do
    ROOT[${name}]=$(sed -E 's#/.*##; s#\.rs$##' <<< "${file}")
done < <(grep -rE '^macro_rules! [a-z_]+' --include='*.rs' . |
    sed -E 's#^\./##; s#:macro_rules! ([a-z_]+).*# \1#')

# The facade: names rt/mod.rs declares or re-exports with pub(crate) (for `X as Y`, Y).
facade=" $(grep -oE '^pub\(crate\) (fn|struct|enum|static|const) [A-Za-z_]+' rt/mod.rs |
    awk '{print $3}' | tr '\n' ' ') "
facade+=" $(tr '\n' ' ' < rt/mod.rs | grep -oE 'pub\(crate\) use [^;]*;' |
    sed -E 's/pub\(crate\) use //; s/;//; s/^[a-z_:]*\{(.*)\}$/\1/; s/,/\n/g' |
    sed -E 's/^ *//; s/ *$//; s/.* as //; s/.*:://' | tr '\n' ' ') "

# grep that is happy to find nothing.
g() {
    grep "$@" || true
}

fail=0
report() {
    echo "check-layers: $*" >&2
    fail=1
}

for path in *; do
    module=${path%.rs}
    [[ ${module} == lib || ${module} == "*" ]] && continue
    if [[ -z ${ALLOWED[${module}]+set} ]]; then
        report "module ${module} is not in ALLOWED: add it to its layer"
        continue
    fi
    files=$(find "${path}" -name '*.rs' ! -name tests.rs)
    for f in ${files}; do
        # Code only: drop comments (docs may mention any module).
        code=$(sed -E 's#//.*$##' "${f}")
        for target in $(g -oE 'crate::[A-Za-z_]+' <<< "${code}" | sed 's/crate:://' | sort -u); do
            dep=${target}
            if [[ ! -e ${target} && ! -e ${target}.rs ]]; then
                dep=${ROOT[${target}]:-${target}}
            fi
            [[ ${dep} == "${module}" ]] && continue
            if [[ " ${ALLOWED[${module}]} " != *" ${dep} "* ]]; then
                report "${f}: uses crate::${target} (module ${dep}), which ${module} may not"
            fi
        done
        [[ ${module} == rt || ${module} == stack ]] && continue
        flat=$(tr '\n' ' ' <<< "${code}")
        names=$(g -oE 'crate::rt::[A-Za-z_]+' <<< "${flat}" | sed 's/crate::rt:://')
        names+=" $(g -oE 'crate::rt::\{[^}]*\}' <<< "${flat}" |
            sed -E 's/crate::rt::\{([^}]*)\}/\1/; s/ as [A-Za-z_]+//g; s/,/ /g')"
        for name in ${names}; do
            [[ ${name} == self ]] && continue
            if [[ ${facade} != *" ${name} "* ]]; then
                report "${f}: uses crate::rt::${name}, which is not in the core's facade (rt/mod.rs)"
            fi
        done
    done
done

if [[ ${fail} -ne 0 ]]; then
    exit 1
fi
echo "check-layers: every dependency points downward; the layers above the core use only its facade"
