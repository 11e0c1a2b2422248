#!/bin/sh
# configs/issue4-grid.sh: the validation grid of issue 4, run with tune (no MPI):
# both tuners x lambda in {0, 0.1, 1, 10} x two seeds on the SST-2 16-shot split
# 16-42 with models/sst2-lm, plus a manual prompt, two runs at a time (one per
# core). Records go to OUT/*.json; a table of the results is printed at the end.
#   sh configs/issue4-grid.sh [OUT] [PEZ_STEPS] [RL_STEPS] [RL_LR]
set -eu
OUT=${1:-tmp/issue4}
PEZ_STEPS=${2:-300}
RL_STEPS=${3:-300}
RL_LR=${4:-5e-5}
MODEL=${MODEL:-models/sst2-lm}
DATA=${DATA:-../shared/data/fewshot/sst-2}
[ -f "$MODEL/model.safetensors" ] || { echo "issue4-grid: $MODEL is missing: run 'make sst2-lm'" >&2; exit 1; }
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1
grep -q avx512f /proc/cpuinfo && export OPENBLAS_CORETYPE=SkylakeX
common="\"task\":\"sst-2\",\"model\":\"$MODEL\",\"data_dir\":\"$DATA\",\"split\":\"16-42\""
points=""
for lambda in 0 0.1 1 10; do
    for seed in 1 2; do
        printf '{"method":"pez",%s,"lambda":%s,"seed":%s,"prompt_length":5,"pez":{"steps":%s,"eval_every":10}}\n' \
            "$common" "$lambda" "$seed" "$PEZ_STEPS" >"$OUT/pez-l$lambda-s$seed.point"
        printf '{"method":"rlprompt",%s,"lambda":%s,"seed":%s,"prompt_length":5,"rlprompt":{"steps":%s,"eval_every":10,"lr":%s}}\n' \
            "$common" "$lambda" "$seed" "$RL_STEPS" "$RL_LR" >"$OUT/rl-l$lambda-s$seed.point"
        points="$points pez-l$lambda-s$seed rl-l$lambda-s$seed"
    done
done
# manual prompts: the classic zero-shot suffix, and the same in SST-2's lowercase style
printf '{"method":"manual",%s,"prompt":" It was"}\n' "$common" >"$OUT/manual-It-was.point"
printf '{"method":"manual",%s,"prompt":" it was"}\n' "$common" >"$OUT/manual-it-was.point"
printf '{"method":"manual",%s,"prompt":" overall , the movie was"}\n' "$common" >"$OUT/manual-overall.point"
points="manual-It-was manual-it-was manual-overall $points"
# two at a time
for name in $points; do echo "$name"; done | xargs -P 2 -I{} sh -c \
    '[ -s "$0/{}.json" ] || ./bin/tune --quiet "$0/{}.point" >"$0/{}.json" 2>"$0/{}.err" || echo "{} failed: $(tail -n 1 "$0/{}.err")"' "$OUT"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys, glob, os
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    r = json.load(open(f))
    p = r["point"]
    rows.append((p["method"], p.get("lambda", 0), p.get("seed", 0), r["accuracy"]["train"], r["accuracy"]["dev"],
                 r["accuracy"]["test"], r["log_ppl"], r["dict_share"], r["faithfulness"]["kl"], r["best_step"],
                 r["wall_seconds"], r["prompt"]["text"]))
print("| method | λ | seed | train | dev | test | log-PPL | dict | KL | best step | s | prompt |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m, l, s, tr, dv, te, lp, ds, kl, bs, w, t in sorted(rows):
    print(f"| {m} | {l:g} | {s} | {tr:.3f} | {dv:.3f} | {te:.3f} | {lp:.2f} | {ds:.2f} | {kl:.3f} | {bs} | {w:.0f} | {json.dumps(t)} |")
PY
