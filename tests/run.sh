#!/bin/sh
# tests/run.sh: runs the whole suite and prints one closing line "N passed, N failed, N skipped".
#   C unit tests:  $BUILD/tests/test_*        (built from tests/test_*.c)
#   script tests:  tests/t_*.sh               (exit 0 pass, 77 skip, anything else fail)
# Script tests get BUILD, BINDIR (programs), SHARED (../shared), TOKENIZER_DIR and a private
# scratch directory TMP; tests/lib.sh, which they source, holds what they share (defaults for
# these, fail/ok/finish, skip helpers). Select tests with TESTS="pattern ..." (shell globs).
set -u
BUILD=${BUILD:-build/release}
BINDIR=${BINDIR:-bin}
ROOT=$(pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TOKENIZER_DIR=${TOKENIZER_DIR:-$ROOT/models/gpt2-tokenizer}
export BUILD BINDIR ROOT SHARED TOKENIZER_DIR
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-tests.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT INT TERM

pass=0; fail=0; skip=0; failed=""
selected() {
    [ -z "${TESTS:-}" ] && return 0
    for pat in $TESTS; do case "$1" in $pat) return 0;; esac; done
    return 1
}
run_one() { # name command...
    name=$1; shift
    selected "$name" || return 0
    log="$SCRATCH/$name.log"
    start=$(date +%s)
    TMP="$SCRATCH/$name.d"; mkdir -p "$TMP"; export TMP
    "$@" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "ok    $name (${secs}s)"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "skip  $name: $(tail -n 1 "$log")"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "FAIL  $name (exit $rc, ${secs}s); last lines of its output:"
        tail -n 25 "$log" | sed 's/^/      /'
    fi
    rm -rf "$TMP"
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" sh "$t"
done

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
