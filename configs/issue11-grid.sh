#!/bin/sh
# configs/issue11-grid.sh: the validation grid of issue 11 (successor of issue4-grid.sh): both tuners
# x lambda x two seeds on several SST-2 16-shot splits with models/sst2-lm, one sweep per split over
# MPI (two workers, one per core; each sweep writes its frontier files), plus RLPrompt with the
# reference's gap reward at lambda 0 (the collapse diagnostic) and three manual prompts per split.
# Prints a table per configuration over splits x seeds (mean, 95% CI, n) and one row per run.
#   sh configs/issue11-grid.sh [OUT] [STEPS] [RL_LR] [SPLITS]
# Defaults: OUT tmp/issue11, 1000 steps for both tuners, RLPrompt lr 5e-5 (the paper's), splits
# "16-13 16-42 16-87". LAMBDAS overrides the lambda grid ("0 0.01 0.1 1"). MODEL and DATA override
# the model and the few-shot task directory. Rerunning resumes every sweep.
# The sweeps run copies of bin/tune and bin/sweep (OUT/bin), so rebuilding meanwhile changes nothing.
set -eu
OUT=${1:-tmp/issue11}
STEPS=${2:-1000}
RL_LR=${3:-5e-5}
SPLITS=${4:-16-13 16-42 16-87}
LAMBDAS=${LAMBDAS:-0 0.01 0.1 1}
MODEL=${MODEL:-models/sst2-lm}
DATA=${DATA:-../shared/data/fewshot/sst-2}
[ -f "$MODEL/model.safetensors" ] || { echo "issue11-grid: $MODEL is missing: run 'make sst2-lm'" >&2; exit 1; }
[ -x bin/sweep ] && [ -x bin/tune ] || { echo "issue11-grid: run 'make' first" >&2; exit 1; }
mkdir -p "$OUT/bin"
[ -x "$OUT/bin/tune" ] || cp bin/tune bin/sweep "$OUT/bin/"
export OPENBLAS_NUM_THREADS=1
if grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
MPIRUN="mpirun --oversubscribe --bind-to none -n 3"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
lambdas=$(echo "$LAMBDAS" | sed 's/ /, /g')

for split in $SPLITS; do
    dir="$OUT/$split"
    mkdir -p "$dir"
    # the grid: PEZ and RLPrompt (default reward: minus the objective) x lambda x seeds
    cat >"$dir/spec.json" <<JSON
{
  "model": "$MODEL", "task": "sst-2", "data_dir": "$DATA", "split": "$split",
  "out": "$dir/sweep", "tune": "$OUT/bin/tune",
  "grid": {"method": ["pez", "rlprompt"], "lambda": [$lambdas], "prompt_length": [5], "seed": [1, 2]},
  "pez": {"steps": $STEPS, "eval_every": 10},
  "rlprompt": {"steps": $STEPS, "eval_every": 10, "lr": $RL_LR},
  "timeout_seconds": 7200
}
JSON
    $MPIRUN "$OUT/bin/sweep" "$dir/spec.json"
    # RLPrompt with the reference's gap reward, lambda 0: does it collapse, with the same budget?
    cat >"$dir/spec-gap.json" <<JSON
{
  "model": "$MODEL", "task": "sst-2", "data_dir": "$DATA", "split": "$split",
  "out": "$dir/sweep-gap", "tune": "$OUT/bin/tune",
  "grid": {"method": ["rlprompt"], "lambda": [0], "prompt_length": [5], "seed": [1, 2]},
  "rlprompt": {"steps": $STEPS, "eval_every": 10, "lr": $RL_LR, "reward": "gap"},
  "timeout_seconds": 7200
}
JSON
    $MPIRUN "$OUT/bin/sweep" "$dir/spec-gap.json"
    # manual prompts: the classic zero-shot suffix, the same in SST-2's lowercase style, a longer one
    common="\"task\":\"sst-2\",\"model\":\"$MODEL\",\"data_dir\":\"$DATA\",\"split\":\"$split\""
    for p in "It-was: It was" "it-was: it was" "overall: overall , the movie was"; do
        name=${p%%:*}; text=${p#*:}
        [ -s "$dir/manual-$name.json" ] && continue
        printf '{"method":"manual",%s,"prompt":"%s"}\n' "$common" "$text" >"$dir/manual-$name.point"
        "$OUT/bin/tune" --quiet "$dir/manual-$name.point" >"$dir/manual-$name.json.tmp"
        mv "$dir/manual-$name.json.tmp" "$dir/manual-$name.json"
    done
done

# every record, tagged with its split and variant, then the tables
: >"$OUT/records.jsonl"
for split in $SPLITS; do
    dir="$OUT/$split"
    "$OUT/bin/sweep" export "$dir/sweep" | sed "s/^{/{\"split_dir\":\"$split\",\"variant\":\"\",/" >>"$OUT/records.jsonl"
    "$OUT/bin/sweep" export "$dir/sweep-gap" | sed "s/^{/{\"split_dir\":\"$split\",\"variant\":\" (gap reward)\",/" >>"$OUT/records.jsonl"
    for f in "$dir"/manual-*.json; do
        sed "s/^{/{\"split_dir\":\"$split\",\"variant\":\"\",/" "$f" >>"$OUT/records.jsonl"
    done
done
/usr/bin/python3 - "$OUT/records.jsonl" <<'PY'
import json, math, sys
from collections import defaultdict
# Student t(0.975, df)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131}
def stats(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    n = len(xs)
    if n == 0: return float("nan"), float("nan"), 0
    m = sum(xs) / n
    if n < 2: return m, float("nan"), n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, T975.get(n - 1, 1.96) * sd / math.sqrt(n), n
def fmt(m, ci, digits=3, sign=False):
    if not math.isfinite(m): return "–"
    f = f"{m:+.{digits}f}" if sign else f"{m:.{digits}f}"
    return f + (f" ± {ci:.{digits}f}" if math.isfinite(ci) else "")
rows, groups = [], defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = r["point"]
    if r.get("status") != "ok":
        print(f"FAILED: {p['method']} lambda {p.get('lambda')} seed {p.get('seed')} split {r['split_dir']}: {r.get('error')}")
        continue
    method = p["method"] + r["variant"]
    key = (method, p.get("lambda", 0) if p["method"] != "manual" else p["prompt"])
    groups[key].append(r)
    rows.append((method, key[1], r["split_dir"], p.get("seed", 0), r))
splits = sorted({r["split_dir"] for rs in groups.values() for r in rs})
print(f"Per configuration, over {len(splits)} splits ({', '.join(splits)}) x seeds: mean ± 95% CI half-width "
      "(Student t over the n runs; with n = 2 or 3 the intervals are wide)")
print()
print("| method | λ / prompt | n | test acc | text acc | balanced test | dev acc | log-PPL | dict | distinct | collapsed | round trip | J dev: first eval → chosen | train J: first → last 10% (PEZ) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def sort_key(k):
    return (k[0], (0, k[1], "") if isinstance(k[1], (int, float)) else (1, 0, k[1]))
for key in sorted(groups, key=sort_key):
    rs = groups[key]
    acc = stats([r["accuracy"]["test"] for r in rs])
    text = stats([r["accuracy"]["test_text"] for r in rs])
    bal = stats([r["balanced_accuracy"]["test"] for r in rs])
    dev = stats([r["accuracy"]["dev"] for r in rs])
    lp = stats([r["log_ppl"] for r in rs])
    dct = stats([r["dict_share"] for r in rs])
    dis = stats([r["distinct_share"] for r in rs])
    coll = sum(1 for r in rs if r["collapsed"])
    rt = sum(1 for r in rs if r["prompt"]["roundtrip"])
    hist = [r["history"] for r in rs if r["history"]]
    j0 = stats([h[0]["dev_objective"] for h in hist])
    jb = stats([r["objective"]["total"] for r in rs if r["history"]])
    conv = f"{j0[0]:.3f} → {jb[0]:.3f}" if hist else "–"
    tj = "–"
    if key[0] == "pez" and hist:
        k = max(1, len(hist[0]) // 10)
        a = stats([sum(e["loss"] for e in h[:k]) / k for h in hist])
        b = stats([sum(e["loss"] for e in h[-k:]) / k for h in hist])
        tj = f"{a[0]:.3f} → {b[0]:.3f}"
    lab = key[1] if isinstance(key[1], str) else f"{key[1]:g}"
    if isinstance(key[1], str): lab = json.dumps(lab)
    print(f"| {key[0]} | {lab} | {acc[2]} | {fmt(*acc[:2])} | {fmt(*text[:2])} | {fmt(*bal[:2])} | {fmt(*dev[:2])} | "
          f"{fmt(*lp[:2], 2)} | {fmt(*dct[:2], 2)} | {fmt(*dis[:2], 2)} | {coll}/{len(rs)} | {rt}/{len(rs)} | {conv} | {tj} |")
print()
print("Paired with λ = 0 of the same method, split and seed (what λ costs and buys; mean ± 95% CI of the differences):")
print()
print("| method | λ | pairs | Δ test acc | Δ balanced test | Δ log-PPL |")
print("|---|---|---|---|---|---|")
by = {(m, l, sp, s): r for m, l, sp, s, r in rows}
for m in sorted({k[0] for k in groups if k[0] != "manual"}):
    lams = sorted({l for (mm, l) in groups if mm == m and not isinstance(l, str) and l > 0})
    for l in lams:
        d_acc, d_bal, d_lp = [], [], []
        for (mm, ll, sp, s), r in by.items():
            if mm != m or ll != l: continue
            z = by.get((m, 0, sp, s)) or by.get((m, 0.0, sp, s))
            if not z: continue
            d_acc.append(r["accuracy"]["test"] - z["accuracy"]["test"])
            d_bal.append(r["balanced_accuracy"]["test"] - z["balanced_accuracy"]["test"])
            d_lp.append(r["log_ppl"] - z["log_ppl"])
        a, b, c = stats(d_acc), stats(d_bal), stats(d_lp)
        print(f"| {m} | {l:g} | {a[2]} | {fmt(*a[:2], sign=True)} | {fmt(*b[:2], sign=True)} | {fmt(*c[:2], 2, sign=True)} |")
print()
print("Every run:")
print()
print("| method | λ | split | seed | train | dev | test | text | bal. test | majority | log-PPL | dict | best step | prompt |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for m, l, sp, s, r in sorted(rows, key=lambda x: (x[0], str(x[1]), x[2], x[3])):
    a = r["accuracy"]
    maj = max(r["prediction_share"]["test"])
    lab = l if isinstance(l, str) else f"{l:g}"
    print(f"| {m} | {lab if m != 'manual' else '–'} | {sp} | {s if m != 'manual' else '–'} | {a['train']:.3f} | {a['dev']:.3f} | "
          f"{a['test']:.3f} | {a['test_text']:.3f} | {r['balanced_accuracy']['test']:.3f} | {maj:.3f} | "
          f"{r['log_ppl']:.2f} | {r['dict_share']:.2f} | {r['best_step']} | {json.dumps(r['prompt']['text'])} |")
PY
