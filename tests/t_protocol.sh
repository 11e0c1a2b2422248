#!/bin/sh
# tests/t_protocol.sh: the study's protocol in one spec, end to end under mpirun (issue 13):
# 2 tasks (sst-2, mr; "{task}" in data_dir) x 3 few-shot splits x {pez, rlprompt, soft} with a
# lambda list per method x 2 seeds, plus 2 manual baselines and the empty prompt, on a tiny
# random GPT-2 with real tune runs of a few steps:
#   - every point done (72 tuned + 3 baselines x 6 task-splits = 90);
#   - one frontier.csv with every method and the baselines: a tuned configuration's statistics
#     over 3 splits x 2 seeds (n 6), a baseline's over the 3 splits; manual configurations one
#     per prompt; frontier.svg labels the baselines;
#   - soft records give the soft prompt's accuracy (faithfulness.acc_continuous) beside the
#     projection's;
#   - the same study with every key of the spec and its grid in reverse order resumes the
#     journal with nothing to run (ids and order do not depend on the spec's key order).
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

need_built "$SWEEP" "$TUNE" "$GPT2"
need_tokenizer
need_data
[ -f "$SHARED/data/fewshot/mr/test.tsv" ] || { echo "skip: no few-shot mr data under $SHARED (set SHARED)"; exit 77; }
need_python "to read the frontier files"
need_mpirun "$SWEEP" --help

M=$TMP/model
tiny_model "$M"
printf 'great\nmovie\nthe\nbad\ngood\n' >"$TMP/words"
TIMEOUT=300
[ "$ASAN" -eq 0 ] || TIMEOUT=1200

cat >"$TMP/spec.json" <<EOF
{"model": "$M", "data_dir": "$SHARED/data/fewshot/{task}", "out": "$TMP/out",
 "grid": {"task": ["sst-2", "mr"], "split": ["16-13", "16-42", "16-87"],
          "method": ["pez", "rlprompt", "soft"],
          "lambda": {"pez": [0, 1], "rlprompt": [0, 10], "soft": [0, 1]},
          "prompt_length": [3], "seed": [1, 2]},
 "pez": {"steps": 4, "batch": 4, "eval_every": 2},
 "soft": {"steps": 4, "batch": 4, "eval_every": 2},
 "rlprompt": {"steps": 4, "eval_every": 2, "hidden": 16, "prompts_per_step": 3, "top_k": 8},
 "baselines": [" It was", {"prompt": " Review:", "template": "[P]{sentence} All in all, it was"}],
 "point": {"max_test": 40, "max_tokens": 48, "dictionary": "$TMP/words"},
 "timeout_seconds": $TIMEOUT, "retries": 0}
EOF

# shellcheck disable=SC2086 # option lists split on purpose
timeout 1500 mpirun $LAUNCH -x OPENBLAS_NUM_THREADS -n 3 "$SWEEP" "$TMP/spec.json" >"$TMP/run.out" 2>"$TMP/run.err"
rc=$?
tail -n 3 "$TMP/run.err"
status=$("$SWEEP" status "$TMP/out" 2>&1)
case $rc:$status in
    "0:points 90 done 90 failed 0 pending 0 "*) ok "the protocol's 90 points done under mpirun -n 3: $status" ;;
    *) fail "exit $rc, status: $status"; tail -n 20 "$TMP/run.err" ;;
esac

"$PY" - "$TMP/out" <<'EOF' && ok "one frontier with pez, rlprompt, soft and the baselines; statistics over 3 splits x 2 seeds" || fail "the frontier files"
import csv, json, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/frontier.csv")))
methods = sorted({r["method"] for r in rows})
assert methods == ["manual", "pez", "rlprompt", "soft"], methods
assert sorted({r["task"] for r in rows}) == ["mr", "sst-2"], rows
tuned = [r for r in rows if r["method"] != "manual"]
manual = [r for r in rows if r["method"] == "manual"]
# 2 tasks x (2 lambdas each of 3 methods); every one over 3 splits x 2 seeds
assert len(tuned) == 12, len(tuned)
for r in tuned:
    assert (r["n_ok"], r["n_splits"], r["n_seeds"]) == ("6", "3", "2"), r
# 2 tasks x 3 prompts (the empty one and two given): one configuration each, over the 3 splits
assert len(manual) == 6, [r.get("prompt") for r in manual]
for r in manual:
    assert (r["n_ok"], r["n_splits"], r["n_seeds"]) == ("3", "3", "1"), r
points = list(csv.DictReader(open(out + "/points.csv")))
assert len(points) == 90 and all(p["status"] == "ok" for p in points), len(points)
svg = open(out + "/frontier.svg").read()
for label in ("(empty prompt)", "It was", "Review:", "soft"):
    assert label in svg, label
EOF

"$SWEEP" export "$TMP/out" | "$PY" -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
soft = [r for r in recs if r["point"]["method"] == "soft"]
assert len(soft) == 24, len(soft)
for r in soft:
    f = r["faithfulness"]
    assert 0 <= f["acc_continuous"] <= 1 and f["acc_projected"] == r["accuracy"]["test"], r
empty = [r for r in recs if r["point"]["method"] == "manual" and r["point"]["prompt"] == ""]
assert len(empty) == 6 and all(r["log_ppl"] == 0 and r["prompt"]["ids"] == [] for r in empty), empty
' && ok "soft records: the soft prompt's accuracy beside its projection's; the empty prompt: no tokens, log-PPL 0" ||
    fail "the soft and empty-prompt records"

# the same study, every key of the spec and of its grid in reverse order
"$PY" - "$TMP/spec.json" "$TMP/reversed.json" <<'EOF'
import json, sys
def rev(o):
    return {k: rev(o[k]) for k in reversed(list(o))} if isinstance(o, dict) else o
json.dump(rev(json.load(open(sys.argv[1]))), open(sys.argv[2], "w"))
EOF
# shellcheck disable=SC2086
timeout 300 mpirun $LAUNCH -n 2 "$SWEEP" "$TMP/reversed.json" >/dev/null 2>"$TMP/rev.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "90 points in .*: 90 done, 0 failed, 0 to run" "$TMP/rev.err"; then
    ok "the spec with its keys reversed resumes with nothing to run"
else
    fail "the reversed spec: exit $rc"; tail -n 5 "$TMP/rev.err"
fi

finish "the protocol in one spec: tasks x splits x methods x per-method lambdas x seeds + baselines"
