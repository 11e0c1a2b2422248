#!/bin/sh
# tests/t_slurm_sbatch.sh: slurm/sweep.sbatch on a real Slurm (a private munged, slurmctld and
# slurmd started here: tests/slurm_lib.sh).
#   - the demo sweep (configs/demo.json: 8 real PEZ and RLPrompt points and the empty-prompt
#     baseline on a tiny random GPT-2,
#     out in a temporary directory) submitted with sbatch -n 2: the job completes, not requeued,
#     every point done, the frontier files written;
#   - the same script with SWEEP_LAUNCHER=srun (srun --mpi=pmix) on a fast sweep, where Slurm
#     has mpi/pmix;
#   - the scripts' --help, and their refusals outside a job or without a spec.
# Under the sanitizers the demo's points take fewer steps (the same spec otherwise).
# Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
. "$ROOT/tests/slurm_lib.sh"
slurm_test_prelude

# the scripts themselves
for s in sweep.sbatch sweep-array.sbatch merge.sbatch submit-array.sh; do
    if bash "$ROOT/slurm/$s" --help >"$TMP/help.out" 2>&1 && grep -q "slurm/$s" "$TMP/help.out"; then :; else
        fail "$s --help"; cat "$TMP/help.out"
    fi
done
ok "--help on every script in slurm/"
(unset SLURM_JOB_ID; bash "$ROOT/slurm/sweep.sbatch" x.json >"$TMP/nojob.out" 2>&1)
[ $? -eq 2 ] && grep -q "not inside a Slurm job" "$TMP/nojob.out" && ok "outside a job: exit 2: $(cat "$TMP/nojob.out")" ||
    fail "sweep.sbatch outside a job: $(cat "$TMP/nojob.out")"
bash "$ROOT/slurm/sweep.sbatch" >"$TMP/nospec.out" 2>&1
[ $? -eq 2 ] && grep -q "no spec" "$TMP/nospec.out" && ok "no spec: exit 2" || fail "sweep.sbatch without a spec"

# the demo: configs/demo.json with its model made as `make demo` does, out in $TMP
"$GPT2" init --layers 2 --heads 2 --embd 64 --positions 128 --seed 1 --force \
    --tokenizer "$TOKENIZER_DIR" --out "$TMP/demo-model" >/dev/null 2>"$TMP/init.err" || {
    echo "FAIL: gpt2 init: $(cat "$TMP/init.err")"; exit 1; }
"$PY" - "$ROOT/configs/demo.json" "$TMP/demo.json" "$TMP/demo-model" "$DATA" "$TMP/demo-out" "$ASAN" <<'EOF' || {
import json, sys
src, dst, model, data, out, asan = sys.argv[1:]
s = json.load(open(src))
s["model"], s["data_dir"], s["out"] = model, data, out
if asan == "1":   # the same grid, fewer steps: tune is ~10x slower under the sanitizers
    s["pez"]["steps"], s["rlprompt"]["steps"] = 20, 16
json.dump(s, open(dst, "w"), indent=1)
EOF
    echo "FAIL: cannot write the demo spec"; exit 1; }

slurm_test_start
cd "$TMP" || exit 1
t0=$(date +%s)
job=$(sbatch --parsable -n 2 --time=20 -o "$TMP/demo-%j.out" "$ROOT/slurm/sweep.sbatch" "$TMP/demo.json") || {
    echo "FAIL: sbatch"; exit 1; }
job=${job%%;*}
ok "submitted the demo sweep: job $job ($(sed -n 's/.*"steps": \([0-9]*\).*/\1/p' "$TMP/demo.json" | tr '\n' ' ')steps)"
squeue
if ! slurm_wait_job "$job" 540; then
    fail "job $job still in the queue after 540 s"; cat "$TMP/demo-$job.out"; slurm_logs; exit 1
fi
secs=$(( $(date +%s) - t0 ))
echo "---- the job's log"
cat "$TMP/demo-$job.out"
echo "----"
slurm_expect_completed "$job" 0 "(${secs}s)"
grep -q "2 tasks, 3 ranks by mpirun" "$TMP/demo-$job.out" && grep -q "the sweep finished (exit 0)" "$TMP/demo-$job.out" &&
    ! grep -q "requeueing" "$TMP/demo-$job.out" && ok "the log: 3 ranks on 2 tasks, finished, not requeued" ||
    fail "the job's log"
status=$("$SWEEP" status "$TMP/demo-out" 2>&1 | head -n 1)
case $status in "points 9 done 9 failed 0 pending 0 "*) ok "status: $status" ;; *) fail "status: $status" ;; esac
for f in points.csv frontier.csv frontier.svg frontier.json; do
    [ -s "$TMP/demo-out/$f" ] || fail "no $f in the sweep's directory"
done
rows=$(($(wc -l <"$TMP/demo-out/points.csv") - 1))
[ "$rows" -eq 9 ] && grep -q "<svg" "$TMP/demo-out/frontier.svg" &&
    ok "frontier files: points.csv ($rows points), frontier.csv ($(($(wc -l <"$TMP/demo-out/frontier.csv") - 1)) rows), frontier.svg, frontier.json" ||
    fail "frontier files: points.csv has $rows rows"
normalized "$TMP/demo-out" | "$PY" -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert len(recs) == 9 and all(r["status"] == "ok" for r in recs), recs
assert sorted({r["point"]["method"] for r in recs}) == ["manual", "pez", "rlprompt"]
assert [r["point"]["prompt"] for r in recs if r["point"]["method"] == "manual"] == [""]
' && ok "9 ok records: PEZ, RLPrompt and the empty-prompt baseline" || fail "the demo's records"

# srun --mpi=pmix instead of mpirun, where this Slurm and Open MPI have PMIx
if srun --mpi=list 2>&1 | grep -q pmix; then
    tiny_model "$TMP/model"
    slurm_fake_spec "$TMP/fast.json" "$TMP/model" "$TMP/fast-out" "[1, 2, 3]"
    job=$(SWEEP_LAUNCHER=srun sbatch --parsable -n 2 --time=10 -o "$TMP/srun-%j.out" "$ROOT/slurm/sweep.sbatch" "$TMP/fast.json")
    job=${job%%;*}
    slurm_wait_job "$job" 240 || fail "srun job $job still in the queue after 240 s"
    cat "$TMP/srun-$job.out"
    state=$(slurm_job_field "$job" JobState)
    if [ "$state" = COMPLETED ] && grep -q "3 ranks by srun" "$TMP/srun-$job.out" &&
        "$SWEEP" status "$TMP/fast-out" | grep -q "points 12 done 12 "; then
        ok "SWEEP_LAUNCHER=srun (srun --mpi=pmix -n 3 --overcommit): job $job $state, 12 points done"
    else
        fail "SWEEP_LAUNCHER=srun: job $job $state"
    fi
else
    skip_check "srun --mpi=list has no pmix here: the srun launcher is not tried (Debian's slurmd has mpi/pmix)"
fi

[ "$failures" -eq 0 ] || slurm_logs
finish "sweep.sbatch runs the demo sweep on Slurm"
