#!/bin/sh
# bench/bench_sweep.sh: the sweep program (not a test; prints numbers).
#   1. rank 0's cost per point: 2000 trivial points (a tune that only prints a fixed record)
#      at mpirun -n 64 --oversubscribe: wall time per point and rank 0's CPU time per point
#      (spec parsing, dispatch and result frames, one fsync per result included);
#   2. throughput with real points on this machine: 1 worker (-n 2) against 2 workers (-n 3),
#      8 small PEZ/RLPrompt points of the demo's shape, OPENBLAS_NUM_THREADS=1.
# Env: BINDIR (bin), SHARED (../shared), TOKENIZER_DIR. Needs mpirun.
set -eu
BINDIR=${BINDIR:-bin}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
TOKENIZER_DIR=${TOKENIZER_DIR:-models/gpt2-tokenizer}
DATA=$SHARED/data/fewshot/sst-2
command -v mpirun >/dev/null 2>&1 || { echo "skipped: no mpirun"; exit 0; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
[ -f "$DATA/test.tsv" ] || { echo "skipped: no few-shot data in $DATA"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/bench-sweep.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$BINDIR/gpt2" init --layers 2 --heads 2 --embd 64 --positions 128 --seed 1 \
    --tokenizer "$TOKENIZER_DIR" --out "$T/model" >/dev/null

cat >"$T/trivial_tune" <<'EOF2'
#!/bin/sh
cat >/dev/null
echo '{"point":null,"status":"ok","error":null,"accuracy":{"train":1,"dev":1,"test":1},"dev_reward":0,"log_ppl":1,"ppl":2.7,"dict_share":1}'
EOF2
chmod +x "$T/trivial_tune"
seeds=$(seq -s, 0 499)
cat >"$T/trivial.json" <<EOF2
{"model": "$T/model", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$T/trivial",
 "grid": {"method": ["pez", "rlprompt"], "lambda": [0, 1], "seed": [$seeds]},
 "tune": "$T/trivial_tune", "timeout_seconds": 60}
EOF2
echo "-- 2000 trivial points, mpirun -n 64 --oversubscribe ($(nproc) cores)"
start=$(date +%s.%N)
mpirun -n 64 --oversubscribe --bind-to none "$BINDIR/sweep" "$T/trivial.json" 2>"$T/trivial.err"
end=$(date +%s.%N)
tail -n 1 "$T/trivial.err"
grep -o 'rank 0 CPU [0-9.]*' "$T/trivial.err" | awk -v s="$start" -v e="$end" \
    '{printf "wall %.1f s: %.2f ms per point; rank 0 CPU %.3f ms per point\n", e - s, 1000 * (e - s) / 2000, 1000 * $4 / 2000}'

real() { # OUT: the 8 real points
    cat <<EOF2
{"model": "$T/model", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$1",
 "grid": {"method": ["pez", "rlprompt"], "lambda": [0, 1], "prompt_length": [5], "seed": [1, 2]},
 "pez": {"steps": 60, "batch": 8, "eval_every": 10},
 "rlprompt": {"steps": 60, "prompts_per_step": 8, "top_k": 64, "hidden": 128, "eval_every": 10},
 "point": {"max_test": 200}}
EOF2
}
for n in 2 3; do
    real "$T/real$n" >"$T/real$n.json"
    start=$(date +%s.%N)
    mpirun -n $n --oversubscribe --bind-to none "$BINDIR/sweep" "$T/real$n.json" 2>"$T/real$n.err"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v w=$((n - 1)) \
        'BEGIN {printf "-- real points, %d worker%s: 8 points in %.1f s: %.3f points/s\n", w, (w > 1 ? "s" : ""), e - s, 8 / (e - s)}'
done
# the machine's own ceiling for the line above: one real point alone, then two at once with
# no MPI at all (on shared or throttled vCPUs, two at once may take twice as long)
real "$T/none" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); p=dict(s["point"], model=s["model"], task="sst-2", data_dir=s["data_dir"], split=s["split"], method="pez", seed=1, prompt_length=5, pez=s["pez"]); print(json.dumps(p))' >"$T/point.json"
one=$( { /usr/bin/time -f %e "$BINDIR/tune" --quiet "$T/point.json" >/dev/null; } 2>&1 )
two=$( { /usr/bin/time -f %e sh -c '"$1" --quiet "$2" >/dev/null & "$1" --quiet "$2" >/dev/null; wait' _ "$BINDIR/tune" "$T/point.json"; } 2>&1 )
echo "-- no MPI: one pez point alone ${one} s, two at once ${two} s (2 cores would give the same time)"
