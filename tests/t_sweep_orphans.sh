#!/bin/sh
# tests/t_sweep_orphans.sh: a tune dies with its worker. A sweep runs a point that hangs (fake
# tune, seed 777 with pez: `exec sleep 600`); the worker rank running it is killed with -9, as a
# lost node or the OOM killer would. Its tune must not go on computing without a time limit: it
# is gone within seconds (before the fix it was still there a minute after mpirun exited).
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

need_built "$SWEEP" "$GPT2"
need_tokenizer
need_data
need_mpirun "$SWEEP" --help

M=$TMP/model
tiny_model "$M"
printf 'great\nmovie\n' >"$TMP/words"
cp "$ROOT/tests/fake_tune.sh" "$TMP/fake_tune"
chmod +x "$TMP/fake_tune"
cat >"$TMP/spec.json" <<EOF
{"model": "$M", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$TMP/out",
 "grid": {"method": ["pez"], "lambda": [0], "prompt_length": [3], "seed": [777]}, "empty_baseline": false,
 "point": {"dictionary": "$TMP/words"}, "tune": "$TMP/fake_tune", "timeout_seconds": 3000}
EOF

# shellcheck disable=SC2086 # LAUNCH: option list
mpirun $LAUNCH -n 2 "$SWEEP" "$TMP/spec.json" >"$TMP/sweep.out" 2>"$TMP/sweep.err" &
mpirun_pid=$!

# the hanging tune: a `sleep 600` whose parent is a sweep rank
worker="" child=""
for _ in $(seq 1 300); do
    for p in $(pgrep -f "$TMP/spec.json" 2>/dev/null); do
        for c in $(pgrep -P "$p" 2>/dev/null); do
            if grep -q "sleep" "/proc/$c/comm" 2>/dev/null; then worker=$p; child=$c; fi
        done
    done
    [ -n "$child" ] && break
    sleep 0.1
done
if [ -z "$child" ]; then
    fail "the hanging point never started: $(tail -n 3 "$TMP/sweep.err")"
    kill "$mpirun_pid" 2>/dev/null
    wait "$mpirun_pid" 2>/dev/null
    finish ""
fi
ok "tune (pid $child) runs under worker $worker"

kill -9 "$worker"
gone=0
for _ in $(seq 1 100); do
    if ! kill -0 "$child" 2>/dev/null; then gone=1; break; fi
    sleep 0.1
done
if [ "$gone" -eq 1 ]; then
    ok "the worker killed with -9: its tune is gone too"
else
    fail "the worker killed with -9: its tune (pid $child) still runs 10 s later"
    kill -9 "$child" 2>/dev/null
fi
# mpirun ends the job when a rank dies; nothing of it is left
for _ in $(seq 1 300); do kill -0 "$mpirun_pid" 2>/dev/null || break; sleep 0.1; done
kill "$mpirun_pid" 2>/dev/null
wait "$mpirun_pid" 2>/dev/null
left=$(pgrep -f "$TMP/spec.json" 2>/dev/null | tr '\n' ' ')
[ -z "$left" ] && ok "no process of the sweep is left" || { fail "processes left: $left"; pkill -9 -f "$TMP/spec.json"; }
finish "tune dies with its worker"
