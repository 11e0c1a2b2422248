#!/bin/sh
# tests/t_sweep_adaptive.sh: adaptive sweeps (issue 16), frontier-guided λ refinement, on a
# scripted objective (tests/fake_tune.sh FAKE_TUNE_BEND: dev accuracy and log-PPL follow λ
# along a bend, instant points):
#   - a grid of 4 λs x 2 seeds with "adaptive": {"points": 6} adds 3 rounds of one λ each (both
#     seeds), every round's λ the one the rule gives on the records before it, recomputed here
#     in Python from the export (an independent implementation of results/refine.c's rule);
#     the baselines (manual prompts) are left alone;
#   - -n 2 and -n 8 add the same points (same ids, same rounds);
#   - kill -9 of the whole job while a refined round runs, then the same command: the final
#     export equals the uninterrupted run's;
#   - a journal cut after the first frame of a round (a kill while journaling it): the resume
#     completes the round with the same points and the export is the uninterrupted run's;
#   - resuming a journal with refined points from a spec without "adaptive" is refused (exit 2), and
#     so is --shard with an adaptive spec.
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

bend_sweep
M=$TMP/model

# spec FILE OUT [ADAPTIVE]: pez x λ [0, 0.01, 1, 100] x seeds [1, 2], plus the empty baseline
spec() {
    cat >"$1" <<EOF
{"model": "$M", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$2",
 "grid": {"method": ["pez"], "lambda": [0, 0.01, 1, 100], "prompt_length": [3], "seed": [1, 2]},
 "pez": {"steps": 4}, "point": {"max_test": 8, "dictionary": "$TMP/words"},
 "tune": "$TMP/tune.sh", "timeout_seconds": 60 ${3-, \"adaptive\": {\"points\": 6\}}}
EOF
}

# check_rule EXPORT: 8 grid points, the baseline, 3 rounds of 2 points each, each round's λ the rule's
check_rule() {
    "$PY" - "$1" <<'EOF'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
tuned = [r for r in recs if r["point"]["method"] == "pez"]
manual = [r for r in recs if r["point"]["method"] == "manual"]
assert len(manual) == 1 and "refined_round" not in manual[0], manual
rounds = sorted({r.get("refined_round", 0) for r in tuned})
assert rounds == [0, 1, 2, 3], rounds
assert sum(1 for r in tuned if r.get("refined_round", 0) == 0) == 8

def rule(rs):
    """results/refine.c's rule, written again: the λ for the family's largest splittable gap."""
    by = {}
    for r in rs:
        by.setdefault(r["point"]["lambda"], []).append(r)
    lams = sorted(by)
    pts = []
    for l in lams:
        ok = [r for r in by[l] if r["status"] == "ok"]
        if ok:
            pts.append((sum(r["log_ppl"] for r in ok) / len(ok), sum(r["accuracy"]["dev"] for r in ok) / len(ok), l))
    front = [p for p in pts if not any(q[1] >= p[1] and q[0] <= p[0] and q != p for q in pts)]
    front.sort()
    gaps = sorted(((b[0] - a[0]) * (b[1] - a[1]), -k, a[2], b[2]) for k, (a, b) in enumerate(zip(front, front[1:])))
    smallest = min(l for l in lams if l > 0)
    for g, _, la, lb in reversed(gaps):
        if g <= 0:
            continue
        lo, hi = min(la, lb), max(la, lb)
        inside = [l for l in lams if lo <= l <= hi]
        best, width = None, math.log(1.1)
        for a, b in zip(inside, inside[1:]):
            a_log = a if a > 0 else smallest / 10
            w = math.log(b / a_log)
            mid = float("%.6g" % math.sqrt(a_log * b))
            if w > width and a < mid < b:
                best, width = mid, w
        if best is not None:
            return best
    return None

for k in (1, 2, 3):
    before = [r for r in tuned if r.get("refined_round", 0) < k]
    added = [r for r in tuned if r.get("refined_round", 0) == k]
    want = rule(before)
    got = sorted({r["point"]["lambda"] for r in added})
    assert got == [want], "round %d added %s, the rule gives %s" % (k, got, want)
    assert sorted(r["point"]["seed"] for r in added) == [1, 2], added
    assert all(r["status"] == "ok" for r in added)
print("rounds:", [sorted({r["point"]["lambda"] for r in tuned if r.get("refined_round", 0) == k}) for k in (1, 2, 3)])
EOF
}

# the refined points of an export: "round id" lines
refined_ids() {
    "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "refined_round" in r:
        print(r["refined_round"], r["id"])' "$1" | sort
}

# ---------------------------------------------------------------------------
# the refinement, -n 2 and -n 8

for n in 2 8; do
    spec "$TMP/a$n.json" "$TMP/a$n"
    sweep_run "a$n" $n "$TMP/a$n.json"
    if [ "$rc" -eq 0 ] && "$SWEEP" export "$TMP/a$n" >"$TMP/a$n.jsonl" && check_rule "$TMP/a$n.jsonl" >"$TMP/a$n.rule"; then
        ok "-n $n: 3 rounds, each λ the rule's ($(cat "$TMP/a$n.rule"))"
    else
        fail "-n $n: the refinement (exit $rc): $(tail -3 "$TMP/a$n.err")"
    fi
done
grep -q "refinement: round 4 adds no point (6 of 6 added: the budget is spent)" "$TMP/a2.err" ||
    fail "no line says the budget is spent: $(grep refinement "$TMP/a2.err")"
refined_ids "$TMP/a2.jsonl" >"$TMP/a2.ids"
refined_ids "$TMP/a8.jsonl" >"$TMP/a8.ids"
[ -s "$TMP/a2.ids" ] && cmp -s "$TMP/a2.ids" "$TMP/a8.ids" && ok "-n 2 and -n 8 add the same points" ||
    fail "-n 2 and -n 8 added other points: $(diff "$TMP/a2.ids" "$TMP/a8.ids" | head -4)"
normalized "$TMP/a2" | sort >"$TMP/a2.norm"
# status shows what the refinement added
"$SWEEP" status "$TMP/a2" >"$TMP/status.txt" && "$SWEEP" status --json "$TMP/a2" >"$TMP/status.json" &&
    grep -q "^refinement: 6 points added in 3 rounds (round 1: 2, round 2: 2, round 3: 2)" "$TMP/status.txt" &&
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["refined_per_round"] == [2, 2, 2] and d["halving_per_rung"] == [], d' "$TMP/status.json" &&
    ok "status: the refined points by round (text and --json)" || fail "status of a refined sweep: $(cat "$TMP/status.txt")"
# the plot marks the 3 refined λs (one configuration each), and says so in the legend
[ "$(grep -c 'class="refined"' "$TMP/a2/frontier.svg")" -eq 3 ] && grep -q "+: λ added by refinement (3)" "$TMP/a2/frontier.svg" &&
    ok "the plot marks the refined configurations" || fail "the plot's refined marks: $(grep -c 'class="refined"' "$TMP/a2/frontier.svg")"

# ---------------------------------------------------------------------------
# kill -9 while a refined round runs (slow points), then the same command

spec "$TMP/k.json" "$TMP/k"
# shellcheck disable=SC2016 # the condition is evaluated there
if ! sweep_kill_when "$TMP/k.json" 3 1 'grep -aq "\"refined\"" "$TMP/k/journal" 2>/dev/null && sleep 0.5'; then
    fail "kill: no refined round began in 60 s: $(tail -3 "$TMP/killed.err")"
else
    grep -aq '"round":3,' "$TMP/k/journal" && fail "kill: the run had reached round 3 before the kill"
    sweep_run k2 3 "$TMP/k.json"
    if [ "$rc" -eq 0 ] && normalized "$TMP/k" | sort >"$TMP/k.norm" && cmp -s "$TMP/a2.norm" "$TMP/k.norm"; then
        ok "kill -9 while round 1 ran: the resumed export is the uninterrupted run's"
    else
        fail "kill -9 and resume (exit $rc): $(tail -2 "$TMP/k2.err"); $(diff "$TMP/a2.norm" "$TMP/k.norm" 2>&1 | head -3)"
    fi
fi

# ---------------------------------------------------------------------------
# a round cut short: the journal of the finished run up to the first frame of round 2

cp -r "$TMP/a2" "$TMP/cut"
rm -f "$TMP/cut/"*.csv "$TMP/cut/"*.svg "$TMP/cut/"*.json
end=$(journal_frames "$TMP/cut" | awk '$1 == "P" && $4 == 2 { print $5; exit }')
if [ -z "$end" ]; then
    fail "cut: no frame of round 2 in the journal"
else
    truncate -s "$end" "$TMP/cut/journal"
    sed "s|\"out\": \"$TMP/a2\"|\"out\": \"$TMP/cut\"|" "$TMP/a2.json" >"$TMP/cut.json"
    sweep_run cut 2 "$TMP/cut.json"
    if [ "$rc" -eq 0 ] && grep -q "refinement round 2 was cut short (1 of its 2 points journaled): completing it" "$TMP/cut.err" &&
        normalized "$TMP/cut" | sort >"$TMP/cut.norm" && cmp -s "$TMP/a2.norm" "$TMP/cut.norm"; then
        ok "a round cut short is completed with the same points"
    else
        fail "a round cut short (exit $rc): $(grep -a refinement "$TMP/cut.err" | head -3); $(diff "$TMP/a2.norm" "$TMP/cut.norm" 2>&1 | head -3)"
    fi
fi

# ---------------------------------------------------------------------------
# the journal's refined points need the spec's "adaptive"

spec "$TMP/plain.json" "$TMP/a2" ""
sweep_run plain 2 "$TMP/plain.json"
[ "$rc" -eq 2 ] && grep -q 'holds points λ refinement added .* the spec has no "adaptive"' "$TMP/plain.err" &&
    ok "a spec without adaptive on a refined journal: exit 2" ||
    fail "a spec without adaptive on a refined journal: exit $rc: $(tail -2 "$TMP/plain.err")"

"$SWEEP" --shard 0/2 "$TMP/a2.json" >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "cannot run an adaptive or halving spec" "$TMP/err" && ok "--shard refuses an adaptive spec (exit 2)" ||
    fail "--shard on an adaptive spec: $(cat "$TMP/err")"

finish "adaptive sweeps: refinement by the rule, the same for any rank count, after a kill and a round cut short"
