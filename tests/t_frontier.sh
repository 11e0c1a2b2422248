#!/bin/sh
# tests/t_frontier.sh: the frontier files end to end (issues 6, 11), on fast fake sweeps: a
# stand-in tune (written below, as tests/t_sweep.sh uses tests/fake_tune.sh) makes records
# with a known accuracy / log-PPL trade-off, a prompt with commas, quotes and a newline,
# failing points, and (issue 11) dev accuracies that disagree with test on two
# configurations, a dev objective that prefers a seed other than the best on test, a
# collapsed run, a prompt that does not round-trip and one record of the old schema.
#   - a finished sweep writes points.csv, frontier.csv, frontier.svg, frontier.json into its
#     output directory (and no temp file is left);
#   - Python's csv module (default dialect) and, where installed, pandas.read_csv (no
#     options) read both CSVs, every row as wide as the header, the columns are the
#     documented ones, the tricky prompt round-trips, failed points are rows, the frontier
#     flags are dev's (test's only in the _test columns), the best seed is the dev
#     objective's, the old record's new cells are empty;
#   - frontier.json parses, says selection dev, lists the failed points, and its
#     hypervolumes are those of the dev-chosen configurations at their test means;
#     frontier.svg is well-formed XML, filled markers are the dev-chosen ones, the collapsed
#     configuration is marked;
#   - `sweep frontier DIR --out OUT` gives the same CSV and SVG bytes; it works while a
#     sweep runs (pending points) and on a journal with a torn tail; usage errors exit 2, a
#     missing journal or an unwritable output exit 1 and leave nothing behind;
#   - issue 13, on a journal written here the way the sweep writes one: the research protocol (2
#     tasks x 3 few-shot splits x pez (x pez.lr), rlprompt, soft x per-method lambdas x 2 seeds,
#     2 manual baselines, the empty prompt one of them): a configuration per point minus its
#     replicate keys (the header's "replicates"), statistics over splits x seeds with n_ok,
#     n_splits, n_seeds, a pez.lr and a prompt column, every method in a colour of its own and
#     the baselines as labelled markers; a header naming only "seed" makes the split a
#     configuration key; a malformed "replicates" exits 1;
#   - issue 15 (the section of that name below): metadata, the plot's marks, frontier.tex;
#   - the reference log-PPL ln V follows the vocabulary the records carry: a sweep of the real
#     tune on a model whose vocabulary is not GPT-2's (50304, GPT-2's padded to a multiple of
#     64) has records saying 50304 and a frontier.json whose reference is ln 50304.
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

[ -x "$SWEEP" ] || { echo "FAIL: $SWEEP is not built"; exit 1; }
[ -x "$GPT2" ] && [ -x "$TUNE" ] || { echo "FAIL: $GPT2 or $TUNE is not built (make builds them)"; exit 1; }
need_tokenizer
need_data
need_python "to read the files"
need_mpirun "$SWEEP" --help

# ---------------------------------------------------------------------------
# a model (the spec needs one to validate the points and hash), the stand-in tune, the spec

M=$TMP/model
"$GPT2" init --layers 1 --heads 1 --embd 8 --positions 16 --seed 1 --tokenizer "$TOKENIZER_DIR" --out "$M" \
    >/dev/null 2>"$TMP/err" || { echo "FAIL: gpt2 init: $(cat "$TMP/err")"; exit 1; }
printf 'great\nmovie\n' >"$TMP/words"

# The record of a point: accuracy falls and log-PPL falls as lambda grows (a trade-off);
# rlprompt is better than pez at lambda 1; seed 999 fails; FAKE_SLOW seconds per point.
# Dev accuracy is test's except for pez 0.5 (worse on dev: off dev's frontier, on test's) and
# rlprompt 0.5 (worse on test: on dev's frontier, off test's). The dev objective prefers seed 2
# (test prefers seed 3); rlprompt 1 seed 1 is collapsed; the 0.5 seed 2 prompt does not
# round-trip; pez 0 seed 3 is a record of the old schema (tune 1: none of issue 11's fields).
cat >"$TMP/fake_tune.py" <<'EOF'
import json, os, sys, time
p = json.loads(sys.stdin.read())
time.sleep(float(os.environ.get("FAKE_SLOW", "0")))
seed, lam, method = p["seed"], p["lambda"], p["method"]
if seed == 999:
    sys.stderr.write("fake tune: failing on purpose\n")
    sys.exit(3)
noise = ((seed * 37) % 7 - 3) / 200.0
acc = 0.62 + 0.25 * (1 - lam) + noise + (0.06 * lam if method == "rlprompt" else 0)
lp = 4.0 + 4.0 * (1 - lam) + noise * 10 + (0.5 if method == "rlprompt" else 0)
dev = acc - (0.2 if (method, lam) == ("pez", 0.5) else 0)
test = acc - (0.2 if (method, lam) == ("rlprompt", 0.5) else 0)
text = {(0.5, 2): 'It was, "really"\ngood', (1, 1): " caf\u00e9 \u03bb, fine"}.get((lam, seed), " great movie")
rec = {"point": p, "status": "ok", "error": None, "prompt": {"ids": [1, 2, 3], "text": text},
       "accuracy": {"train": 0.9, "dev": round(dev, 6), "test": round(test, 6)}, "dev_reward": 0.1,
       "log_ppl": lp, "ppl": 2.718281828459045 ** lp, "dict_share": 0.5 + lam / 4,
       "faithfulness": {"acc_continuous": round(test + 0.01, 6), "acc_projected": round(test, 6), "kl": 0.002},
       "steps": 10, "best_step": 5, "wall_seconds": 0.01, "history": [], "versions": {"tune": "fake tune 1"}}
if (method, lam, seed) != ("pez", 0, 3):   # the fields of tune 2 (issue 11)
    collapsed = (method, lam, seed) == ("rlprompt", 1, 1)
    share = [0.97, 0.03] if collapsed else [0.55, 0.45]
    roundtrip = (lam, seed) != (0.5, 2)
    rec["prompt"].update({"text_ids": [1, 2, 3], "roundtrip": roundtrip, "roundtrip_share": 1.0 if roundtrip else 0.75})
    rec["accuracy"]["test_text"] = round(test - 0.01, 6)
    rec["balanced_accuracy"] = {"train": 0.9, "dev": round(dev, 6), "test": round(test, 6)}
    rec["class_accuracy"] = {"train": [None, 0.9], "dev": [0.5, 0.75], "test": [0.5, 0.25]}
    rec["prediction_share"] = {"train": [0.5, 0.5], "dev": [0.5, 0.5], "test": share}
    rec["collapsed"] = collapsed
    total = 1.0 + lam * lp + {1: 0.3, 2: 0.0, 3: 0.2}[seed]
    rec["objective"] = {"split": "dev", "form": "additive", "lambda": lam, "w_task": 1.0, "w_interp": lam,
                        "task": total - lam * lp, "interp": lp, "total": total}
    rec["task_loss"] = {"train": 0.3, "dev": 0.4, "test": 0.5}
    rec["distinct_share"] = 1.0
    rec["vocab_size"] = 50257
    rec["versions"]["tune"] = "fake tune 2"
print(json.dumps(rec))
EOF
cat >"$TMP/fake_tune" <<EOF
#!/bin/sh
exec "$PY" "$TMP/fake_tune.py"
EOF
chmod +x "$TMP/fake_tune"

# spec FILE OUT SEEDS
spec() {
    cat >"$1" <<EOF
{"model": "$M", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$2",
 "grid": {"method": ["pez", "rlprompt"], "lambda": [0, 0.5, 1], "prompt_length": [3], "seed": $3}, "empty_baseline": false,
 "point": {"dictionary": "$TMP/words"}, "tune": "$TMP/fake_tune", "timeout_seconds": 60, "retries": 0}
EOF
}

run() {   # run NAME ARGS...: mpirun -n 2 the sweep; sets rc
    name=$1; shift
    # shellcheck disable=SC2086
    timeout 170 mpirun $LAUNCH -x FAKE_SLOW -x OPENBLAS_NUM_THREADS -n 2 "$SWEEP" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
}

# ---------------------------------------------------------------------------
# a finished sweep writes the four files

export FAKE_SLOW=0
spec "$TMP/s.json" "$TMP/s" "[1, 2, 3, 999]"
run s "$TMP/s.json"
if [ "$rc" -eq 0 ] && grep -q "^sweep: frontier: 24 points (18 ok, 6 failed, 0 pending), 6 configurations" "$TMP/s.err"; then
    ok "finished sweep: $(grep '^sweep: frontier' "$TMP/s.err" | cut -c1-120)"
else
    fail "finished sweep: exit $rc"; tail -n 5 "$TMP/s.err"
fi
for f in points.csv frontier.csv frontier.svg frontier.json; do
    [ -s "$TMP/s/$f" ] || fail "no $f"
done
leftover=$(find "$TMP/s" -name '.*' -type f | head -n 3)
[ -z "$leftover" ] && ok "no temp files left" || fail "temp files left: $leftover"

# ---------------------------------------------------------------------------
# what Python reads

"$PY" - "$TMP/s" <<'EOF' && ok "csv, json and svg read back as documented" || fail "reading the files back"
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]

def rows(name):
    with open(f"{d}/{name}", newline="", encoding="utf-8") as f:
        r = list(csv.reader(f))   # the default dialect: excel, RFC 4180
    assert all(len(x) == len(r[0]) for x in r), (name, {len(x) for x in r})
    return [dict(zip(r[0], x)) for x in r[1:]], r[0]

points, head = rows("points.csv")
assert head == ["id", "task", "method", "lambda", "prompt_length", "seed", "status", "attempts", "error",
                "acc_test", "acc_dev", "acc_train", "acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train",
                "class_acc_test", "class_acc_dev", "class_acc_train", "majority_share_test", "collapsed",
                "obj_task", "obj_interp", "obj_total", "log_ppl", "ppl", "dict_share", "distinct_share",
                "acc_continuous", "acc_projected", "faith_gap", "faith_kl", "steps", "best_step", "wall_seconds",
                "roundtrip", "roundtrip_share", "prompt_ids", "prompt"], head
assert len(points) == 24
prompts = {(p["method"], p["lambda"], p["seed"]): p["prompt"] for p in points}
assert prompts[("pez", "0.5", "2")] == 'It was, "really"\ngood', repr(prompts[("pez", "0.5", "2")])
assert prompts[("rlprompt", "1.0", "1")] == " caf\u00e9 \u03bb, fine"
assert prompts[("pez", "0.0", "1")] == " great movie"
failed = [p for p in points if p["status"] == "failed"]
assert len(failed) == 6 and all(p["seed"] == "999" and "failing on purpose" in p["error"] and p["acc_test"] == ""
                                for p in failed), failed
ok = [p for p in points if p["status"] == "ok"]
assert all(abs(float(p["faith_gap"]) - 0.01) < 1e-9 and p["prompt_ids"] == "1 2 3" for p in ok)
pt = {(p["method"], p["lambda"], p["seed"]): p for p in ok}
new = ["acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train", "class_acc_test", "class_acc_dev",
       "class_acc_train", "majority_share_test", "collapsed", "obj_task", "obj_interp", "obj_total",
       "distinct_share", "roundtrip", "roundtrip_share"]
old = pt[("pez", "0.0", "3")]   # the record of the old schema: its new cells empty, the rest there
assert all(old[k] == "" for k in new) and old["acc_dev"] and old["acc_test"], old
assert all(p[k] != "" for p in ok if p is not old for k in new)
x = pt[("rlprompt", "1.0", "1")]
assert x["collapsed"] == "1" and x["majority_share_test"] == "0.97", x
x = pt[("pez", "0.5", "2")]
assert x["collapsed"] == "0" and x["roundtrip"] == "0" and x["roundtrip_share"] == "0.75", x
assert x["class_acc_test"] == "0.5 0.25" and x["class_acc_train"] == "nan 0.9" and x["distinct_share"] == "1.0", x
assert abs(float(x["acc_dev"]) - (float(x["acc_test"]) - 0.2)) < 1e-6, x
assert abs(float(x["obj_total"]) - (1 + 0.5 * float(x["log_ppl"]))) < 1e-9, x

configs, head = rows("frontier.csv")
metrics = ["acc_test", "acc_dev", "acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train", "log_ppl", "ppl", "dict_share",
           "distinct_share", "faith_gap", "faith_kl", "obj_total"]
assert head == (["task", "method", "lambda", "prompt_length", "n_ok", "n_splits", "n_seeds", "n_failed", "n_pending"]
                + [f"{m}_{s}" for m in metrics for s in ("mean", "sd", "ci95")]
                + ["class_acc_test_mean", "class_acc_dev_mean", "class_acc_train_mean", "n_collapsed", "n_roundtrip",
                   "on_frontier", "ci_overlaps_frontier", "on_frontier_all", "ci_overlaps_frontier_all",
                   "on_frontier_test", "on_frontier_all_test", "best_seed", "best_prompt"]), head
assert len(configs) == 6
c = {(x["method"], x["lambda"]): x for x in configs}
assert all(x["n_ok"] == "3" and x["n_seeds"] == "3" and x["n_splits"] == "1" and x["n_failed"] == "1"
           and x["n_pending"] == "0" for x in configs)
# the means: acc 0.62 + 0.25 (1 - lambda) (+ 0.06 lambda for rlprompt), seed noise (-1, 1, 3)/200
noise = sum(((s * 37) % 7 - 3) / 200 for s in (1, 2, 3)) / 3
assert abs(float(c[("pez", "0.0")]["acc_test_mean"]) - (0.87 + noise)) < 1e-6
assert abs(float(c[("pez", "0.5")]["acc_dev_mean"]) - (0.545 + noise)) < 1e-6
# chosen on dev: pez 0.5 is off its frontier (worse on dev), on test's; rlprompt 0.5 the other way
keys = [("pez", "0.0"), ("pez", "0.5"), ("pez", "1.0"), ("rlprompt", "0.0"), ("rlprompt", "0.5"), ("rlprompt", "1.0")]
def flags(col):
    return "".join(c[k][col] for k in keys)
assert flags("on_frontier") == "101111", flags("on_frontier")
assert flags("on_frontier_test") == "111101", flags("on_frontier_test")
# across methods: rlprompt 0 ties pez 0 in accuracy at a worse log-PPL; on test rlprompt 0.5 falls behind pez 0.5
assert flags("on_frontier_all") == "101011", flags("on_frontier_all")
assert flags("on_frontier_all_test") == "111001", flags("on_frontier_all_test")
# best seed: the dev objective's (seed 2), not test's best (seed 3)
assert all(x["best_seed"] == "2" for x in configs), [x["best_seed"] for x in configs]
assert c[("pez", "0.5")]["best_prompt"] == 'It was, "really"\ngood'
assert flags("n_collapsed") == "000001" and c[("rlprompt", "0.5")]["n_roundtrip"] == "2"
assert c[("pez", "0.0")]["class_acc_test_mean"] == "0.5 0.25" and c[("pez", "0.0")]["n_roundtrip"] == "2"
sd = float(c[("pez", "0.0")]["acc_test_sd"]); ci = float(c[("pez", "0.0")]["acc_test_ci95"])
assert abs(ci - 4.302652729749462 * sd / 3 ** 0.5) < 1e-9, (sd, ci)
for x in configs:
    float(x["log_ppl_mean"]); float(x["ppl_mean"]); float(x["dict_share_mean"]); float(x["faith_kl_mean"])
    float(x["obj_total_mean"]); float(x["acc_test_text_mean"])

j = json.load(open(f"{d}/frontier.json"))
assert j["selection"] == "dev" and j["code_version"]["report"] == "frontier 3 (issue 13)", j["code_version"]
assert j["replicate_keys"] == ["seed", "split", "data"] and j["varying_keys"] == [], (j["replicate_keys"], j["varying_keys"])
assert len(j["spec_sha256"]) == 64 and len(j["model_sha256"]) == 64, j["spec_sha256"]
assert j["points"] == {"total": 24, "ok": 18, "failed": 6, "pending": 0, "collapsed": 1}, j["points"]
assert len(j["failed"]) == 6 and all(f["seed"] == 999 and f["error"] for f in j["failed"])
assert sorted(j["code_version"]["tune"]) == ["fake tune 1", "fake tune 2"] and j["code_version"]["journal_format"] == 2
assert j["reference"]["tasks"]["sst-2"]["chance_accuracy"] == 0.5
assert [f["method"] for f in j["frontiers"]] == ["all", "pez", "rlprompt"]
assert all(f["hypervolume"] > 0 and f["per_seed_hypervolume"]["n"] == 3 for f in j["frontiers"])
for k in ("selection", "acc_dev", "acc_test_text", "roundtrip", "collapsed", "obj_total", "best_seed", "on_frontier_test"):
    assert k in j["definitions"], k

def hv(pts, ra=0.5, rl=j["reference"]["log_ppl"]):   # the union of the boxes, by a sweep over log-PPL
    area, best = 0.0, ra
    pts = sorted((l, a) for a, l in pts if a > ra and l < rl)
    for i, (l, a) in enumerate(pts):
        best = max(best, a)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else rl
        area += (nxt - l) * (best - ra)
    return area
for g in j["frontiers"]:
    mine = [x for x in configs if g["method"] in ("all", x["method"])]
    col = "on_frontier_all" if g["method"] == "all" else "on_frontier"
    dev_chosen = [x for x in mine if x[col] == "1"]
    test_chosen = [x for x in mine if x[col + "_test"] == "1"]
    assert len(g["frontier"]) == len(dev_chosen) and len(g["test_chosen"]["frontier"]) == len(test_chosen), g
    at_test = [(float(x["acc_test_mean"]), float(x["log_ppl_mean"])) for x in dev_chosen]
    at_dev = [(float(x["acc_dev_mean"]), float(x["log_ppl_mean"])) for x in dev_chosen]
    assert abs(g["hypervolume"] - hv(at_test)) < 1e-9, (g["method"], g["hypervolume"], hv(at_test))
    assert abs(g["hypervolume_dev"] - hv(at_dev)) < 1e-9, (g["method"], g["hypervolume_dev"], hv(at_dev))
    tc = [(float(x["acc_test_mean"]), float(x["log_ppl_mean"])) for x in test_chosen]
    assert abs(g["test_chosen"]["hypervolume"] - hv(tc)) < 1e-9
    for p in g["frontier"]:
        assert {"lambda", "prompt_length", "n_seeds", "n_collapsed", "acc_dev_mean", "acc_test_mean", "acc_test_ci95",
                "log_ppl_mean", "log_ppl_ci95"} <= set(p), p
pez = j["frontiers"][1]
assert pez["test_chosen"]["hypervolume"] > pez["hypervolume"]   # test's choice looks better on test: of course

svg = ET.parse(f"{d}/frontier.svg").getroot()
assert svg.tag == "{http://www.w3.org/2000/svg}svg", svg.tag
texts = "".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
assert "\u03bb=0.5" in texts and "pez" in texts and "rlprompt" in texts and "3 seeds per point" in texts, texts
assert "6 failed runs" in texts
assert "frontier chosen on dev, plotted at test means (selection: dev)" in texts
assert "collapsed: 1 run (1 point)" in texts and "95% of test predicted as one label" in texts, texts
# markers in the plot (left of the legend): filled = on its method's frontier chosen on dev
ns = "{http://www.w3.org/2000/svg}"
markers = [e for e in svg.iter(ns + "circle") if float(e.get("cx")) < 700]
assert len(markers) == 6 and sum(e.get("fill") != "#fff" for e in markers) == 5, [e.get("fill") for e in markers]
marks = [g for g in svg.iter(ns + "g") if g.get("class") == "collapsed" and g.find(ns + "title") is not None]
assert len(marks) == 1 and "1 of 3 seeds" in marks[0].find(ns + "title").text, len(marks)
EOF

# pandas, where the machine has it (Debian: python3-pandas): read_csv without options
if "$PY" -c 'import pandas' 2>/dev/null; then
    "$PY" - "$TMP/s" <<'EOF' && ok "pandas.read_csv reads both CSVs without options" || fail "pandas.read_csv"
import pandas as pd, sys
d = sys.argv[1]
p, f = pd.read_csv(f"{d}/points.csv"), pd.read_csv(f"{d}/frontier.csv")
assert p.shape == (24, 39) and f.shape == (6, 61), (p.shape, f.shape)
assert p.loc[(p.method == "pez") & (p["lambda"] == 0.5) & (p.seed == 2), "prompt"].iloc[0] == 'It was, "really"\ngood'
assert p.loc[(p.method == "pez") & (p["lambda"] == 0) & (p.seed == 1), "prompt"].iloc[0] == " great movie"
assert p["acc_test"].isna().sum() == 6 and p["acc_test"].dtype.kind == "f"
assert all(f[c].dtype.kind == "f" for c in f.columns if c.endswith(("_mean", "_sd", "_ci95")) and not c.startswith("class_acc_"))
assert p["obj_total"].isna().sum() == 7 and p["class_acc_test"].dropna().eq("0.5 0.25").all()
assert (f["best_seed"] == 2).all() and list(f["on_frontier"]) == [1, 0, 1, 1, 1, 1] and f["n_collapsed"].sum() == 1
EOF
else
    skip_check "no pandas here (python3-pandas, install-deps.sh installs it): pandas.read_csv did not run"
fi

# ---------------------------------------------------------------------------
# sweep frontier: the same files again; usage; errors

"$SWEEP" frontier "$TMP/s" --out "$TMP/again/deeper" 2>"$TMP/again.err"
if [ $? -eq 0 ] && cmp -s "$TMP/s/points.csv" "$TMP/again/deeper/points.csv" &&
    cmp -s "$TMP/s/frontier.csv" "$TMP/again/deeper/frontier.csv" && cmp -s "$TMP/s/frontier.svg" "$TMP/again/deeper/frontier.svg"; then
    ok "sweep frontier DIR --out OUT: the same CSV and SVG bytes"
else
    fail "sweep frontier --out differs"; cat "$TMP/again.err"
fi
"$SWEEP" frontier --help | grep -q "points.csv" && ok "frontier --help" || fail "frontier --help"
"$SWEEP" frontier >/dev/null 2>&1; [ $? -eq 2 ] && ok "no DIR: exit 2" || fail "no DIR: not exit 2"
"$SWEEP" frontier "$TMP/s" --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown option: exit 2" || fail "unknown option"
"$SWEEP" frontier "$TMP/nowhere" 2>"$TMP/nowhere.err"
[ $? -eq 1 ] && grep -q "no sweep journal" "$TMP/nowhere.err" && ok "no journal: exit 1: $(cat "$TMP/nowhere.err")" ||
    fail "no journal: $(cat "$TMP/nowhere.err")"
# an output directory the user cannot write. Root writes anywhere, so as root the case runs as
# the user nobody (setpriv), on copies of the journal and the program in a directory nobody can
# read: the scratch directory is private to root.
ro_base=$TMP
as_user=""
if [ "$(id -u)" -eq 0 ]; then
    # /tmp, not $TMPDIR: nobody must be able to reach it, and a private TMPDIR would hide it
    ro_base=$(mktemp -d /tmp/t_frontier-ro.XXXXXX)
    chmod 755 "$ro_base"
    cp -r "$TMP/s" "$ro_base/s" && cp "$SWEEP" "$ro_base/sweep" && chmod -R a+rX "$ro_base"
    as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
mkdir -p "$ro_base/ro"
chmod 555 "$ro_base/ro"
ro_sweep=$SWEEP
[ -n "$as_user" ] && ro_sweep=$ro_base/sweep
# shellcheck disable=SC2086 # as_user is a command and its options, or nothing
$as_user "$ro_sweep" frontier "$ro_base/s" --out "$ro_base/ro" 2>"$TMP/ro.err"
[ $? -eq 1 ] && [ -z "$(ls -A "$ro_base/ro")" ] && grep -q "ermission" "$TMP/ro.err" &&
    ok "unwritable output${as_user:+ (as nobody)}: exit 1, nothing left: $(cat "$TMP/ro.err")" ||
    fail "unwritable output: $(cat "$TMP/ro.err")"
chmod 755 "$ro_base/ro"
[ "$ro_base" = "$TMP" ] || rm -rf "$ro_base"
mkdir -p "$TMP/blocked/points.csv"   # a directory where a file must go: the rename fails, as root too
"$SWEEP" frontier "$TMP/s" --out "$TMP/blocked" 2>"$TMP/blocked.err"
if [ $? -eq 1 ] && [ "$(ls -A "$TMP/blocked")" = "points.csv" ]; then
    ok "a file that cannot be replaced: exit 1, no other file and no temp file left: $(cut -c1-100 "$TMP/blocked.err")"
else
    fail "blocked output: $(ls -A "$TMP/blocked")"; cat "$TMP/blocked.err"
fi
printf 'x' >"$TMP/file"
"$SWEEP" frontier "$TMP/s" --out "$TMP/file/sub" 2>"$TMP/notdir.err"
[ $? -eq 1 ] && ok "output under a file: exit 1: $(cat "$TMP/notdir.err")" || fail "output under a file"

# a torn journal: the frames before the tear
cp -r "$TMP/s" "$TMP/torn"
size=$(stat -c %s "$TMP/torn/journal")
truncate -s $((size - 5)) "$TMP/torn/journal"
"$SWEEP" frontier "$TMP/torn" 2>"$TMP/torn.err"
if [ $? -eq 0 ] && grep -q "damaged" "$TMP/torn.err" && grep -q '"journal_damage":\s*"' "$TMP/torn/frontier.json"; then
    ok "torn journal: $(grep -o '[0-9]* points ([^)]*)' "$TMP/torn.err")"
else
    fail "torn journal"; cat "$TMP/torn.err"
fi

# ---------------------------------------------------------------------------
# while a sweep runs: pending points, and the sweep still finishes and rewrites the files

export FAKE_SLOW=0.4
spec "$TMP/live.json" "$TMP/live" "[1, 2, 3]"
# shellcheck disable=SC2086
timeout 170 mpirun $LAUNCH -x FAKE_SLOW -x OPENBLAS_NUM_THREADS -n 2 "$SWEEP" "$TMP/live.json" >/dev/null 2>"$TMP/live.err" &
job=$!
seen=""
for _ in $(seq 100); do
    st=$("$SWEEP" status "$TMP/live" 2>/dev/null)
    case $st in *" done 0 "*|"") ;; *" pending 0 "*) break ;; *)
        "$SWEEP" frontier "$TMP/live" --out "$TMP/live-mid" 2>"$TMP/live-mid.err" && seen=$(grep -o '[0-9]* points ([^)]*)' "$TMP/live-mid.err")
        break ;;
    esac
    sleep 0.2
done
wait "$job"
lrc=$?
case $seen in
    *" 0 pending"*|"") fail "no report with pending points while the sweep ran: '$seen'" ;;
    *) ok "while the sweep runs: $seen" ;;
esac
[ "$lrc" -eq 0 ] && grep -q "^sweep: frontier: 18 points (18 ok, 0 failed, 0 pending)" "$TMP/live.err" &&
    ok "the sweep then finished and wrote its own" || { fail "live sweep: exit $lrc"; tail -n 3 "$TMP/live.err"; }

# ---------------------------------------------------------------------------
# the reference follows the records' vocabulary: manual prompts (no training) scored by the real
# tune on a model of 50304 tokens

MV=$TMP/model-50304
"$GPT2" init --layers 1 --heads 1 --embd 8 --positions 64 --vocab 50304 --seed 1 --tokenizer "$TOKENIZER_DIR" \
    --out "$MV" >/dev/null 2>"$TMP/err" || { echo "FAIL: gpt2 init: $(cat "$TMP/err")"; exit 1; }
cat >"$TMP/vocab.json" <<EOF
{"model": "$MV", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$TMP/vocab",
 "grid": {"method": ["manual"], "seed": [1, 2]}, "empty_baseline": false,
 "point": {"prompt": " It was", "dictionary": "$TMP/words", "max_tokens": 32, "max_test": 20},
 "tune": "$TUNE", "timeout_seconds": 120, "retries": 0}
EOF
run vocab "$TMP/vocab.json"
if [ "$rc" -eq 0 ] && "$SWEEP" export "$TMP/vocab" >"$TMP/vocab.jsonl" && "$PY" - "$TMP/vocab" "$MV" <<'EOF'
import json, math, sys
out, model = sys.argv[1], sys.argv[2]
V = json.load(open(model + "/config.json"))["vocab_size"]
assert V == 50304, V
recs = [json.loads(l) for l in open(out + ".jsonl")]
assert len(recs) == 2 and all(r["status"] == "ok" and r["vocab_size"] == V for r in recs), recs
ref = json.load(open(out + "/frontier.json"))["reference"]
assert ref["vocab_size"] == V and abs(ref["log_ppl"] - math.log(V)) < 1e-12, ref
assert "records" in ref["vocab_source"], ref
EOF
then
    ok "records say the model's vocabulary (50304), and the reference is ln 50304"
else
    fail "the vocabulary of the records (exit $rc)"; tail -n 5 "$TMP/vocab.err"
fi

# ---------------------------------------------------------------------------
# issue 13: a journal of the research protocol, written here frame by frame as the sweep writes
# one (results.h: PJF1 frames, CRC32, zlib records), with the header's "replicates"

cat >"$TMP/journal13.py" <<'EOF'
import hashlib, json, struct, sys, zlib
out, replicates = sys.argv[1], json.loads(sys.argv[2])
def frame(kind, payload):
    head = struct.pack("<BI", kind, len(payload))
    return b"PJF1" + head + struct.pack("<I", zlib.crc32(head + payload)) + payload
header = {"spec_sha256": "a" * 64, "version": 2, "created": 1700000000, "model_sha256": "b" * 64}
if replicates is not None:
    header["replicates"] = replicates
frames, results = [frame(1, json.dumps(header).encode())], []
splits = ["16-13", "16-42", "16-87"]
verbalizers = {"sst-2": [" terrible", " great"], "agnews": [" world", " sports", " business", " tech"]}
def add(point, acc, lp, text):
    pid = hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()
    frames.append(frame(2, json.dumps({"id": pid, "index": len(frames) - 1, "point": point}).encode()))
    rec = {"point": point, "status": "ok", "error": None, "prompt": {"ids": [1, 2], "text": text},
           "accuracy": {"train": 0.9, "dev": acc, "test": acc}, "log_ppl": lp, "ppl": 2.718281828459045 ** lp,
           "dict_share": 0.5, "faithfulness": {"acc_continuous": acc, "acc_projected": acc, "kl": 0.0},
           "steps": 10, "best_step": 5, "wall_seconds": 0.1, "history": [], "vocab_size": 50257,
           "collapsed": False, "versions": {"tune": "tune 2 (issue 11)"}}
    raw = json.dumps(rec).encode()
    results.append(frame(4, b"\0" + pid.encode() + struct.pack("<II", len(raw), zlib.crc32(raw)) + zlib.compress(raw)))
for task in ("sst-2", "agnews"):
    for s, split in enumerate(splits):
        # tune's point names a split's files ("data"); a point may also say data_dir + split
        where = ({"data": {"train": f"/d/{task}/{split}/train.tsv", "dev": f"/d/{task}/{split}/dev.tsv",
                           "test": f"/d/{task}/test.tsv"}} if task == "sst-2" else
                 {"data_dir": f"/d/{task}", "split": split})
        base = dict(task=task, verbalizers=verbalizers[task], **where)
        for seed in (1, 2):
            noise = 0.02 * s + 0.01 * seed
            for lam in (0, 0.5):
                for lr in (0.1, 0.3):
                    add(dict(base, method="pez", prompt_length=5, seed=seed, pez={"lr": lr, "steps": 100}, **{"lambda": lam}),
                        0.8 - 0.2 * lam + lr / 10 + noise, 6 - 4 * lam, " great movie")
            for lam in (0, 1):
                add(dict(base, method="rlprompt", prompt_length=5, seed=seed, **{"lambda": lam}),
                    0.78 - 0.1 * lam + noise, 5.5 - 2 * lam, " absolutely")
            add(dict(base, method="soft", prompt_length=5, seed=seed, **{"lambda": 0.1}), 0.85 + noise, 9.0, " soft")
        for prompt, acc, lp in ((" It was", 0.6, 3.0), ("", 0.55, 0.0)):
            add(dict(base, method="manual", prompt=prompt, seed=1, **{"lambda": 0}), acc + 0.02 * s, lp, prompt)
with open(out + "/journal", "wb") as f:
    f.write(b"".join(frames + results))
EOF
mkdir -p "$TMP/p13" "$TMP/p13seed" "$TMP/p13bad"
"$PY" "$TMP/journal13.py" "$TMP/p13" '["seed", "split"]' && "$PY" "$TMP/journal13.py" "$TMP/p13seed" '["seed"]' &&
    "$PY" "$TMP/journal13.py" "$TMP/p13bad" '"seed"' || fail "writing the issue-13 journals"
"$SWEEP" frontier "$TMP/p13" 2>"$TMP/p13.err" &&
    grep -q "^sweep: frontier: 96 points (96 ok, 0 failed, 0 pending), 18 configurations" "$TMP/p13.err" &&
    ok "issue 13 protocol: $(cut -c1-110 "$TMP/p13.err")" || { fail "issue 13 protocol"; cat "$TMP/p13.err"; }
"$PY" - "$TMP/p13" <<'EOF' && ok "issue 13: statistics over splits x seeds, key columns, baselines on the plot" ||
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
def rows(name):
    with open(f"{d}/{name}", newline="", encoding="utf-8") as f:
        r = list(csv.reader(f))
    assert all(len(x) == len(r[0]) for x in r), (name, {len(x) for x in r})
    return [dict(zip(r[0], x)) for x in r[1:]], r[0]
configs, head = rows("frontier.csv")
assert head[:9] == ["task", "method", "lambda", "prompt_length", "pez.lr", "prompt", "n_ok", "n_splits", "n_seeds"], head
assert len(configs) == 18 and {x["method"] for x in configs} == {"pez", "rlprompt", "soft", "manual"}
for x in configs:
    want = ("3", "3", "1") if x["method"] == "manual" else ("6", "3", "2")
    assert (x["n_ok"], x["n_splits"], x["n_seeds"]) == want, x
pez = [x for x in configs if x["method"] == "pez" and x["task"] == "sst-2"]
assert sorted((x["lambda"], x["pez.lr"]) for x in pez) == [("0.0", "0.1"), ("0.0", "0.3"), ("0.5", "0.1"), ("0.5", "0.3")]
x = [x for x in pez if x["lambda"] == "0.0" and x["pez.lr"] == "0.3"][0]
accs = [0.8 + 0.03 + 0.02 * s + 0.01 * seed for s in range(3) for seed in (1, 2)]   # over the 6 runs
assert abs(float(x["acc_test_mean"]) - sum(accs) / 6) < 1e-9, x["acc_test_mean"]
manual = {(x["task"], x["prompt"]): x for x in configs if x["method"] == "manual"}
assert set(manual) == {(t, p) for t in ("sst-2", "agnews") for p in (" It was", "")}, set(manual)
assert manual[("sst-2", "")]["log_ppl_mean"] == "0.0" and manual[("sst-2", "")]["on_frontier_all"] == "1"
assert all(x["pez.lr"] == "" for x in configs if x["method"] != "pez")
points, phead = rows("points.csv")
assert phead[:11] == ["id", "task", "method", "lambda", "prompt_length", "data.dev", "data.train", "pez.lr", "prompt",
                      "split", "seed"], phead
assert {p["split"] for p in points if p["task"] == "agnews"} == {"16-13", "16-42", "16-87"}
assert {p["data.train"] for p in points if p["task"] == "sst-2"} == {f"/d/sst-2/{s}/train.tsv" for s in ("16-13", "16-42", "16-87")}
j = json.load(open(f"{d}/frontier.json"))
assert j["replicate_keys"] == ["seed", "split", "data"] and j["varying_keys"] == ["pez.lr", "prompt"], j["varying_keys"]
g = [g for g in j["frontiers"] if g["task"] == "agnews" and g["method"] == "pez"][0]
ps = g["per_seed_hypervolume"]
runs = {(s, p) for s in (1, 2) for p in ("16-13", "16-42", "16-87")}
assert ps["n"] == 6 and {(r["seed"], r["split"]) for r in ps["replicates"]} == runs, ps
assert all({"keys", "n_ok", "n_splits", "n_seeds"} <= set(p) for p in g["frontier"])
assert j["reference"]["tasks"]["agnews"]["chance_accuracy"] == 0.25
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(f"{d}/frontier.svg").getroot()
texts = [t.text or "" for t in svg.iter(ns + "text")]
assert sum(t == "manual prompts (baselines)" for t in texts) == 2 and not any(t.startswith("manual (") for t in texts), texts
assert sum(t == "(empty prompt)" for t in texts) == 2 and sum(t == "\u201c It was\u201d" for t in texts) == 2, texts
assert sum("mean over runs (split \u00d7 seed) per (method, \u03bb, prompt length, pez.lr)" in t for t in texts) == 2
assert sum(t == "3 to 6 runs per point" for t in texts) == 2, [t for t in texts if "per point" in t]
base = [e for e in svg.iter(ns + "path") if e.get("class") == "baseline" and e.find(ns + "title") is not None]
assert len(base) == 4 and all(e.get("stroke") == "#333" for e in base), len(base)
fills = {c.get("fill") for c in svg.iter(ns + "circle") if float(c.get("cx")) > 700 and c.get("fill") not in ("#555", "#fff")}
assert fills == {"#1f77b4", "#d62728", "#2ca02c"}, fills   # pez, rlprompt, soft: a colour each, none for manual
EOF
    fail "issue 13: the files of the protocol's journal"
"$SWEEP" frontier "$TMP/p13seed" 2>"$TMP/p13seed.err" && "$PY" - "$TMP/p13seed" <<'EOF' &&
import csv, json, sys
d = sys.argv[1]
with open(f"{d}/frontier.csv", newline="", encoding="utf-8") as f:
    r = list(csv.reader(f))
head, configs = r[0], [dict(zip(r[0], x)) for x in r[1:]]
assert head[4:9] == ["data.dev", "data.train", "pez.lr", "prompt", "split"], head
assert len(configs) == 54 and all(x["n_splits"] == "1" for x in configs), len(configs)
assert json.load(open(f"{d}/frontier.json"))["replicate_keys"] == ["seed"]
EOF
    ok "issue 13: the header's replicates [\"seed\"] make the split a configuration key (54 configurations)" ||
    { fail "issue 13: replicates [seed]"; cat "$TMP/p13seed.err"; }
"$SWEEP" frontier "$TMP/p13bad" 2>"$TMP/p13bad.err"
[ $? -eq 1 ] && grep -q '"replicates" must be an array' "$TMP/p13bad.err" && [ ! -e "$TMP/p13bad/frontier.csv" ] &&
    ok "a header whose replicates is not a list: exit 1: $(cat "$TMP/p13bad.err")" ||
    fail "malformed replicates: $(cat "$TMP/p13bad.err")"

# ---------------------------------------------------------------------------
# issue 15: what a paper needs, on a sweep of a stand-in tune whose records carry run,
# data_files and model (a random init), with prompt lengths 3 and 5, rlprompt at lambda 1 giving
# identical results for every seed, and a baseline whose prompt holds every LaTeX special
# character, non-ASCII text, a tab and a control character. The spec has name, description, tags:
#   - the journal header says them ("about") and the run that made it ("runs": code version,
#     host, the command line, 2 ranks); frontier.json repeats both, and "reproduce" lists the
#     records' code versions, hosts, OpenBLAS, precisions, models (shape, random init) and data;
#   - the plot: the name in the title, the model (sha256 prefix, shape) and the data (split,
#     sizes, test examples scored) under it, the random init in red and across the plot,
#     squares for L5 (the legend says so), dashed rings on the identical configurations, the
#     n=1 baselines faded with their n;
#   - frontier.tex: one booktabs table, a row per frontier.csv configuration, bold exactly on
#     the frontier across methods, mean +- CI as frontier.csv's, the nasty prompt escaped; it
#     compiles with pdflatex (texlive-latex-base, texlive-latex-recommended: install-deps.sh)

cat >"$TMP/fake_tune15.py" <<'EOF'
import json, sys
p = json.loads(sys.stdin.read())
lam, seed, L, method = p["lambda"], p["seed"], p.get("prompt_length", 0), p["method"]
acc = 0.6 + 0.1 * (1 - lam) + 0.01 * seed + (0.02 if L == 5 else 0)
lp = 3.0 + 4.0 * (1 - lam) + 0.1 * seed
text = " great movie"
if method == "rlprompt" and lam == 1:   # every seed the same: no spread
    acc, lp, text = 0.58 + (0.02 if L == 5 else 0), 2.5, " same"
if method == "manual":
    acc, lp, text = 0.55, (2.0 if p["prompt"] else 0.0), p["prompt"]
rec = {"point": p, "status": "ok", "error": None, "prompt": {"ids": [1, 2], "text": text},
       "accuracy": {"train": 0.9, "dev": acc, "test": acc}, "dev_reward": 0.1, "log_ppl": lp,
       "ppl": 2.718281828459045 ** lp, "dict_share": 0.5,
       "faithfulness": {"acc_continuous": acc, "acc_projected": acc, "kl": 0.0},
       "steps": 10, "best_step": 5, "wall_seconds": 0.1, "history": [], "vocab_size": 50257, "collapsed": False,
       "versions": {"tune": "fake tune 15", "model_sha256": "c" * 64},
       "run": {"code_version": "v1-test", "host": "node-a", "command": ["tune", "--quiet", "-"],
               "openblas_core": "Haswell", "openblas_threads": 1, "openblas_coretype": None},
       "data_files": {"train": {"sha256": "1" * 64, "examples": 32}, "dev": {"sha256": "2" * 64, "examples": 32},
                      "test": {"sha256": "3" * 64, "examples": 1821, "scored": 100}},
       "model": {"n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 128, "random_init": True}}
print(json.dumps(rec))
EOF
printf '#!/bin/sh\nexec "%s" "%s"\n' "$PY" "$TMP/fake_tune15.py" >"$TMP/fake_tune15"
chmod +x "$TMP/fake_tune15"
"$PY" - "$TMP/s15.json" "$M" "$DATA" "$TMP" <<'EOF'
import json, sys
out, model, data, tmp = sys.argv[1:5]
nasty = 'x_1 % & # $ { } ~ ^ \\ "q" <a>|b -- `` !` caf\u00e9 \u4e2d\u6587 \U0001F600\ttab\u0001end  two  spaces '
spec = {"name": "issue 15 check: name_with %&", "description": "the paper side", "tags": ["test", "issue-15"],
        "model": model, "task": "sst-2", "data_dir": data, "split": "16-42", "out": tmp + "/s15",
        "grid": {"method": ["pez", "rlprompt"], "lambda": [0, 1], "prompt_length": [3, 5], "seed": [1, 2, 3]},
        "baselines": [nasty], "point": {"dictionary": tmp + "/words", "max_test": 100},
        "tune": tmp + "/fake_tune15", "timeout_seconds": 60, "retries": 0}
json.dump(spec, open(out, "w"))
EOF
run s15 "$TMP/s15.json"
if [ "$rc" -eq 0 ] && [ -s "$TMP/s15/frontier.tex" ]; then
    ok "issue 15 sweep: $(grep '^sweep: frontier' "$TMP/s15.err" | cut -c1-100)"
else
    fail "issue 15 sweep: exit $rc"; tail -n 5 "$TMP/s15.err"
fi
"$PY" - "$TMP/s15" "$SWEEP" "$TMP/s15.json" <<'EOF' && ok "issue 15: journal header, frontier.json (about, runs, reproduce), the plot's words and marks" ||
import json, re, socket, struct, sys, xml.etree.ElementTree as ET
d, sweep, spec = sys.argv[1:4]
b = open(d + "/journal", "rb").read()
n = struct.unpack_from("<I", b, 5)[0]
h = json.loads(b[13:13 + n])
about = {"name": "issue 15 check: name_with %&", "description": "the paper side", "tags": ["test", "issue-15"]}
assert h["about"] == about, h
run = h["runs"][0]
assert len(h["runs"]) == 1 and run["ranks"] == 2 and run["command"] == [sweep, spec], h["runs"]
assert run["host"] == socket.gethostname() and re.fullmatch(r"[A-Za-z0-9._+/-]+", run["code_version"]), run
j = json.load(open(d + "/frontier.json"))
assert j["about"] == about and j["runs"] == h["runs"], (j["about"], j["runs"])
r = j["reproduce"]
assert r["code_versions"] == ["v1-test"] and r["hosts"] == ["node-a"] and r["precisions"] == ["f32"], r
assert r["openblas"] == [{"core": "Haswell", "threads": 1, "coretype_env": None}], r["openblas"]
assert r["models"] == [{"n_layer": 2, "n_head": 4, "n_embd": 64, "n_positions": 128, "random_init": True,
                        "sha256": "c" * 64, "vocab_size": 50257}], r["models"]
assert len(r["data"]) == 1 and r["data"][0]["split"] == "16-42" and r["data"][0]["test"]["scored"] == 100, r["data"]
assert "frontier.tex" in j["files"], j["files"]
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(d + "/frontier.svg").getroot()
texts = ["".join(t.itertext()) for t in svg.iter(ns + "text")]
def has(s):
    return any(s in t for t in texts)
assert has("issue 15 check: name_with %& \u2014 sst-2"), texts[:3]
assert has("RANDOM-INIT MODEL (untrained, gpt2 init)"), texts[:5]
assert has("model sha256 cccccccccccc\u2026 \u00b7 2 layers, 4 heads, n_embd 64, 128 positions, V 50257"), texts[:5]
assert has("data: split 16-42 \u00b7 train 32, dev 32 examples \u00b7 test: 100 of 1821 scored"), texts[:5]
assert has("marker: prompt length L") and "L3" in texts and "L5" in texts, texts
assert len([e for e in svg.iter(ns + "text") if e.get("class") == "random-init"]) == 1
rects = [e for e in svg.iter(ns + "rect") if e.get("width") == e.get("height") and float(e.get("width")) < 12]
assert len(rects) >= 5, len(rects)   # 4 configurations at L5, and the legend's square
rings = [e for e in svg.iter(ns + "circle") if e.get("class") == "identical"]
assert len(rings) == 2, len(rings)   # rlprompt lambda 1, L3 and L5
few = [e for e in svg.iter(ns + "g") if e.get("class") == "few-runs"]
assert len(few) == 2 and has("(empty prompt) (n=1)"), (len(few), [t for t in texts if "n=" in t])
EOF
    fail "issue 15: metadata and plot"
"$PY" - "$TMP/s15" <<'EOF' && ok "issue 15: frontier.tex rows, bold frontier, mean +- CI as frontier.csv's, the prompt escaped" ||
import csv, sys
d = sys.argv[1]
with open(d + "/frontier.csv", newline="", encoding="utf-8") as f:
    configs = list(csv.DictReader(f))
tex = open(d + "/frontier.tex", encoding="utf-8").read()
assert tex.count("\\begin{table}") == 1 and "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
assert "\\caption{issue 15 check: name\\_with \\%\\&: sst{-}2." in tex, tex[:800]
body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0].strip().split("\n")
assert len(body) == len(configs) == 10, (len(body), len(configs))
def fmt(mean, ci, digits):
    s = "%.*f" % (digits, float(mean))
    return s + (" $\\pm$ %.*f" % (digits, float(ci)) if ci else "")
for row, c in zip(body, configs):
    front = c["on_frontier_all"] == "1"
    assert row.startswith("\\textbf{" if front else "{") and row.count("\\textbf{") == (7 if front else 0), row
    identical = c["n_ok"] != "1" and c["acc_test_sd"] == "0.0" and c["log_ppl_sd"] == "0.0"
    for mean, ci, digits in (("acc_dev_mean", "acc_dev_ci95", 3), ("acc_test_mean", "acc_test_ci95", 3),
                             ("log_ppl_mean", "log_ppl_ci95", 2)):
        want = ("%.*f$^{=}$" % (digits, float(c[mean]))) if identical else fmt(c[mean], c[ci], digits)
        assert "{" + want + "}" in row, (want, row)
nasty = [r for r in body if "promptchar" in r]
assert len(nasty) == 1, nasty
want = ('\\texttt{"x\\_1\\ \\%\\ \\&\\ \\#\\ \\$\\ \\{\\ \\}\\ \\textasciitilde{}\\ \\textasciicircum{}\\ \\textbackslash{}\\ '
        '"q"\\ {<}a{>}|b\\ {-}{-}\\ {`}{`}\\ !{`}\\ caf\\promptchar{00E9}{\u00e9}\\ \\promptchar{4E2D}{\u4e2d}'
        '\\promptchar{6587}{\u6587}\\ \\promptchar{1F600}{\U0001F600}\\promptchar{0009}{}tab\\promptchar{0001}{}end\\ \\ '
        'two\\ \\ spaces\\ "}')
assert want in nasty[0], nasty[0]
EOF
    fail "issue 15: frontier.tex"
if command -v pdflatex >/dev/null 2>&1; then
    mkdir -p "$TMP/tex"
    printf '\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{%s}\n\\end{document}\n' \
        "$TMP/s15/frontier.tex" >"$TMP/tex/doc.tex"
    if (cd "$TMP/tex" && timeout 120 pdflatex -interaction=nonstopmode -halt-on-error doc.tex >pdflatex.out 2>&1) &&
        [ -s "$TMP/tex/doc.pdf" ] && ! grep -q "^!" "$TMP/tex/doc.log"; then
        ok "frontier.tex compiles with pdflatex (booktabs)"
    else
        fail "frontier.tex does not compile:"; grep -A3 "^!" "$TMP/tex/doc.log" | head -n 8
    fi
else
    skip_check "pdflatex is not installed (texlive-latex-base texlive-latex-recommended): frontier.tex not compiled"
fi

# under AddressSanitizer: no leak through sweep/ or results/
leaks=$(lsan_leaks 'sweep/|results/' "$TMP"/*.err)
if [ -n "$leaks" ]; then fail "memory leaked:"; echo "$leaks" | head -n 30; fi

finish "all frontier cases pass"
