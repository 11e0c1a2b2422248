#!/bin/sh
# configs/issue16-adaptive.sh: the evidence of issue 16 on models/sst2-lm. With the same number
# of points (16 PEZ runs a sweep: 8 λs x 2 seeds), a uniform λ grid against an adaptive sweep
# (the grid's ends and middle, 3 λs x 2 seeds, then 10 points of frontier-guided refinement),
# over 3 repeats with other seeds (repeat r: seeds 2r-1 and 2r); and the uniform grid again with
# early stopping (patience, min_steps): the steps it saves and what it does to the frontier.
# Prints one table: per repeat and arm, the hypervolume of the dev-chosen frontier (accuracy x
# nats against (chance, ln V), at test means and at dev means), the steps run, the λs the arm ended with; then the paired
# differences with their 95% CIs over the 3 repeats.
#   sh configs/issue16-adaptive.sh [OUT] [STEPS] [SPLIT]
# Defaults: OUT tmp/issue16, 300 steps (eval every 10), split 16-42. PATIENCE (5 evaluations) and
# MIN_STEPS (100) set the early-stopping arm. Rerunning resumes every sweep.
# The sweeps run copies of bin/tune and bin/sweep (OUT/bin), so rebuilding meanwhile changes nothing.
set -eu
OUT=${1:-tmp/issue16}
STEPS=${2:-300}
SPLIT=${3:-16-42}
PATIENCE=${PATIENCE:-5}
MIN_STEPS=${MIN_STEPS:-100}
MODEL=${MODEL:-models/sst2-lm}
DATA=${DATA:-../shared/data/fewshot/sst-2}
[ -f "$MODEL/model.safetensors" ] || { echo "issue16-adaptive: $MODEL is missing: run 'make sst2-lm'" >&2; exit 1; }
[ -x bin/sweep ] && [ -x bin/tune ] || { echo "issue16-adaptive: run 'make' first" >&2; exit 1; }
mkdir -p "$OUT/bin"
[ -x "$OUT/bin/tune" ] || cp bin/tune bin/sweep "$OUT/bin/"
export OPENBLAS_NUM_THREADS=1
if grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
MPIRUN="mpirun --oversubscribe --bind-to none -n 3"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"

# sweep NAME REPEAT LAMBDAS EXTRA-TOP-KEYS EXTRA-PEZ-KEYS
sweep() {
    dir="$OUT/r$2-$1"
    mkdir -p "$dir"
    s1=$(($2 * 2 - 1)); s2=$(($2 * 2))
    cat >"$dir/spec.json" <<JSON
{
  "model": "$MODEL", "task": "sst-2", "data_dir": "$DATA", "split": "$SPLIT",
  "out": "$dir/sweep", "tune": "$OUT/bin/tune", "empty_baseline": false,
  "grid": {"method": ["pez"], "lambda": [$3], "prompt_length": [5], "seed": [$s1, $s2]},
  "pez": {"steps": $STEPS, "eval_every": 10 $5},
  "timeout_seconds": 7200 $4
}
JSON
    echo "== repeat $2, $1" >&2
    $MPIRUN "$OUT/bin/sweep" "$dir/spec.json"
}

for r in 1 2 3; do
    sweep uniform $r "0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10" "" ""
    sweep adaptive $r "0, 0.1, 10" ', "adaptive": {"points": 10}' ""
    sweep early $r "0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10" "" ", \"patience\": $PATIENCE, \"min_steps\": $MIN_STEPS"
done

/usr/bin/python3 - "$OUT" <<'EOF'
import json, math, subprocess, sys
out = sys.argv[1]
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}

def arm(r, name):
    d = "%s/r%d-%s/sweep" % (out, r, name)
    f = json.load(open(d + "/frontier.json"))
    fr = [x for x in f["frontiers"] if x["method"] == "pez"][0]
    recs = [json.loads(l) for l in subprocess.run([out + "/bin/sweep", "export", d], capture_output=True, text=True,
                                                  check=True).stdout.splitlines()]
    ok = [x for x in recs if x["status"] == "ok"]
    return {"hv_raw": fr["hypervolume"], "hv_dev_raw": fr["hypervolume_dev"],
            "n": len(recs), "steps": sum(x["steps"] for x in ok),
            "lambdas": sorted({x["point"]["lambda"] for x in recs}),
            "stopped": sum(1 for x in ok if x.get("stop_reason") == "patience")}

rows = {(r, a): arm(r, a) for r in (1, 2, 3) for a in ("uniform", "adaptive", "early")}
print("| repeat | arm | points | hypervolume (test, dev-chosen) | hypervolume at dev | steps run | stopped early | λs |")
print("|---|---|---|---|---|---|---|---|")
for (r, a), x in sorted(rows.items()):
    print("| %d | %s | %d | %.4f | %.4f | %d | %d | %s |" % (r, a, x["n"], x["hv_raw"], x["hv_dev_raw"], x["steps"],
                                                       x["stopped"], ", ".join("%g" % l for l in x["lambdas"])))

def paired(a, b, key):
    d = [rows[(r, a)][key] - rows[(r, b)][key] for r in (1, 2, 3)]
    m = sum(d) / 3
    sd = math.sqrt(sum((v - m) ** 2 for v in d) / 2)
    return m, T95[2] * sd / math.sqrt(3), d

print()
for a, b in (("adaptive", "uniform"), ("early", "uniform")):
    for key, what in (("hv_raw", "hypervolume (test)"), ("hv_dev_raw", "hypervolume at dev"), ("steps", "steps run")):
        m, ci, d = paired(a, b, key)
        print("%s - %s, %s: %+.4f ± %.4f (95%% CI, n = 3 repeats; %s)" % (a, b, what, m, ci,
              ", ".join("%+.4f" % v for v in d)))
EOF
