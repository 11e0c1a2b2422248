#!/bin/sh
# tests/t_tune.sh: the tune program end to end on a tiny random checkpoint.
#   each method (pez, rlprompt, soft) runs a few steps on few-shot SST-2 and prints a complete
#   record (soft: the projection reported, the soft prompt's objective and faithfulness); the
#   empty manual prompt gives the template alone's record (log-PPL 0, PPL 1), the same whichever
#   end of the template [P] is at;
#   the record says what reproduces it (run: code version, host, command line, OpenBLAS;
#   data_files: the splits' sha256 and sizes; model: its shape, random_init true for gpt2 init's
#   weights and false once they are not those the marker names);
#   two runs of a point give identical records except wall_seconds and run; a PEZ point under an
#   activation_mb that splits its batches gives the one batch's record (within 1e-5), one too
#   small a failed record naming it; the point
#   read from stdin gives the same; bad points exit 2 with one message and no
#   record; a run that fails prints a "failed" record (with the model's vocabulary size once the
#   model is loaded) and exits 1; --help / usage; the model's sha256 from TUNE_KNOWN_SHA256 only
#   while the file is unchanged.
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

[ -x "$TUNE" ] && [ -x "$GPT2" ] || { echo "FAIL: $TUNE or $GPT2 is not built (make builds them)"; exit 1; }
need_tokenizer
need_data
need_python "to check the records"

# ---------------------------------------------------------------------------
# a tiny model and the points

M=$TMP/model
"$GPT2" init --layers 2 --heads 2 --embd 32 --positions 256 --std 0.2 --seed 1 \
    --tokenizer "$TOKENIZER_DIR" --out "$M" >/dev/null 2>"$TMP/err" || {
    echo "FAIL: gpt2 init: $(cat "$TMP/err")"; exit 1; }
WORDS=$TMP/words
printf 'great\nmovie\nthe\nbad\ngood\n' >"$WORDS"

COMMON="\"task\":\"sst-2\",\"model\":\"$M\",\"data_dir\":\"$DATA\",\"split\":\"16-42\",\"max_test\":40,\"dictionary\":\"$WORDS\""
cat >"$TMP/pez.json" <<EOF
{"method":"pez",$COMMON,"prompt_length":4,"lambda":0.1,"seed":3,
 "pez":{"steps":4,"batch":4,"eval_every":2}}
EOF
cat >"$TMP/soft.json" <<EOF
{"method":"soft",$COMMON,"prompt_length":4,"lambda":0.1,"seed":3,
 "soft":{"steps":4,"batch":4,"eval_every":2}}
EOF
cat >"$TMP/rl.json" <<EOF
{"method":"rlprompt",$COMMON,"prompt_length":3,"lambda":0.1,"seed":3,
 "rlprompt":{"steps":4,"eval_every":2,"hidden":16,"prompts_per_step":3,"top_k":8}}
EOF

# check_record FILE METHOD PROMPT_LENGTH STEPS EVAL_EVERY: the record's fields and their consistency
check_record() {
    "$PY" - "$@" "$(sha256sum "$M/model.safetensors" | cut -d' ' -f1)" "$TUNE" "$DATA" "$ROOT" <<'EOF'
import hashlib, json, math, os, re, socket, subprocess, sys
path, method, L, steps, every, sha = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
tune, data, root = sys.argv[7:10]
with open(path) as f:
    text = f.read()
assert text.count("\n") == 1 and text.endswith("}\n"), "not one line of JSON"
r = json.loads(text)
keys = ["point", "status", "error", "prompt", "accuracy", "balanced_accuracy", "class_accuracy", "prediction_share",
        "collapsed", "task_loss", "objective", "dev_reward", "log_ppl", "ppl", "dict_share", "distinct_share",
        "faithfulness", "steps", "stop_reason", "best_step", "wall_seconds", "history", "vocab_size", "versions",
        "run", "data_files", "model"]
assert list(r) == keys, "record keys %s" % list(r)
# what reproduces the run (issue 15)
run = r["run"]
assert list(run) == ["code_version", "host", "command", "openblas_core", "openblas_threads", "openblas_coretype"], run
# the build's `git describe --always --dirty` (the Makefile bakes it in): in a checkout a
# commit's, never the fallback
assert re.fullmatch(r"[A-Za-z0-9._+/-]+", run["code_version"]), run
if subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True).returncode == 0:
    head = subprocess.run(["git", "-C", root, "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert run["code_version"] != "unknown" and re.search(r"g?[0-9a-f]{7,}", run["code_version"]), (run, head)
assert run["host"] == socket.gethostname(), run
assert run["command"] == [tune, path[:-len(".1")] + ".json"], run  # check_record's records: `tune X.json`
assert run["openblas_core"] and run["openblas_threads"] >= 1, run
assert run["openblas_coretype"] == os.environ.get("OPENBLAS_CORETYPE"), run
files = r["data_files"]
for k, n in (("train", 32), ("dev", 32), ("test", None)):
    f = files[k]
    want = hashlib.sha256(open(os.path.join(data, "test.tsv" if k == "test" else "16-42/%s.tsv" % k), "rb").read()).hexdigest()
    assert f["sha256"] == want, (k, f, want)
    assert f["examples"] == n if n else f["examples"] >= 40, (k, f)
assert files["test"]["scored"] == 40, files  # max_test
assert list(files["test"]) == ["sha256", "examples", "scored"] and list(files["dev"]) == ["sha256", "examples"], files
assert r["model"] == {"n_layer": 2, "n_head": 2, "n_embd": 32, "n_positions": 256, "random_init": True}, r["model"]
assert r["status"] == "ok" and r["error"] is None, (r["status"], r["error"])
p = r["point"]
assert p["method"] == method and p["prompt_length"] == L and p["task"] == "sst-2", p
assert list(p) == sorted(p), "point keys not sorted"
ids = r["prompt"]["ids"]
assert len(ids) == L and all(0 <= i < 50257 and i != 50256 for i in ids), ids
pr = r["prompt"]
assert isinstance(pr["text"], str) and isinstance(pr["text_ids"], list) and pr["text_ids"], pr
assert 0 <= pr["roundtrip_share"] <= 1 and pr["roundtrip"] == (pr["roundtrip_share"] == 1), pr
assert abs(pr["roundtrip_share"] * 40 - round(pr["roundtrip_share"] * 40)) < 1e-9, pr
assert 0 <= r["accuracy"]["test_text"] <= 1
if pr["roundtrip"]:  # the text is the ids, row for row: the same accuracy
    assert r["accuracy"]["test_text"] == r["accuracy"]["test"], r["accuracy"]
assert r["vocab_size"] == 50257, r["vocab_size"]  # the model's: gpt2 init's default vocabulary
assert abs(r["distinct_share"] - len(set(ids)) / L) < 1e-12, r["distinct_share"]
for k, n in (("train", 32), ("dev", 32), ("test", 40)):
    b, c, s_ = r["balanced_accuracy"][k], r["class_accuracy"][k], r["prediction_share"][k]
    assert len(c) == 2 and len(s_) == 2 and abs(sum(s_) - 1) < 1e-12, (k, c, s_)
    assert abs(b - sum(x for x in c if x is not None) / len([x for x in c if x is not None])) < 1e-12, (k, b, c)
    assert r["task_loss"][k] > 0, r["task_loss"]
assert r["collapsed"] == (max(r["prediction_share"]["test"]) >= 0.95), r["collapsed"]
o = r["objective"]
assert o["split"] == "dev" and o["form"] == "additive" and o["lambda"] == 0.1 and o["w_task"] == 1 and o["w_interp"] == 0.1, o
# the objective that chose the prompt: for soft, the soft prompt's task term (below), not its
# projection's (task_loss)
assert (method == "soft" or o["task"] == r["task_loss"]["dev"]) and o["interp"] == r["log_ppl"], o
assert abs(o["total"] - (o["task"] + 0.1 * o["interp"])) < 1e-12, o
for k in ("train", "dev", "test"):
    a = r["accuracy"][k]
    assert 0 <= a <= 1, (k, a)
    # accuracies are counts over the split sizes: 32, 32, and max_test 40
    n = 40 if k == "test" else 32
    assert abs(a * n - round(a * n)) < 1e-9, (k, a)
assert -180 <= r["dev_reward"] <= 200
assert r["log_ppl"] > 0 and abs(r["ppl"] - math.exp(r["log_ppl"])) <= 1e-9 * r["ppl"], (r["log_ppl"], r["ppl"])
assert 0 <= r["dict_share"] <= 1
f = r["faithfulness"]
assert f["acc_projected"] == r["accuracy"]["test"], f
if method == "rlprompt":
    assert f["acc_continuous"] == f["acc_projected"] and f["kl"] == 0, f
else:
    assert 0 <= f["acc_continuous"] <= 1 and f["kl"] >= 0, f
assert r["steps"] == steps and 0 <= r["best_step"] <= steps, (r["steps"], r["best_step"])
assert r["stop_reason"] == "steps", r["stop_reason"]
assert r["wall_seconds"] >= 0
h = r["history"]
# every eval_every steps (a tuner may also record its starting point)
assert steps // every <= len(h) <= steps // every + 1, "history has %d entries" % len(h)
assert [e["step"] for e in h] == sorted(e["step"] for e in h)
for e in h:
    assert list(e) == ["step", "loss", "dev_acc", "dev_task", "log_ppl", "dev_objective", "train_reward"], e
    if method in ("pez", "soft"):
        assert e["train_reward"] == -e["loss"], e
    assert abs(e["dev_objective"] - (e["dev_task"] + 0.1 * e["log_ppl"])) < 1e-12, e
# the chosen step: the lowest dev objective, ties to the lower log-PPL, then the earlier step
best = min(h, key=lambda e: (e["dev_objective"], e["log_ppl"], e["step"]))
assert r["best_step"] == best["step"] and o["total"] == best["dev_objective"], (r["best_step"], best)
assert o["task"] == best["dev_task"] and o["interp"] == best["log_ppl"], (o, best)
assert r["versions"]["model_sha256"] == sha and r["versions"]["tune"], r["versions"]
EOF
}

# same_but_timing A B: equal records once wall_seconds and run (the command line differs) are dropped
same_but_timing() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    r.pop("wall_seconds")
    r.pop("run")
assert a == b, "records differ"
EOF
}

# ---------------------------------------------------------------------------
# runs

for m in pez rl soft; do
    case $m in pez) method=pez L=4 ;; rl) method=rlprompt L=3 ;; soft) method=soft L=4 ;; esac
    if expect 0 "tune $method" "$TUNE" "$TMP/$m.json"; then
        cp "$TMP/out" "$TMP/$m.1"
        check_record "$TMP/$m.1" $method $L 4 2 && ok "$method record" || fail "$method record"
        grep -q "step" "$TMP/err" || fail "$method: no progress lines on stderr"
        grep -q "$(printf '\r')" "$TMP/err" && fail "$method: carriage returns in progress that is not a terminal"
    fi
    if expect 0 "tune $method again" "$TUNE" --quiet "$TMP/$m.json"; then
        [ -s "$TMP/err" ] && fail "$method --quiet wrote to stderr: $(head -n 2 "$TMP/err")"
        same_but_timing "$TMP/$m.1" "$TMP/out" && ok "$method: same point, same record" ||
            fail "$method: two runs differ beyond wall_seconds"
    fi
done
# the point from standard input, with '-' and without an argument
expect 0 "tune - < point" sh -c "\"$TUNE\" -q - < \"$TMP/rl.json\"" &&
    { same_but_timing "$TMP/rl.1" "$TMP/out" || fail "tune - gives another record"; }
expect 0 "tune < point" sh -c "\"$TUNE\" -q < \"$TMP/rl.json\"" &&
    { same_but_timing "$TMP/rl.1" "$TMP/out" || fail "tune from stdin gives another record"; }
# another seed, another run
sed 's/"seed":3/"seed":4/' "$TMP/pez.json" >"$TMP/pez4.json"
# (the class-name init is the same for every seed; the seed draws the batches: other losses)
expect 0 "tune pez seed 4" "$TUNE" -q "$TMP/pez4.json" &&
    "$PY" - "$TMP/pez.1" "$TMP/out" <<'EOF' && ok "seed 4: another run" || fail "seed 4 is not another run"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["point"]["seed"] == 3 and b["point"]["seed"] == 4, (a["point"]["seed"], b["point"]["seed"])
la, lb = [h["loss"] for h in a["history"]], [h["loss"] for h in b["history"]]
assert la != lb, ("the same training losses", la, lb)
EOF

# the activation budget: 2 MB splits this model's PEZ batches in micro-batches and its
# evaluation batches into single rows; the record is the one batch's ("none"): the same prompt,
# accuracies and steps, every number within 1e-5 (the tiny model's products are small enough for
# OpenBLAS to pick other kernels for fewer rows, ~1e-7 apart; at GPT-2's sizes the records are the
# same to the bit, see README "Bounded memory"). 1 MB cannot hold one evaluation row, or one
# example with the log-PPL row: a failed record naming the budget and what it needs
for b in none 2 1; do
    case $b in none) v='"none"' ;; *) v=$b ;; esac
    sed "s/\"seed\":3,/\"seed\":3,\"activation_mb\":$v,/" "$TMP/pez.json" >"$TMP/pez-mb.json"
    want=0
    [ "$b" = 1 ] && want=1
    expect $want "tune pez activation_mb $b" "$TUNE" "$TMP/pez-mb.json" && cp "$TMP/out" "$TMP/pez-mb-$b.out" &&
        cp "$TMP/err" "$TMP/pez-mb-$b.err"
done
grep -q "micro-batches [2-9]" "$TMP/pez-mb-2.err" 2>/dev/null || fail "activation_mb 2: no step in micro-batches on stderr"
grep -q "training batches whole" "$TMP/pez-mb-none.err" 2>/dev/null || fail "activation_mb none: batches not whole"
if [ -s "$TMP/pez-mb-none.out" ] && [ -s "$TMP/pez-mb-2.out" ] && [ -s "$TMP/pez-mb-1.out" ]; then
    "$PY" - "$TMP/pez-mb-none.out" "$TMP/pez-mb-2.out" "$TMP/pez-mb-1.out" <<'EOF' && ok "activation_mb: micro-batches give the one batch's record" ||
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:])
for r in (a, b):
    r.pop("wall_seconds")
    r.pop("run")
def same(x, y, where):
    if isinstance(x, dict):
        assert isinstance(y, dict) and list(x) == list(y), where
        for k in x:
            same(x[k], y[k], where + "." + k)
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            same(u, v, "%s[%d]" % (where, i))
    elif isinstance(x, float) and isinstance(y, float):
        assert abs(x - y) <= 1e-5 * max(1.0, abs(x)), (where, x, y)
    else:
        assert x == y, (where, x, y)
assert a["status"] == "ok", a["error"]
same(a, b, "record")
for k in ("prompt", "accuracy", "steps", "best_step"):
    assert a[k] == b[k], (k, a[k], b[k])
assert c["status"] == "failed" and "activation_mb 1 leaves" in c["error"] and "needs" in c["error"], c["error"]
EOF
        fail "activation_mb: the records differ"
fi

# a manual prompt: scored as given, no training
printf '{"method":"manual",%s,"prompt":" It was"}\n' "$COMMON" >"$TMP/manual.json"
if expect 0 "tune manual" "$TUNE" -q "$TMP/manual.json"; then
    cp "$TMP/out" "$TMP/manual.1"
    "$PY" - "$TMP/out" <<'EOF' && ok "manual record" || fail "manual record: $(head -c 300 "$TMP/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["steps"] == 0 and r["history"] == []
assert r["prompt"]["ids"] == [632, 373] and r["prompt"]["text"] == " It was", r["prompt"]
assert r["point"]["prompt"] == " It was" and "prompt_length" not in r["point"]
assert r["faithfulness"]["kl"] == 0 and 0 <= r["accuracy"]["test"] <= 1
EOF
fi

# the empty manual prompt: the template alone, the baseline every tuned prompt must beat. No
# tokens: log-PPL 0 and PPL 1; with [P] at the start of the template or at its end, the rows are
# the same bare template, so the same record but for the point
for end in start end; do
    case $end in start) tmpl='[P]{sentence} It was' ;; end) tmpl='{sentence} It was[P]' ;; esac
    printf '{"method":"manual",%s,"prompt":"","template":"%s"}\n' "$COMMON" "$tmpl" >"$TMP/empty-$end.json"
    expect 0 "tune manual, empty prompt, [P] at the $end" "$TUNE" -q "$TMP/empty-$end.json" &&
        cp "$TMP/out" "$TMP/empty-$end.out"
done
if [ -s "$TMP/empty-start.out" ] && [ -s "$TMP/empty-end.out" ]; then
    "$PY" - "$TMP/empty-start.out" "$TMP/empty-end.out" <<'EOF' && ok "the empty manual prompt" ||
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for r in (a, b):
    assert r["status"] == "ok" and r["steps"] == 0 and r["history"] == [], r["status"]
    assert r["point"]["prompt"] == "" and "prompt_length" not in r["point"], r["point"]
    assert r["prompt"]["ids"] == [] and r["prompt"]["text"] == "" and r["prompt"]["text_ids"] == [], r["prompt"]
    assert r["log_ppl"] == 0 and r["ppl"] == 1 and r["dict_share"] == 0 and r["distinct_share"] == 0, r
    f = r["faithfulness"]
    assert f["acc_continuous"] == f["acc_projected"] == r["accuracy"]["test"] and f["kl"] == 0, f
    assert r["prompt"]["roundtrip"] and r["accuracy"]["test_text"] == r["accuracy"]["test"], r["accuracy"]
    assert r["objective"]["interp"] == 0 and r["objective"]["total"] == r["task_loss"]["dev"], r["objective"]
for k in ("accuracy", "balanced_accuracy", "class_accuracy", "prediction_share", "task_loss", "dev_reward"):
    assert a[k] == b[k], (k, a[k], b[k])
EOF
        fail "the empty manual prompt: $(head -c 300 "$TMP/empty-start.out")"
fi

# ---------------------------------------------------------------------------
# the model's sha256 from TUNE_KNOWN_SHA256 (the sweep's; sweep.h "Hash once"): taken as given
# while model.safetensors has the line's inode, size, mtime and ctime (a wrong digest in the
# record shows that tune did not hash the file), hashed again once the file is touched; the
# record is otherwise the same

W=$M/model.safetensors
SHA=$(sha256sum "$W" | cut -d' ' -f1)
WRONG=0000000000000000000000000000000000000000000000000000000000000001
known_line() { printf '%s %s %s' "$1" "$(stat -c '%i %s %.9Y %.9Z' "$W")" "$W"; }
# same_but_sha A B SHA: B has model_sha256 SHA and is A otherwise (but wall_seconds)
same_but_sha() {
    "$PY" - "$@" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["versions"]["model_sha256"] == sys.argv[3], b["versions"]
for r in (a, b):
    r.pop("wall_seconds")
    r.pop("run")
    r.pop("model")   # random_init: whether the weights are the marker's, by the digest tune has
    r["versions"].pop("model_sha256")
assert a == b, "records differ"
EOF
}
LINE=$(known_line "$WRONG")
if expect 0 "tune with a wrong known digest and the file's stamp" env TUNE_KNOWN_SHA256="$LINE" "$TUNE" "$TMP/manual.json"; then
    same_but_sha "$TMP/manual.1" "$TMP/out" "$WRONG" && grep -q "model sha256 from TUNE_KNOWN_SHA256" "$TMP/err" &&
        ok "the known digest was used, the file not hashed" ||
        fail "the known digest was not used: $(grep sha256 "$TMP/err")"
fi
if expect 0 "tune with the right known digest" env TUNE_KNOWN_SHA256="other line
$(known_line "$SHA")" "$TUNE" -q "$TMP/manual.json"; then
    same_but_timing "$TMP/manual.1" "$TMP/out" && ok "the right known digest: the same record" ||
        fail "a known digest changed the record"
fi
sleep 0.01
touch "$W"
if expect 0 "tune with the known line of the file before it was touched" env TUNE_KNOWN_SHA256="$LINE" "$TUNE" "$TMP/manual.json"; then
    same_but_sha "$TMP/manual.1" "$TMP/out" "$SHA" && grep -q "model sha256 hashed in" "$TMP/err" &&
        ok "a touched file was hashed again" || fail "a touched file was not hashed again: $(grep sha256 "$TMP/err")"
fi

# ---------------------------------------------------------------------------
# early stopping (patience, min_steps): the run stops after the first evaluation at step >=
# min_steps that ends `patience` evaluations in a row without a better dev objective (the rule
# recomputed here from the record's own history: the scripted objective), reports the steps
# run and "patience", and computes the same history as the run without early stopping up to
# there (the stop changes nothing before it); a point without the keys does not name them in
# its canonical point (its id is the one it had before the keys existed)
for m in pez rl; do
    settings=$( [ $m = pez ] && echo pez || echo rlprompt )
    sed "s/\"steps\":4/\"steps\":40/; s/\"eval_every\":2/\"eval_every\":1/" "$TMP/$m.json" >"$TMP/$m-long.json"
    sed "s/\"$settings\":{/\"$settings\":{\"patience\":3,\"min_steps\":6,/" "$TMP/$m-long.json" >"$TMP/$m-patience.json"
    if "$TUNE" "$TMP/$m-long.json" >"$TMP/$m-long.out" 2>"$TMP/err" &&
        "$TUNE" "$TMP/$m-patience.json" >"$TMP/$m-patience.out" 2>"$TMP/$m-patience.err"; then
        "$PY" - "$TMP/$m-long.out" "$TMP/$m-patience.out" <<'EOF' && ok "$m: patience stops at the step the rule gives" ||
import json, sys
full, early = (json.load(open(p)) for p in sys.argv[1:3])
assert full["steps"] == 40 and full["stop_reason"] == "steps", (full["steps"], full["stop_reason"])
assert "patience" not in json.dumps(full["point"]), "a point without patience names it"
# the rule on the full run's history: improved = a strictly better (J, log-PPL) than the best so far
best, stale, stop = None, 0, None
for e in full["history"]:
    key = (e["dev_objective"], e["log_ppl"])
    stale = 0 if best is None or key < best else stale + 1
    if best is None or key < best:
        best = key
    if stale >= 3 and e["step"] >= 6:
        stop = e["step"]
        break
assert stop is not None and stop < 40, "the scripted objective never stalls for 3 evaluations: %s" % stop
assert early["steps"] == stop and early["stop_reason"] == "patience", (early["steps"], early["stop_reason"], stop)
assert early["history"] == full["history"][:len(early["history"])] and early["history"][-1]["step"] == stop
p = early["point"]
s = p["pez"] if p["method"] == "pez" else p["rlprompt"]
assert s["patience"] == 3 and s["min_steps"] == 6, s
assert early["best_step"] <= stop - 3, (early["best_step"], stop)
EOF
            fail "$m: patience: $(head -c 300 "$TMP/$m-patience.out")"
        grep -q "stopped at step .* (patience)" "$TMP/$m-patience.err" || fail "$m: no stop line on stderr"
    else
        fail "$m: early-stopping runs failed: $(cat "$TMP/err" "$TMP/$m-patience.err" | tail -3)"
    fi
done

# random_init: true only while the weights are those gpt2 init's marker (init.json) names. A
# copy of the model keeps it; with weights that are not the marker's (here: another model's
# marker beside them), or without a marker, the model is not known to be random

random_init_of() { # MODEL_DIR: the manual point's record's model.random_init on that model
    sed "s#\"model\":\"$M\"#\"model\":\"$1\"#" "$TMP/manual.json" >"$TMP/ri.json"
    "$TUNE" -q "$TMP/ri.json" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["model"]["random_init"])'
}
cp -r "$M" "$TMP/copy"
[ "$(random_init_of "$TMP/copy")" = True ] && ok "random_init: a copy of gpt2 init's model" ||
    fail "random_init of a copy of gpt2 init's model: $(random_init_of "$TMP/copy")"
"$GPT2" init --layers 2 --heads 2 --embd 32 --positions 256 --std 0.2 --seed 2 --tokenizer "$TOKENIZER_DIR" \
    --out "$TMP/seed2" >/dev/null 2>&1 || fail "gpt2 init (seed 2)"
cp "$TMP/seed2/init.json" "$TMP/copy/init.json"
[ "$(random_init_of "$TMP/copy")" = False ] && ok "random_init: false beside another model's marker" ||
    fail "random_init with another model's marker: $(random_init_of "$TMP/copy")"
rm "$TMP/copy/init.json"
[ "$(random_init_of "$TMP/copy")" = False ] && ok "random_init: false without a marker" ||
    fail "random_init without a marker: $(random_init_of "$TMP/copy")"

# ---------------------------------------------------------------------------
# bad points: exit 2, one line on stderr naming the problem, nothing on stdout

bad_point() { # description piece json
    what=$1; piece=$2
    printf '%s\n' "$3" >"$TMP/bad.json"
    if expect 2 "bad point: $what" "$TUNE" "$TMP/bad.json"; then
        [ -s "$TMP/out" ] && fail "$what: something on stdout"
        [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$TMP/err")"
        grep -qF -- "$piece" "$TMP/err" || fail "$what: stderr lacks '$piece': $(cat "$TMP/err")"
    fi
}
bad_point "not JSON" "not valid JSON" '{"method":'
bad_point "unknown key" '"lamda"' "{\"method\":\"pez\",$COMMON,\"lamda\":1}"
bad_point "unknown nested key" '"pez.stepz"' "{\"method\":\"pez\",$COMMON,\"pez\":{\"stepz\":1}}"
bad_point "negative lambda" '"lambda"' "{\"method\":\"pez\",$COMMON,\"lambda\":-1}"
bad_point "prompt length 0" '"prompt_length"' "{\"method\":\"pez\",$COMMON,\"prompt_length\":0}"
bad_point "unknown task" '"task"' "{\"method\":\"pez\",\"task\":\"imdb\",\"model\":\"$M\",\"data_dir\":\"$DATA\",\"split\":\"16-42\"}"
bad_point "unknown method" '"method"' "{\"method\":\"sgd\",$COMMON}"
bad_point "manual without a prompt" '"prompt"' "{\"method\":\"manual\",$COMMON}"
bad_point "a prompt for pez" '"prompt"' "{\"method\":\"pez\",$COMMON,\"prompt\":\"x\"}"
bad_point "soft with PEZ's reset quirk" '"soft.reset_quirk"' "{\"method\":\"soft\",$COMMON,\"soft\":{\"reset_quirk\":true}}"
bad_point "min_steps without patience" '"pez.min_steps" needs "pez.patience"' "{\"method\":\"pez\",$COMMON,\"pez\":{\"min_steps\":5}}"
bad_point "min_steps beyond steps" '"rlprompt.min_steps" 9 exceeds "rlprompt.steps" 8' "{\"method\":\"rlprompt\",$COMMON,\"rlprompt\":{\"steps\":8,\"patience\":2,\"min_steps\":9}}"
bad_point "negative patience" '"soft.patience"' "{\"method\":\"soft\",$COMMON,\"soft\":{\"patience\":-1}}"
bad_point "missing model" '"model"' "{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"$TMP/nope\",\"data_dir\":\"$DATA\",\"split\":\"16-42\"}"
bad_point "missing split" '"data.train"' "{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"$M\",\"data_dir\":\"$DATA\",\"split\":\"16-1\"}"

# ---------------------------------------------------------------------------
# a run that fails: a record with status "failed" on stdout, exit 1; it fails after loading the
# model (whose context is too short), so the record says the model's vocabulary: 50304 here,
# GPT-2's padded to a multiple of 64

S=$TMP/small
"$GPT2" init --layers 1 --heads 1 --embd 8 --positions 16 --vocab 50304 --seed 1 --tokenizer "$TOKENIZER_DIR" \
    --out "$S" >/dev/null 2>&1 ||
    { echo "FAIL: gpt2 init (small)"; exit 1; }
sed "s#\"model\":\"$M\"#\"model\":\"$S\"#" "$TMP/pez.json" >"$TMP/small.json"
if expect 1 "a run that fails" "$TUNE" "$TMP/small.json"; then
    "$PY" - "$TMP/out" <<'EOF' && ok "failed record" || fail "failed record: $(head -c 300 "$TMP/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "failed" and "context" in r["error"], r["error"]
assert r["point"]["method"] == "pez" and r["prompt"]["ids"] == []
assert r["vocab_size"] == 50304, r.get("vocab_size")
EOF
    grep -q "context" "$TMP/err" || fail "the failure is not on stderr"
fi

# ---------------------------------------------------------------------------
# help and usage errors

expect 0 "tune --help" "$TUNE" --help && { grep -q '^usage: tune' "$TMP/out" || fail "--help prints no usage"; }
expect 2 "unknown option" "$TUNE" --bogus && { grep -q -- '--help' "$TMP/err" || fail "no hint on stderr"; }
expect 2 "two points" "$TUNE" "$TMP/pez.json" "$TMP/rl.json"
expect 2 "a point file that does not exist" "$TUNE" "$TMP/none.json"
mkfifo "$TMP/point.fifo"
expect 2 "a point file that is a FIFO (refused, not waited on)" timeout 20 "$TUNE" "$TMP/point.fifo"
grep -q "not a regular file" "$TMP/err" && ok "the FIFO: $(cat "$TMP/err")" || fail "the FIFO: $(cat "$TMP/err")"

finish "t_tune: all passed"
