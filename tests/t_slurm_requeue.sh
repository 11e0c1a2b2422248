#!/bin/sh
# tests/t_slurm_requeue.sh: slurm/sweep.sbatch survives time limits and preemption on a real Slurm
# (a private munged, slurmctld, slurmd, and slurmdbd with MariaDB where installed, started here:
# tests/slurm_lib.sh).
#   - a sweep of 20 slow points (tests/fake_tune.sh, FAKE_TUNE_SLEEP) submitted with sbatch;
#   - run 1: once some results are journaled, `scancel --signal=USR1 --batch` (what
#     --signal=B:USR1@lead sends before the time limit): the script stops the sweep, which
#     drains and exits 0, and requeues the job itself (scontrol requeue);
#   - run 2 resumes from the journal; mid-run an administrator's `scontrol requeue` (as a
#     preemption with requeue does: SIGTERM to every process of the job, Slurm requeues it);
#   - run 3 resumes and finishes: every point exactly once, ok, one attempt each (the points
#     done before a stop are never run again, the cut ones are not counted as attempts);
#   - the job's log appends all three runs; sacct shows the two requeued runs and the last.
# SLURM_SACCT_OUT=FILE also writes the sacct lines there. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
. "$ROOT/tests/slurm_lib.sh"
slurm_test_prelude

N=20
tiny_model "$TMP/model"
OUT=$TMP/out
slurm_fake_spec "$TMP/spec.json" "$TMP/model" "$OUT" "[1, 2, 3, 4, 5]"
export FAKE_TUNE_SLEEP=1
[ "$ASAN" -eq 0 ] || export FAKE_TUNE_SLEEP=2
slurm_test_start accounting

cd "$TMP" || exit 1
job=$(sbatch --parsable -n 2 --time=15 -o "$TMP/job-%j.out" "$ROOT/slurm/sweep.sbatch" "$TMP/spec.json") || {
    echo "FAIL: sbatch"; exit 1; }
job=${job%%;*}
LOG=$TMP/job-$job.out
ok "submitted job $job ($N points of ${FAKE_TUNE_SLEEP}s and more each, 2 tasks)"

done_now() { "$SWEEP" status "$OUT" 2>/dev/null | head -n 1 | awk '{ print $4 }'; }

# wait_done K: until K points are done (the job running), or fail the test
wait_done() {
    i=0
    while [ $i -lt 600 ]; do
        d=$(done_now)
        [ "${d:-0}" -ge "$1" ] 2>/dev/null && [ "$(slurm_job_field "$job" JobState)" = RUNNING ] && return 0
        sleep 0.2
        i=$((i + 1))
    done
    echo "FAIL: not $1 points done after 120 s (${d:-0})"; cat "$LOG"; slurm_logs; exit 1
}

# wait_requeued R: until the job is pending again after its R-th requeue; then releases it.
# Slurm holds a requeued batch job about 2 minutes (Reason=BeginTime), among other things
# because slurmd refuses a launch whose credential is from the second the old run was killed
# in ("Job credential revoked": the job fails); so 2 s after the requeue, not at once.
wait_requeued() {
    i=0
    while [ $i -lt 120 ]; do
        state=$(slurm_job_field "$job" JobState)
        restarts=$(slurm_job_field "$job" Restarts)
        [ "$restarts" = "$1" ] && [ "$state" = PENDING ] && break
        sleep 0.5
        i=$((i + 1))
    done
    if [ "$restarts" = "$1" ] && [ "$state" = PENDING ]; then
        ok "requeued: JobState=$state Restarts=$restarts Reason=$(slurm_job_field "$job" Reason)"
    else
        fail "not requeued: JobState=$state Restarts=$restarts"; cat "$LOG"; slurm_logs; exit 1
    fi
    between=$("$SWEEP" status "$OUT" | head -n 1)
    echo "  journal between the runs: $between"
    sleep 2
    scontrol update JobId="$job" StartTime=now || fail "scontrol update StartTime=now"
}

# run 1: the time limit's warning
wait_done 3
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job"
ok "run 1: SIGUSR1 to the batch script with $(done_now) points done"
wait_requeued 1
done1=$(echo "$between" | awk '{ print $4 }')

# run 2: requeued by an administrator (or a preemption) while it runs
wait_done $((done1 + 2))
scontrol requeue "$job" || fail "scontrol requeue $job"
ok "run 2: scontrol requeue with $(done_now) points done"
wait_requeued 2
done2=$(echo "$between" | awk '{ print $4 }')

# run 3: to the end
if ! slurm_wait_job "$job" 300; then
    fail "job $job still in the queue after 300 s"; cat "$LOG"; slurm_logs; exit 1
fi
slurm_expect_completed "$job" 2

echo "---- the job's log (three runs, appended)"
cat "$LOG"
echo "----"
grep -q "caught SIGUSR1" "$LOG" && grep -q "requeueing job $job" "$LOG" && grep -q "caught SIGTERM" "$LOG" &&
    grep -q "restart 1," "$LOG" && grep -q "restart 2," "$LOG" && grep -q "the sweep finished" "$LOG" &&
    ok "the log appends the three runs: SIGUSR1 and the script's requeue, SIGTERM and Slurm's, finished" ||
    fail "the job's log"
[ "$(grep -c "requeueing job" "$LOG")" -eq 1 ] || fail "the script requeued the job itself more than once"
for d in "$done1" "$done2"; do
    if grep -q "$N points in $OUT: $d done, 0 failed, $((N - d)) to run on 2 workers (resumed from the journal)" "$LOG"; then
        ok "a run resumed from the journal: $d done before, $((N - d)) to run"
    else
        fail "no run resumed with the $d points done before"
    fi
done

# every point exactly once, ok, one result each: nothing done before a stop ran again
normalized "$OUT" >"$TMP/out.jsonl"
"$PY" - "$TMP/out.jsonl" "$N" <<'EOF' && ok "$N points, each once, ok, one result each" || fail "the records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
assert len(recs) == n, len(recs)
assert len({r["id"] for r in recs}) == n
for r in recs:
    assert r["status"] == "ok" and r["attempts"] == 1, r
EOF
final=$("$SWEEP" status "$OUT" | head -n 1)
echo "  journal at the end: $final"
case $final in "points $N done $N failed 0 pending 0 "*) ok "status: every point done" ;; *) fail "status: $final" ;; esac
dispatches=$(echo "$final" | awk '{ print $10 }')
echo "  dispatches $dispatches: $N results + $((dispatches - N)) attempts cut by the stops (not results)"

# sacct: one line per run of the job (and its steps), from slurmdbd (--duplicates: every run of a
# requeued job) or, without slurmdbd, from the job completion log (sacct -c)
i=0
while [ $i -lt 20 ]; do
    slurm_sacct "$job" >"$TMP/sacct.txt"
    runs=$(grep -c "^$job " "$TMP/sacct.txt")
    [ "$runs" -ge 3 ] && grep "^$job " "$TMP/sacct.txt" | tail -n 1 | grep -q COMPLETED && break
    sleep 0.5
    i=$((i + 1))
done
cat "$TMP/sacct.txt"
if [ "$SLURM_ACCOUNTING" = slurmdbd ]; then want=REQUEUED; else want=PENDING; fi
requeued=$(grep "^$job " "$TMP/sacct.txt" | head -n 2 | grep -c " $want ")
if [ "$runs" -eq 3 ] && [ "$requeued" -eq 2 ] && grep "^$job " "$TMP/sacct.txt" | tail -n 1 | grep -q COMPLETED; then
    ok "sacct ($SLURM_ACCOUNTING): 3 runs of job $job: $want, $want, COMPLETED"
else
    fail "sacct ($SLURM_ACCOUNTING): $runs runs of job $job, $requeued $want"
fi
grep -h "Requeu" "$TMP/slurm/slurmctld.log" | head -n 4
if [ -n "${SLURM_SACCT_OUT:-}" ]; then
    {
        if [ "$SLURM_ACCOUNTING" = slurmdbd ]; then
            echo "# sacct --duplicates -j $job (slurmdbd + MariaDB): run 1 requeued by the script after SIGUSR1,"
            echo "# run 2 requeued by scontrol requeue (SIGTERM), run 3 COMPLETED"
        else
            echo "# sacct -c -j $job (JobCompType=jobcomp/filetxt): runs 1 and 2 were requeued (jobcomp logs"
            echo "# them with the state they had once requeued: PENDING), run 3 COMPLETED"
        fi
        cat "$TMP/sacct.txt"
        echo "# scontrol show job $job"
        scontrol show job "$job" | grep -E "JobState|Restarts|SubmitTime|StartTime"
        echo "# slurmctld.log"
        grep -h -E "Requeu|JobId=$job " "$TMP/slurm/slurmctld.log" | head -n 20
        echo "# the job's log"
        cat "$LOG"
    } >"$SLURM_SACCT_OUT"
fi

[ "$failures" -eq 0 ] || slurm_logs
finish "the requeued sweep resumed and finished: every point once"
