#!/bin/sh
# tests/t_sweep_halving.sh: successive halving across configurations (issue 16) on a scripted
# objective (tests/fake_tune.sh FAKE_TUNE_BEND: λ traces a bend, prompt length 5 is dominated by
# length 3 at the same λ; instant points):
#   - λ {0, 0.1, 1} x prompt length {3, 5} x seeds {1, 2}, 12 steps, "halving": {"eta": 6,
#     "rungs": 2}: every configuration runs 2 steps first; with eta = the 6 configurations the
#     promotion waits for all of them, and promotes exactly the non-dominated set of their dev
#     means (computed here from the rung-0 records): the length-3 configurations; their top-rung
#     points are the grid's own points (the ids of a sweep without halving) with 12 steps;
#     the frontier files are drawn from the top rung alone; -n 2 and -n 4 journal the same
#     points; a kill -9 mid-run and the same command give the uninterrupted run's export;
#   - eta 2, one worker: asynchronous, a promotion is journaled before the last rung-0 result
#     (no rung waits to fill), and every configuration reaching the top is non-dominated among
#     those complete when it was promoted;
#   - a spec without "halving" on a halved journal is refused (exit 2).
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

bend_sweep
M=$TMP/model

# spec FILE OUT [HALVING]
spec() {
    cat >"$1" <<EOF
{"model": "$M", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$2",
 "grid": {"method": ["pez"], "lambda": [0, 0.1, 1], "prompt_length": [3, 5], "seed": [1, 2]},
 "pez": {"steps": 12}, "point": {"max_test": 8, "dictionary": "$TMP/words"},
 "tune": "$TMP/tune.sh", "timeout_seconds": 60 ${3-, \"halving\": {\"eta\": 6, \"rungs\": 2\}}}
EOF
}

# ---------------------------------------------------------------------------
# eta = every configuration: the non-dominated set is promoted

spec "$TMP/plain.json" "$TMP/plain" ""
sweep_run plain 2 "$TMP/plain.json"
[ "$rc" -eq 0 ] || fail "the sweep without halving: exit $rc: $(tail -2 "$TMP/plain.err")"
for n in 2 4; do
    spec "$TMP/h$n.json" "$TMP/h$n"
    sweep_run "h$n" $n "$TMP/h$n.json"
    if [ "$rc" -eq 0 ] && "$SWEEP" export "$TMP/h$n" >"$TMP/h$n.jsonl" && "$SWEEP" export "$TMP/plain" >"$TMP/plain.jsonl" &&
        "$PY" - "$TMP/h$n.jsonl" "$TMP/plain.jsonl" "$TMP/h$n/frontier.csv" <<'EOF'; then
import csv, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
plain = {r["id"]: r for r in (json.loads(l) for l in open(sys.argv[2]))}
tuned = [r for r in recs if r["point"]["method"] == "pez"]
rung0 = [r for r in tuned if r["point"]["pez"]["steps"] == 2]
top = [r for r in tuned if r["point"]["pez"]["steps"] == 12]
assert len(rung0) == 12 and len(rung0) + len(top) == len(tuned), (len(rung0), len(top), len(tuned))
cfg = lambda r: (r["point"]["lambda"], r["point"]["prompt_length"])
means = {}
for r in rung0:
    means.setdefault(cfg(r), []).append((r["accuracy"]["dev"], r["log_ppl"]))
means = {c: (sum(a for a, _ in v) / len(v), sum(l for _, l in v) / len(v)) for c, v in means.items()}
front = {c for c, (a, l) in means.items()
         if not any(b >= a and m <= l and (b > a or m < l) for d, (b, m) in means.items() if d != c)}
assert front == {(0, 3), (0.1, 3), (1, 3)}, front
assert {cfg(r) for r in top} == front and len(top) == 2 * len(front), sorted(cfg(r) for r in top)
# the top rung's points are the grid's: the same ids and records as without halving
for r in top:
    assert r["id"] in plain and plain[r["id"]]["point"] == r["point"], r["id"]
# the frontier from the top rung alone: 3 tuned configurations and the empty baseline, all 12-step
rows = list(csv.DictReader(open(sys.argv[3])))
assert {(float(x["lambda"]), int(x["prompt_length"])) for x in rows if x["method"] == "pez"} == front, rows
# the export names each halved run's rung; frontier.json says how many lower-rung runs it left out
assert all(r["halving_rung"] == (0 if r["point"]["pez"]["steps"] == 2 else 1) for r in tuned), "halving_rung"
assert json.load(open(sys.argv[3].replace("frontier.csv", "frontier.json")))["halving_lower_rung_runs_left_out"] == 12
EOF
        ok "-n $n: eta 6 promotes the non-dominated configurations, whose top rung is the grid's points"
    else
        fail "-n $n: halving (exit $rc): $(grep -a halving "$TMP/h$n.err" | head -3) $(tail -2 "$TMP/h$n.err")"
    fi
    journal_frames "$TMP/h$n" | awk '$1 == "P" { print $2, $3, $4 }' | sort >"$TMP/h$n.points"
done
cmp -s "$TMP/h2.points" "$TMP/h4.points" && ok "-n 2 and -n 4 journal the same points" ||
    fail "-n 2 and -n 4 journal other points: $(diff "$TMP/h2.points" "$TMP/h4.points" | head -3)"
normalized "$TMP/h2" | sort >"$TMP/h2.norm"
"$SWEEP" status "$TMP/h2" >"$TMP/status.txt" && "$SWEEP" status --json "$TMP/h2" >"$TMP/status.json" &&
    grep -q "^halving: points by rung 0: 12, 1: 6 (the top: the frontier's)" "$TMP/status.txt" &&
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["halving_per_rung"] == [12, 6] and d["refined_per_round"] == [], d' "$TMP/status.json" &&
    ok "status: the halved points by rung (text and --json)" || fail "status of a halved sweep: $(cat "$TMP/status.txt")"

# kill -9 once rung 0 is under way, then the same command
spec "$TMP/k.json" "$TMP/k"
# shellcheck disable=SC2016 # the condition is evaluated there
sweep_kill_when "$TMP/k.json" 3 0.5 '[ "$(journal_frames "$TMP/k" 2>/dev/null | grep -c "^R")" -ge 3 ]' ||
    fail "kill: rung 0 did not get under way in 60 s"
sweep_run k2 3 "$TMP/k.json"
if [ "$rc" -eq 0 ] && normalized "$TMP/k" | sort >"$TMP/k.norm" && cmp -s "$TMP/h2.norm" "$TMP/k.norm"; then
    ok "kill -9 during rung 0 and the same command: the uninterrupted run's export"
else
    fail "kill -9 and resume (exit $rc): $(tail -2 "$TMP/k2.err"); $(diff "$TMP/h2.norm" "$TMP/k.norm" 2>&1 | head -3)"
fi

# ---------------------------------------------------------------------------
# eta 2, one worker: promotions as results come in

sed 's/"eta": 6/"eta": 2/; s|"out": "[^"]*"|"out": "'"$TMP/a"'"|' "$TMP/h2.json" >"$TMP/a.json"
sweep_run a 2 "$TMP/a.json"
if [ "$rc" -eq 0 ] && journal_frames "$TMP/a" >"$TMP/a.frames" && "$SWEEP" export "$TMP/a" >"$TMP/a.jsonl" &&
    "$PY" - "$TMP/a.frames" "$TMP/a.jsonl" >"$TMP/a.promoted" <<'EOF'; then
import json, sys
frames = [l.split() for l in open(sys.argv[1])]
recs = {r["id"]: r for r in (json.loads(l) for l in open(sys.argv[2]))}
rung = {f[1]: int(f[2]) for f in frames if f[0] == "P"}
order = [f for f in frames if f[0] == "P" and f[2] == "1" or f[0] == "R"]
first_promotion = next(i for i, f in enumerate(order) if f[0] == "P")
last_rung0 = max(i for i, f in enumerate(order) if f[0] == "R" and rung.get(f[1]) == 0)
assert first_promotion < last_rung0, "no promotion before the last rung-0 result: not asynchronous"
# replay: when a configuration was promoted, it was non-dominated among the complete ones then
cfg = lambda r: (r["point"]["lambda"], r["point"]["prompt_length"])
done, complete = {}, {}
for f in frames:
    if f[0] == "R" and rung.get(f[1]) == 0:
        r = recs[f[1]]
        done.setdefault(cfg(r), []).append((r["accuracy"]["dev"], r["log_ppl"]))
        if len(done[cfg(r)]) == 2:
            v = done[cfg(r)]
            complete[cfg(r)] = (sum(a for a, _ in v) / 2, sum(l for _, l in v) / 2)
    if f[0] == "P" and f[2] == "1":
        c = cfg(recs[f[1]])
        a, l = complete[c]
        assert len(complete) >= 2, "promoted with %d complete" % len(complete)
        assert not any(b >= a and m <= l and (b > a or m < l) for d, (b, m) in complete.items() if d != c), (c, complete)
print(len({cfg(recs[i]) for i, r in rung.items() if r == 1}))
EOF
    ok "eta 2: promotions as results come in, each non-dominated when made ($(cat "$TMP/a.promoted") of 6 configurations promoted)"
else
    fail "eta 2 (exit $rc): $(tail -3 "$TMP/a.err")"
fi

# ---------------------------------------------------------------------------
# a halved journal needs the spec's "halving"

sed 's/, "halving": {"eta": 6, "rungs": 2}//' "$TMP/h2.json" >"$TMP/nohalving.json"
sweep_run nohalving 2 "$TMP/nohalving.json"
[ "$rc" -eq 2 ] && grep -q 'successive halving .* the spec no "halving"\|the spec no longer has point' "$TMP/nohalving.err" &&
    ok "a spec without halving on a halved journal: exit 2" ||
    fail "a spec without halving on a halved journal: exit $rc: $(tail -2 "$TMP/nohalving.err")"

finish "successive halving: the non-dominated configurations promoted, the top rung the grid's, asynchronous with eta 2"
