#!/bin/sh
# tests/t_journal_crash.sh: the journal of results/ under kill -9, bit flips and truncation.
#   crash: 8 trials on one journal, and 6 on another whose frames are megabytes (a kill
#     then often lands inside a write() and tears a frame). Each trial starts a writer that
#     resumes the journal (replay, repair, append frames fsync'd one by one, printing each
#     index once durable), kills it with SIGKILL at a random moment after its first frame,
#     then verifies: the lock was freed by the kernel, a torn tail is cut, the frames are
#     exactly 0..k-1 of the deterministic sequence (none missing, duplicated or changed),
#     every index the writer printed is there, and k grew. Finally a writer runs to
#     completion and the whole sequence is checked once more.
#   bit flips: 12 trials on copies, a random bit of a random frame (4 of them in a header):
#     replay stops exactly at that frame, the message says where, how many bytes follow and
#     where the next intact frame is; a repair refuses (exit 3) and leaves the file alone,
#     unless the frame was the last one.
#   truncation: 8 trials cutting a copy at a random byte: replay returns the frames wholly
#     before the cut and reports the torn one; the repair cuts there and appending resumes.
#   lock: a second opener fails naming the directory and the holder's pid; after the holder
#     is killed (or closes) the directory opens again.
# Env from tests/run.sh: ROOT, BUILD, TMP. JOURNAL_TEST_SEED repeats a run. Exit 0 pass, else fail.
set -u
ROOT=${ROOT:-$(pwd)}
BUILD=${BUILD:-build/release}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TMP=${TMP:-$(mktemp -d)}
TOOL=$BUILD/tests/tool_journal
[ -x "$TOOL" ] || { echo "FAIL: $TOOL is not built"; exit 1; }
# a private copy: a rebuild of the tree meanwhile must not pull the binary from under us
cp "$TOOL" "$TMP/tool_journal" && TOOL=$TMP/tool_journal

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

SEED=${JOURNAL_TEST_SEED:-$(date +%s)}
echo "seed $SEED (JOURNAL_TEST_SEED=$SEED repeats this run)"
rng=$((SEED % 2147483648))
# rnd N: sets R to a number in [0, N) (a 31-bit LCG drawn twice, 46 bits; no subshell,
# so that the state advances)
rnd() {
    rng=$(( (rng * 1103515245 + 12345) % 2147483648 )); hi=$((rng >> 8))
    rng=$(( (rng * 1103515245 + 12345) % 2147483648 )); lo=$((rng >> 8))
    R=$(( (hi * 8388608 + lo) % $1 ))
}
size_of() { wc -c <"$1" | tr -d ' '; }
field() { sed -n "s/^$1 //p" "$2"; }   # field NAME FILE: the value on the line "NAME value"

# ----------------------------------------------------------------------------
# crash trials

torn=0
# crash_trials DIR TRIALS MAX_MS [--big]: TRIALS writers on DIR, each killed once it has
# reported its first durable frame plus a random 0..MAX_MS ms; verify after each; then a
# writer that runs to completion. Sets k to the final number of frames.
crash_trials() {
    dir=$1; trials=$2; max_ms=$3; big=${4:-}
    mkdir -p "$dir"
    prev=0
    trial=0
    while [ $trial -lt "$trials" ]; do
        trial=$((trial + 1))
        out=$TMP/printed.$trial$big
        "$TOOL" append "$dir" 1000000000 $big >"$out" 2>"$TMP/append.err" &
        writer=$!
        tries=0   # wait for the writer to be appending, not still starting or replaying
        while [ ! -s "$out" ] && [ $tries -lt 300 ]; do sleep 0.01; tries=$((tries + 1)); done
        rnd "$max_ms"; ms=$R
        sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
        kill -9 "$writer" 2>/dev/null
        wait "$writer" 2>/dev/null
        "$TOOL" verify "$dir" --printed "$out" $big >"$TMP/verify" 2>&1
        rc=$?
        k=$(field frames "$TMP/verify")
        what="crash trial $trial${big:+ (big frames)}"
        if [ $rc -ne 0 ] || [ -z "$k" ]; then
            fail "$what, killed ${ms} ms after its first frame: verify exit $rc"
            sed 's/^/      /' "$TMP/verify" "$TMP/append.err"
            k=$prev
            continue
        fi
        note=""
        if grep -q "^repaired:" "$TMP/verify"; then
            torn=$((torn + 1))
            note="; $(sed -n 's/^repaired: .*journal: //p' "$TMP/verify")"
        fi
        if [ "$k" -le "$prev" ]; then
            fail "$what: $k frames after the kill, not more than the $prev before it"
        else
            ok "$what: killed ${ms} ms after its first frame, $(grep -c '' "$out") reported durable, $k intact$note"
        fi
        prev=$k
    done
    final=$((prev + 3))
    if "$TOOL" append "$dir" "$final" $big >"$TMP/printed.final" 2>"$TMP/append.err" &&
       "$TOOL" verify "$dir" --printed "$TMP/printed.final" --expect "$final" $big >"$TMP/verify" 2>&1; then
        ok "resumed to completion${big:+ (big frames)}: frames 0..$((final - 1)), each exactly once"
    else
        fail "resuming to $final frames"
        sed 's/^/      /' "$TMP/append.err" "$TMP/verify"
    fi
    k=$final
}

# small and medium frames (every 7th a few hundred KB), many per trial
crash_trials "$TMP/crash" 8 120
D=$TMP/crash
# frames of 0.5 to 3 MB: a kill often lands inside a write() and tears the frame
crash_trials "$TMP/crash-big" 6 40 --big
rm -rf "$TMP/crash-big"
echo "torn tails found and cut after the kills: $torn"

# ----------------------------------------------------------------------------
# bit flips and truncation, on copies of the finished journal

J=$D/journal
"$TOOL" offsets "$D" >"$TMP/offsets" || fail "listing the frames"
nframes=$(grep -c '' "$TMP/offsets")
size=$(size_of "$J")
C=$TMP/copy
mkdir -p "$C"

for trial in 1 2 3 4 5 6 7 8 9 10 11 12; do
    rnd "$nframes"; victim=$R
    line=$(sed -n "$((victim + 1))p" "$TMP/offsets")
    off=${line% *}
    bytes=${line#* }
    if [ "$trial" -le 4 ]; then rnd 13; else rnd "$bytes"; fi
    within=$R
    rnd 8; bit=$R
    cp "$J" "$C/journal"
    "$TOOL" flip "$C/journal" $((off + within)) "$bit"
    "$TOOL" replay "$C" >"$TMP/replay" 2>&1
    got=$(field frames "$TMP/replay")
    bad=$(field bad_offset "$TMP/replay")
    msg=$(field message "$TMP/replay")
    what="bit $bit of byte $within of frame $victim (at $off, $bytes bytes)"
    if [ "$got" != "$victim" ] || [ "$bad" != "$off" ]; then
        fail "$what: replay gave $got frames, bad offset $bad; want $victim and $off"
        sed 's/^/      /' "$TMP/replay"
        continue
    fi
    case $msg in *"frame at byte $off ("*"$((size - off)) bytes from there to the end"*) ;;
        *) fail "$what: unclear message: $msg"; continue ;; esac
    cp "$C/journal" "$C/flipped"
    "$TOOL" verify "$C" >"$TMP/repair" 2>&1
    rc=$?
    if [ "$victim" -lt $((nframes - 1)) ]; then
        next=$((off + bytes))
        case $msg in *"intact frame at byte $next: damage in the middle"*) ;;
            *) fail "$what: the message does not point at the intact frame at $next: $msg"; continue ;; esac
        if [ $rc -ne 3 ] || ! cmp -s "$C/journal" "$C/flipped"; then
            fail "$what: a repair should refuse (exit 3) and change nothing; exit $rc"
            continue
        fi
        ok "$what: stops there, refuses to cut $((size - off)) bytes holding intact frames"
    else
        if [ $rc -ne 0 ] || [ "$(size_of "$C/journal")" != "$off" ]; then
            fail "$what: the last frame damaged: the repair should cut at $off; exit $rc"
            continue
        fi
        ok "$what: the last frame, cut: $msg"
    fi
done
echo "a message: $msg"

for trial in 1 2 3 4 5 6 7 8; do
    rnd "$size"; cut=$R
    [ "$trial" -eq 1 ] && cut=$((size - 1))
    # frames wholly before the cut, and where the torn one starts
    set -- $(awk -v cut="$cut" '$1 + $2 <= cut { n++; end = $1 + $2 } END { printf "%d %d\n", n, end + 0 }' "$TMP/offsets")
    want=$1
    start=$2
    cp "$J" "$C/journal"
    truncate -s "$cut" "$C/journal"
    "$TOOL" replay "$C" >"$TMP/replay" 2>&1
    got=$(field frames "$TMP/replay")
    bad=$(field bad_offset "$TMP/replay")
    msg=$(field message "$TMP/replay")
    what="cut at byte $cut of $size"
    if [ "$start" -eq "$cut" ]; then wantbad=-1; else wantbad=$start; fi
    if [ "$got" != "$want" ] || [ "$bad" != "$wantbad" ]; then
        fail "$what: replay gave $got frames, bad offset $bad; want $want and $wantbad"
        continue
    fi
    if [ "$wantbad" -ge 0 ]; then
        case $msg in *"torn frame at byte $start ("*"no intact frame"*) ;;
            *) fail "$what: unclear message: $msg"; continue ;; esac
    fi
    if ! "$TOOL" verify "$C" --expect "$want" >"$TMP/repair" 2>&1 || [ "$(size_of "$C/journal")" != "$start" ]; then
        fail "$what: repair"
        sed 's/^/      /' "$TMP/repair"
        continue
    fi
    if ! "$TOOL" append "$C" $((want + 5)) >/dev/null 2>"$TMP/append.err" ||
       ! "$TOOL" verify "$C" --expect $((want + 5)) >"$TMP/repair" 2>&1; then
        fail "$what: appending after the repair"
        sed 's/^/      /' "$TMP/append.err" "$TMP/repair"
        continue
    fi
    ok "$what: $want frames intact, torn frame at $wantbad cut, 5 more appended"
done

# ----------------------------------------------------------------------------
# the lock

L=$TMP/lock
mkdir -p "$L"
"$TOOL" hold "$L" 30 >"$TMP/hold.out" 2>&1 &
holder=$!
tries=0
until grep -qs "^locked" "$TMP/hold.out" || [ $tries -ge 100 ]; do sleep 0.05; tries=$((tries + 1)); done
holder_pid=$(sed -n 's/^locked //p' "$TMP/hold.out")
"$TOOL" open "$L" >"$TMP/open.out" 2>&1
rc=$?
msg=$(cat "$TMP/open.out")
case $msg in
    *"$L"*"pid $holder_pid "*) [ $rc -eq 1 ] && ok "a second opener is refused: $msg" || fail "second opener exit $rc" ;;
    *) fail "a second opener should fail naming $L and pid $holder_pid (exit $rc): $msg" ;;
esac
kill -9 "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
if "$TOOL" open "$L" >"$TMP/open.out" 2>&1; then ok "the lock of a killed holder is free again"
else fail "open after the holder was killed: $(cat "$TMP/open.out")"; fi
"$TOOL" hold "$L" 0 >/dev/null 2>&1
if "$TOOL" open "$L" >"$TMP/open.out" 2>&1; then ok "the lock is free after a clean close"
else fail "open after a clean close: $(cat "$TMP/open.out")"; fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all journal crash checks passed"
