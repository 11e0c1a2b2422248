#!/bin/sh
# tests/t_sweep_ops.sh: watching a sweep and being told what changed (issue 15, sweep/sweep.h
# "Logs", "Watching a run"), with stand-in tunes that answer at once (tests/fake_tune.sh's canned
# record) or fail on purpose:
#   - logs: each failed attempt's tune stderr in OUT/logs/<id>.<attempt>.log, rank 0's line first,
#     one file per attempt, none for ok points; the failed record names its log; a loud tune's log
#     is its last 64 KiB with a line saying what was cut; tune runs without --quiet;
#   - progress: lines (the default when stderr is not a terminal) prints one line per finished
#     point and one per failed attempt, with the same words and numbers as the last line; none
#     prints neither; bar redraws one line; a bad --progress is a usage error;
#   - `sweep status --json` during a run (mpirun -n 3, two points held in their tune until the
#     test lets them go): live, the holder's pid, the running points with their ranks, attempt and
#     dispatch time, done/pending counts, a rate and an ETA, the best point per method by dev
#     accuracy without test; after the run: not live, nothing running, no ETA;
#   - a resume whose spec changed a key: exit 2 naming "pez.steps 4 → 5" and the other points.
# Env from tests/run.sh: ROOT, BINDIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

quick_sweep   # in $TMP: tune.sh (canned records), words
need_python "to read status --json and the records"
tiny_model "$TMP/m"
spec() { # FILE OUT SEEDS TUNE [STEPS]
    cat >"$1" <<EOF
{"model": "$TMP/m", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$2",
 "grid": {"method": ["pez"], "lambda": [0], "prompt_length": [3], "seed": $3}, "empty_baseline": false,
 "pez": {"steps": ${5:-4}}, "point": {"dictionary": "$TMP/words"}, "tune": "$4", "timeout_seconds": 120, "retries": 1}
EOF
}

# ---------------------------------------------------------------------------
# logs, and progress by lines (stderr is a file here: the default)

spec logs.json run1 "[1, 555, 2, 999]" "$TMP/tune.sh"
"$SWEEP" logs.json >logs.out 2>logs.err || { fail "the sweep with failing points: $(tail -n 3 logs.err)"; finish ""; }
"$SWEEP" export run1 >logs.jsonl
"$PY" - logs.jsonl run1 <<'EOF' && ok "logs: one per failed attempt (4), none for ok points, named by the failed records" || fail "logs"
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
out = sys.argv[2]
files = sorted(os.listdir(os.path.join(out, "logs")))
failed = [r for r in recs if r["status"] == "failed"]
assert len(recs) == 4 and len(failed) == 2, [r["status"] for r in recs]
want = sorted("%s.%d.log" % (r["id"], a) for r in failed for a in (1, 2))
assert files == want, (files, want)
for r in recs:
    if r["status"] == "ok":
        assert "log" not in r, r
        continue
    assert r["log"] == "logs/%s.2.log" % r["id"], r["log"]
    text = open(os.path.join(out, r["log"]), "rb").read().decode()
    first = text.split("\n", 1)[0]
    assert first.startswith("sweep: point ") and "attempt 2 on rank 0 failed: " in first and r["error"] in first, first
    if r["point"]["seed"] == 999:
        # tune's own stderr, whole; its arguments show it runs without --quiet
        assert text.endswith("fake_tune: arguments: -\nfake_tune: failing on purpose\n"), text
    else:
        lines = text.split("\n")
        assert lines[1].startswith("sweep: the first ") and lines[1].endswith("bytes of tune's stderr were cut; its last 65536 follow"), lines[1]
        body = text.split("\n", 2)[2]
        assert len(body.encode()) == 65536 and body.endswith("fake_tune: line 100000\n"), len(body)
EOF
# the lines: one per finished point, one per failed attempt, the last one's counts the summary's
"$PY" - logs.err <<'EOF' && ok "progress lines: 4 finished lines, 4 failure lines, the same counts as the summary" || { fail "progress lines"; cat logs.err; }
import re, sys
err = open(sys.argv[1]).read().split("\n")
prog = [l for l in err if re.match(r"sweep: \d+/4 finished \(\d+ done, \d+ failed\)", l)]
assert [int(l.split()[1].split("/")[0]) for l in prog] == [1, 2, 3, 4], prog
fails = [l for l in err if re.match(r"sweep: point \d+ .* failed on rank 0 \(attempt \d", l)]
assert len(fails) == 4 and sum("to be retried" in l for l in fails) == 2 and sum("failed for good" in l for l in fails) == 2, fails
assert all("; log run1/logs/" in l for l in fails), fails
last = re.search(r"\((\d+) done, (\d+) failed\)", prog[-1]).groups()
summary = [l for l in err if l.startswith("sweep: finished: ")]
assert len(summary) == 1 and summary[0].startswith("sweep: finished: %s done, %s failed, of 4 points" % last), (last, summary)
assert last == ("2", "2"), last
EOF

rm -rf run1
"$SWEEP" --progress none logs.json >none.out 2>none.err
if [ $? -eq 0 ] && ! grep -q "finished (\|failed on rank" none.err && grep -q "^sweep: finished: 2 done, 2 failed" none.err; then
    ok "--progress none: only the first and last lines"
else fail "--progress none: $(cat none.err)"; fi
rm -rf run1
"$SWEEP" --progress bar logs.json >bar.out 2>bar.err
if [ $? -eq 0 ] && grep -q "$(printf '\r')sweep: \[#*-*\] 4/4 finished (2 done, 2 failed)" bar.err; then
    ok "--progress bar: one line redrawn in place"
else fail "--progress bar: $(od -c bar.err | head -n 5)"; fi
"$SWEEP" --progress sometimes logs.json >/dev/null 2>bad.err
[ $? -eq 2 ] && grep -q "bar, lines or none" bad.err && ok "--progress sometimes: exit 2" || fail "--progress sometimes: $(cat bad.err)"

# ---------------------------------------------------------------------------
# status during a run: mpirun -n 3 (2 workers); seeds 2 and 3 wait in their tune until their
# hold file is removed, so the test catches them in flight without depending on timings

need_mpirun "$SWEEP" --help
cat >hold.sh <<EOF
#!/bin/sh
point=\$(cat)
seed=\$(printf '%s' "\$point" | grep -o '"seed":[0-9]*' | cut -d: -f2)
if [ -e "$TMP/hold.\$seed" ]; then
    n=0
    while [ -e "$TMP/hold.\$seed" ] && [ \$n -lt 6000 ]; do sleep 0.1; n=\$((n + 1)); done
fi
printf '%s' "\$point" | FAKE_TUNE_CANNED=1 exec sh "$ROOT/tests/fake_tune.sh" "\$@"
EOF
chmod +x hold.sh
spec live.json live "[1, 2, 3, 4]" "$TMP/hold.sh"
: >hold.2
: >hold.3
start=$(date +%s)
# shellcheck disable=SC2086
timeout 600 mpirun $LAUNCH -x OPENBLAS_NUM_THREADS -n 3 "$SWEEP" live.json >live.out 2>live.err &
job=$!
caught=0
for _ in $(seq 600); do
    if "$SWEEP" status --json live >during.json 2>/dev/null &&
        "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit((s["done"], s["running"]) != (1, 2))' during.json; then
        caught=1
        break
    fi
    sleep 0.1
done
"$SWEEP" status live >during.txt 2>&1
pid=$(head -n 1 live/lock 2>/dev/null)
rm -f hold.2 hold.3
wait $job
rc=$?
if [ $caught -eq 0 ]; then
    fail "status never showed 1 point done and the 2 held ones running: $(cat during.json)"
else
    "$PY" - during.json "$pid" "$start" <<'EOF' && ok "status --json during the run: live, 2 running on ranks 1 and 2, 1 done, 1 pending, rate and ETA, best by dev" || { fail "status --json during the run"; cat during.json; echo; }
import json, sys, time
s = json.load(open(sys.argv[1]))
pid, start = int(sys.argv[2]), int(sys.argv[3])
want = ["dir", "spec_sha256", "live", "pid", "run_started", "points", "done", "failed", "running", "pending",
        "dispatches", "points_per_second", "eta_seconds", "damaged", "running_points", "failed_points",
        "refined_per_round", "halving_per_rung", "best_by_dev_accuracy"]
assert list(s) == want, list(s)
assert s["live"] is True and s["pid"] == pid and start - 2 <= s["run_started"] <= time.time(), (s["pid"], pid, s["run_started"])
assert (s["points"], s["done"], s["failed"], s["running"], s["pending"], s["dispatches"]) == (4, 1, 0, 2, 1, 3), s
run = sorted(s["running_points"], key=lambda r: r["rank"])
assert [r["rank"] for r in run] == [1, 2] and [r["index"] for r in sorted(run, key=lambda r: r["index"])] == [1, 2], run
for r in run:
    assert list(r) == ["index", "id", "attempt", "rank", "since"] and r["attempt"] == 1 and len(r["id"]) == 64, r
    assert s["run_started"] - 1 <= r["since"] <= time.time(), r
assert s["points_per_second"] > 0 and s["eta_seconds"] > 0, s
assert abs(s["eta_seconds"] - 3 / s["points_per_second"]) < 1e-6 * s["eta_seconds"], s
assert s["failed_points"] == [] and s["damaged"] is None, s
best = s["best_by_dev_accuracy"]
assert list(best) == ["pez"] and best["pez"]["index"] == 0 and best["pez"]["acc_dev"] == 1, best
assert list(best["pez"]) == ["index", "id", "acc_dev", "log_ppl", "lambda", "seed", "prompt"], best
EOF
    grep -q "^points 4 done 1 failed 0 pending 1 dispatches 3 spec_sha256 [0-9a-f]* running 2$" during.txt && grep -q "^live: a sweep (pid $pid)" during.txt &&
        [ "$(grep -c "^running: point [12] (sst-2 pez, lambda 0, seed [23]) on rank [12] since" during.txt)" -eq 2 ] &&
        ok "status text during the run: $(head -n 1 during.txt | cut -d' ' -f1-10) ... $(head -n 1 during.txt | cut -d' ' -f13-)" || { fail "status text during the run"; cat during.txt; }
fi
"$SWEEP" status --json live >after.json
if [ $rc -eq 0 ] && "$PY" - after.json <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["live"] is False and s["pid"] is None and s["run_started"] is None, s
assert (s["done"], s["running"], s["pending"]) == (4, 0, 0) and s["eta_seconds"] is None and s["points_per_second"] is None, s
EOF
then ok "status --json after the run: not live, 4 done, nothing running, no ETA"
else fail "after the run (sweep exit $rc): $(cat after.json) $(tail -n 3 live.err)"; fi

# ---------------------------------------------------------------------------
# a changed key: the refusal says which and how

spec changed.json run1 "[1, 555, 2, 999]" "$TMP/tune.sh" 5
"$SWEEP" changed.json >changed.out 2>changed.err
rc=$?
if [ $rc -eq 2 ] && grep -q "the spec no longer has point 0 of the journal (sst-2 pez, lambda 0, seed 1): it is now the spec's point 0 with pez.steps 4 → 5 (and 3 other points of the journal changed)" changed.err &&
    [ "$(grep -c '^sweep: ' changed.err)" -eq 1 ]; then   # (under ASan, Open MPI's leak reports follow)
    ok "a changed key: exit 2, one line: $(grep '^sweep: ' changed.err | cut -c1-160)"
else fail "a changed key: exit $rc: $(cat changed.err)"; fi

leaks=$(lsan_leaks 'sweep/|results/|mpi/farm' "$TMP"/*.err)
if [ -n "$leaks" ]; then fail "memory leaked from the sweep:"; echo "$leaks" | head -n 30; fi
finish "logs, progress, status and the change message"
