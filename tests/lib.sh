# shellcheck shell=sh disable=SC2034 # (variables for the tests that source this)
# tests/lib.sh: what the script tests share, sourced first by them (from the repository root):
#     . "${ROOT:-$(pwd)}/tests/lib.sh"
# Takes the environment tests/run.sh gives, with defaults so that a test also runs alone
# (sh tests/t_x.sh): ROOT (the working directory), BUILD and BINDIR (made absolute), SHARED,
# TOKENIZER_DIR, TMP (a new temporary directory); sets DATA (few-shot SST-2 under SHARED), the
# programs SWEEP, TUNE, GPT2 (under BINDIR) and ASAN (1 for the sanitizer build's BINDIR, else 0).
#   fail MSG / ok MSG          print "FAIL: MSG" (counted in $failures) / "ok: MSG"
#   finish LINE                the end of a test: "N failure(s)" and exit 1 if any failed, else
#                              prints LINE and exits 0
#   expect STATUS WHAT CMD...  runs CMD (stdout in $TMP/out, stderr in $TMP/err): ok if it
#                              exits STATUS, else fail with the end of its stderr; returns 0 / 1
#   need_built PROG...         fail (exit 1) unless every PROG is built
#   need_tokenizer, need_data  skip (exit 77) without the tokenizer files / the few-shot data
#   skip_check REASON          a check of a passing test that could not run: one line
#                              "skip-check: REASON", counted and listed by tests/run.sh (and a
#                              failure under CI unless tests/skips-allowed lists it)
#   need_python WHY            sets PY (python3); skips without it ("python3 is needed WHY")
#   need_torch WHY             need_python, and skips unless PY has torch and numpy
#   need_mpirun [PROG ARGS...] skips without mpirun; exports what mpirun and the ranks need here;
#                              with PROG, finds the launch options under which
#                              `mpirun $LAUNCH -n 2 PROG ARGS` works and sets LAUNCH, or skips
#   lsan_leaks REGEX FILE...   the LeakSanitizer reports in the FILEs whose stack matches REGEX
#   tiny_model DIR             a tiny random GPT-2 (2 layers, 32 wide) for fast points
#   quick_sweep                the setting of a sweep in the quick local mode (one worker, no
#                              mpirun): needs sweep, gpt2, the tokenizer, the data and what a
#                              singleton MPI run needs; works in $TMP, with a stand-in tune.sh
#                              that answers each point at once (tests/fake_tune.sh's canned
#                              record) and a dictionary `words`
#   torch_check MODE TOL NAME TOOL-OPTIONS INIT-ARGS...
#                              tests/torch_ref.py MODE (compare: the logits tool_forward_cases
#                              writes; grad: the losses and gradients of tool_grad_cases) on a
#                              random checkpoint NAME (`gpt2 init INIT-ARGS`), the tool run with
#                              the options TOOL-OPTIONS: ok when all agree to relative error TOL,
#                              else fail (needs need_torch)
#   normalized DIR             `sweep export DIR` without timings and "run", one record a line, in journal
#                              order (needs need_python)
#   bend_sweep                 for the adaptive sweeps' tests: a tiny model $TMP/model, a dictionary
#                              $TMP/words and $TMP/tune.sh, tests/fake_tune.sh's scripted bend
#                              (FAKE_TUNE_BEND: instant records whose dev accuracy and log-PPL follow λ)
#   sweep_run NAME NRANKS ARGS...
#                              mpirun the sweep (FAKE_TUNE_SLEEP passed on), its output in
#                              $TMP/NAME.out and .err; sets rc
#   sweep_kill_when SPEC NRANKS SLEEP CONDITION
#                              starts the sweep in the background, every point first sleeping SLEEP
#                              seconds (FAKE_TUNE_SLEEP), and kill -9's it and its ranks once the
#                              shell CONDITION holds (false after 60 s without it)
#   journal_frames DIR         DIR/journal's POINT and RESULT frames in order, a line each, with the
#                              byte offset after the frame: P ID RUNG ROUND END (RUNG -1: not
#                              halved; ROUND 0: not refined), or R ID END

ROOT=${ROOT:-$(pwd)}
BUILD=${BUILD:-build/release}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BINDIR=${BINDIR:-bin}
case $BINDIR in /*) ;; *) BINDIR=$ROOT/$BINDIR ;; esac
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TOKENIZER_DIR=${TOKENIZER_DIR:-$ROOT/models/gpt2-tokenizer}
TMP=${TMP:-$(mktemp -d)}
DATA=$SHARED/data/fewshot/sst-2
SWEEP=$BINDIR/sweep
TUNE=$BINDIR/tune
GPT2=$BINDIR/gpt2
ASAN=0
case $BINDIR in */asan/*) ASAN=1 ;; esac

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
skip_check() { echo "skip-check: $*"; }

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
    fi
    echo "$1"
    exit 0
}

expect() {
    want=$1; what=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        ok "$what (exit $got)"
        return 0
    fi
    fail "$what: exit $got, expected $want; stderr:"
    tail -n 10 "$TMP/err" | sed 's/^/    /'
    return 1
}

need_built() {
    for _prog in "$@"; do
        [ -x "$_prog" ] || { echo "FAIL: $_prog is not built (make builds it)"; exit 1; }
    done
}

need_tokenizer() {
    if [ ! -f "$TOKENIZER_DIR/vocab.json" ] && [ ! -f "$TOKENIZER_DIR/encoder.json" ]; then
        echo "skip: no tokenizer files in $TOKENIZER_DIR (run 'make tokenizer')"
        exit 77
    fi
}

need_data() {
    [ -f "$DATA/test.tsv" ] || { echo "skip: no few-shot data in $DATA (set SHARED)"; exit 77; }
}

need_python() {
    PY=/usr/bin/python3
    [ -x "$PY" ] || PY=python3
    command -v "$PY" >/dev/null 2>&1 || { echo "skip: python3 is needed $1"; exit 77; }
}

need_torch() {
    need_python "$1"
    "$PY" -c 'import torch, numpy' 2>/dev/null ||
        { echo "skip: python3-torch is not installed for $PY (.ci/run installs it)"; exit 77; }
}

# shellcheck disable=SC2120 # PROG ARGS... are optional
need_mpirun() {
    command -v mpirun >/dev/null 2>&1 || { echo "skip: no mpirun (install openmpi-bin)"; exit 77; }
    # Open MPI refuses root unless told; harmless otherwise.
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
    # Under AddressSanitizer: Open MPI keeps allocations until exit in plugins it has unloaded
    # by then (stacks without symbols), so suppressions by library cannot name them. Leak
    # reports do not change the exit code here; instead the tests fail on the leaks whose
    # stack passes through our code (lsan_leaks).
    export LSAN_OPTIONS="exitcode=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    [ $# -gt 0 ] || return 0
    # the launch options that work here: containers may lack the shared-memory single copy (CMA)
    _base="--oversubscribe --bind-to none"
    for _extra in "" "--mca btl_vader_single_copy_mechanism none" "--mca btl self,vader" "--mca btl self,tcp"; do
        # shellcheck disable=SC2086 # option lists split on purpose
        if timeout 60 mpirun $_base $_extra -n 2 "$@" >"$TMP/probe.out" 2>&1; then
            LAUNCH="$_base $_extra"
            return 0
        fi
    done
    tail -n 5 "$TMP/probe.out"
    echo "skip: mpirun cannot start 2 ranks here (the last attempt said the above)"
    exit 77
}

lsan_leaks() {
    _re=$1
    shift
    LSAN_LEAK_RE=$_re awk 'function flush() { if (block ~ ENVIRON["LSAN_LEAK_RE"]) print block; block = "" }
         /^(Direct|Indirect) leak/ { flush(); block = $0; next }
         block != "" && /^$/ { flush(); next }
         block != "" { block = block "\n" $0 }
         END { flush() }' "$@"
}

tiny_model() {
    "$GPT2" init --layers 2 --heads 2 --embd 32 --positions 128 --std 0.2 --seed 1 \
        --tokenizer "$TOKENIZER_DIR" --out "$1" >/dev/null 2>"$TMP/init.err" || {
        echo "FAIL: gpt2 init: $(cat "$TMP/init.err")"; exit 1; }
}

quick_sweep() {
    need_built "$SWEEP" "$GPT2"
    need_tokenizer
    need_data
    # shellcheck disable=SC2119 # no program: the environment only
    need_mpirun
    cd "$TMP" || exit 1
    printf '#!/bin/sh\nFAKE_TUNE_CANNED=1 exec sh "%s/tests/fake_tune.sh" "$@"\n' "$ROOT" >tune.sh
    chmod +x tune.sh
    printf 'good\nbad\n' >words
}

torch_check() {
    _mode=$1 _tol=$2 _name=$3 _options=$4
    shift 4
    case $_mode in compare) _tool=$BUILD/tests/tool_forward_cases ;; *) _tool=$BUILD/tests/tool_grad_cases ;; esac
    need_built "$_tool"
    _model=$TMP/$_name
    "$GPT2" init "$@" --tokenizer "$TOKENIZER_DIR" --out "$_model" >/dev/null 2>"$TMP/init.err" ||
        { fail "$_name: gpt2 init: $(cat "$TMP/init.err")"; return; }
    mkdir -p "$_model.cases"
    # shellcheck disable=SC2086 # the tool's options split on purpose
    if "$_tool" "$_model" "$_model.cases" $_options &&
        "$PY" "$ROOT/tests/torch_ref.py" "$_mode" --model "$_model" --cases "$_model.cases/cases.json" --tol "$_tol"; then
        ok "$_name: $_mode within $_tol of PyTorch"
    else
        fail "$_name: $_mode against PyTorch (tolerance $_tol)"
    fi
    rm -rf "$_model" "$_model.cases"
}

bend_sweep() {
    need_built "$SWEEP" "$GPT2"
    need_tokenizer
    need_data
    need_python "to check the sweep's decisions"
    need_mpirun "$SWEEP" --help
    tiny_model "$TMP/model"
    printf 'good\nbad\n' >"$TMP/words"
    printf '#!/bin/sh\nFAKE_TUNE_BEND=1 exec sh "%s/tests/fake_tune.sh"\n' "$ROOT" >"$TMP/tune.sh"
    chmod +x "$TMP/tune.sh"
}

sweep_run() {
    _name=$1 _n=$2
    shift 2
    # shellcheck disable=SC2086 # LAUNCH splits on purpose
    timeout 600 mpirun $LAUNCH -x FAKE_TUNE_SLEEP -x OPENBLAS_NUM_THREADS -n "$_n" "$SWEEP" "$@" \
        >"$TMP/$_name.out" 2>"$TMP/$_name.err"
    rc=$?
}

sweep_kill_when() {
    _spec=$1 _n=$2 _cond=$4
    # shellcheck disable=SC2086 # LAUNCH splits on purpose
    FAKE_TUNE_SLEEP=$3 mpirun $LAUNCH -x FAKE_TUNE_SLEEP -x OPENBLAS_NUM_THREADS -n "$_n" "$SWEEP" "$_spec" \
        >"$TMP/killed.out" 2>"$TMP/killed.err" &
    _job=$!
    _i=0
    until eval "$_cond" || [ $_i -ge 300 ]; do sleep 0.2; _i=$((_i + 1)); done
    pkill -9 -f "$SWEEP $_spec" 2>/dev/null
    kill -9 $_job 2>/dev/null
    wait $_job 2>/dev/null
    [ $_i -lt 300 ]
}

journal_frames() {
    # frames: "PJF1" | type (1) | payload length (u32 LE) | CRC32 (4) | payload (results/results.h)
    "$PY" - "$1/journal" <<'EOF'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
at = 0
while at + 13 <= len(data):
    t, n = data[at + 4], struct.unpack_from("<I", data, at + 5)[0]
    p = data[at + 13:at + 13 + n]
    at += 13 + n
    if len(p) < n:
        break
    if t == 2:
        j = json.loads(p)
        print("P", j["id"], j.get("halving", {}).get("rung", -1), j.get("refined", {}).get("round", 0), at)
    elif t == 4:
        print("R", p[1:65].decode(), at)
EOF
}

normalized() {
    "$SWEEP" export "$1" | "$PY" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    r.pop("wall_seconds", None)
    r.pop("run", None)   # host, command line, OpenBLAS: where it ran, not what it computed
    print(json.dumps(r, sort_keys=True))'
}
