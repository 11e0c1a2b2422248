#!/bin/sh
# tests/t_bf16.sh: the precision point key and the gpt2 --precision option end to end, on a small
# random checkpoint (2 layers, C=64; tests/test_bf16.c holds the numerics):
#   - tune: the same manual prompt in f32 and bf16 gives records that say their precision and
#     agree (task loss within 1e-2 nats, log-PPL within 1% relative); a PEZ point runs in bf16;
#   - on a CPU without avx512_bf16/AMX (GPT2_BF16_DISABLE=1 makes one; DNNL_MAX_CPU_ISA below
#     bf16 makes oneDNN refuse it) a bf16 point is a "failed" record with the one-line reason,
#     exit 1; an unknown precision is a bad point (exit 2, no record);
#   - a sweep with "precision" as a grid axis runs both (real tune), each record and points.csv
#     saying which;
#   - gpt2 score --precision bf16 agrees with f32; --precision fp8 is a usage error.
# On a CPU without bf16 the bf16 runs cannot happen: skipped checks (a failure under CI unless
# tests/skips-allowed lists them); the refusals are checked anyway.
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

need_built "$TUNE" "$GPT2" "$SWEEP"
need_tokenizer
need_data
need_python "to check the records"
unset GPT2_BF16_DISABLE DNNL_MAX_CPU_ISA

M=$TMP/model
"$GPT2" init --layers 2 --heads 2 --embd 64 --positions 128 --seed 3 \
    --tokenizer "$TOKENIZER_DIR" --out "$M" >/dev/null 2>"$TMP/err" || { echo "FAIL: gpt2 init: $(cat "$TMP/err")"; exit 1; }
printf 'great\nmovie\nthe\nbad\ngood\n' >"$TMP/words"
COMMON="\"task\":\"sst-2\",\"model\":\"$M\",\"data_dir\":\"$DATA\",\"split\":\"16-42\",\"max_test\":100,\"dictionary\":\"$TMP/words\""
for p in f32 bf16; do
    echo "{\"method\":\"manual\",$COMMON,\"prompt\":\" It was\",\"precision\":\"$p\"}" >"$TMP/manual-$p.json"
done
echo "{\"method\":\"pez\",$COMMON,\"prompt_length\":4,\"lambda\":0.1,\"seed\":2,\"precision\":\"bf16\",\"pez\":{\"steps\":4,\"batch\":4,\"eval_every\":2}}" >"$TMP/pez.json"

# does this CPU run bf16? (the refusal's message says why not)
if "$GPT2" score --model "$M" --precision bf16 "a test" >/dev/null 2>"$TMP/cpu.err"; then HAVE_BF16=1; else HAVE_BF16=0; fi

# ---------------------------------------------------------------------------
# tune

expect 0 "manual point in f32" "$TUNE" --quiet "$TMP/manual-f32.json" && cp "$TMP/out" "$TMP/f32.rec"
if [ $HAVE_BF16 -eq 1 ]; then
    expect 0 "manual point in bf16" "$TUNE" --quiet "$TMP/manual-bf16.json" && cp "$TMP/out" "$TMP/bf16.rec"
    if "$PY" - "$TMP/f32.rec" "$TMP/bf16.rec" <<'EOF'; then ok "the f32 and bf16 records agree (task loss, log-PPL)"; else fail "f32 and bf16 records"; fi
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["point"]["precision"] == "f32" and b["point"]["precision"] == "bf16", (a["point"], b["point"])
assert a["status"] == b["status"] == "ok"
for s in ("train", "dev", "test"):
    x, y = a["task_loss"][s], b["task_loss"][s]
    assert abs(x - y) <= 1e-2, ("task_loss", s, x, y)
    print("task_loss %s: f32 %.6f bf16 %.6f; accuracy f32 %.4f bf16 %.4f" % (s, x, y, a["accuracy"][s], b["accuracy"][s]))
assert abs(a["log_ppl"] - b["log_ppl"]) <= 1e-2 * a["log_ppl"], (a["log_ppl"], b["log_ppl"])
print("log_ppl: f32 %.6f bf16 %.6f" % (a["log_ppl"], b["log_ppl"]))
EOF
    expect 0 "PEZ point in bf16" "$TUNE" --quiet "$TMP/pez.json" &&
        if "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["status"]=="ok" and r["point"]["precision"]=="bf16" and r["steps"]==4, r' "$TMP/out"; then
            ok "the PEZ record says bf16"; else fail "the PEZ record: $(cut -c1-300 "$TMP/out")"; fi
else
    skip_check "bf16 tune runs not compared: $(cat "$TMP/cpu.err")"
fi

# refused: no bf16 on the CPU (simulated), or oneDNN held below it (only meaningful where it has it)
check_refusal() { # WHAT PIECE-OF-ERROR
    if "$PY" - "$TMP/out" "$2" <<'EOF'; then ok "$1: a failed record with the reason"; else fail "$1: $(cut -c1-300 "$TMP/out")"; fi
import json, sys
text = open(sys.argv[1]).read()
r = json.loads(text)
assert r["status"] == "failed" and sys.argv[2] in r["error"] and "use precision f32" in r["error"], r["error"]
assert r["point"]["precision"] == "bf16" and r["vocab_size"] == 50257, r
EOF
}
GPT2_BF16_DISABLE=1 expect 1 "bf16 point on a CPU without bf16" "$TUNE" --quiet "$TMP/manual-bf16.json" &&
    check_refusal "GPT2_BF16_DISABLE=1" "this CPU has neither avx512_bf16 nor AMX"
if [ $HAVE_BF16 -eq 1 ]; then
    DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI expect 1 "bf16 point with oneDNN held below bf16" "$TUNE" --quiet "$TMP/manual-bf16.json" &&
        check_refusal "DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI" "dispatches to"
fi
sed 's/"bf16"/"fp16"/' "$TMP/manual-bf16.json" >"$TMP/bad.json"
expect 2 "precision fp16 is a bad point" "$TUNE" --quiet "$TMP/bad.json" &&
    if [ ! -s "$TMP/out" ] && grep -q '"precision" is "fp16", expected "f32" or "bf16"' "$TMP/err"; then ok "its message"; else fail "fp16: $(cat "$TMP/err")"; fi

# ---------------------------------------------------------------------------
# gpt2 score

TEXT="a gripping , funny and moving film"
expect 0 "gpt2 score f32" "$GPT2" score --model "$M" --json "$TEXT" && cp "$TMP/out" "$TMP/score-f32.json"
if [ $HAVE_BF16 -eq 1 ]; then
    expect 0 "gpt2 score --precision bf16" "$GPT2" score --model "$M" --precision bf16 --json "$TEXT" &&
        if "$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["tokens"] == b["tokens"] and abs(a["log_ppl"] - b["log_ppl"]) <= 1e-2 * a["log_ppl"], (a["log_ppl"], b["log_ppl"])
print("score log_ppl f32 %.6f bf16 %.6f" % (a["log_ppl"], b["log_ppl"]))' "$TMP/score-f32.json" "$TMP/out"; then
            ok "gpt2 score agrees"; else fail "gpt2 score f32 against bf16"; fi
fi
expect 2 "gpt2 score --precision fp8" "$GPT2" score --model "$M" --precision fp8 "$TEXT"

# ---------------------------------------------------------------------------
# a sweep with precision as an axis (quick local mode, the real tune)

if [ $HAVE_BF16 -eq 1 ]; then
    need_mpirun
    cat >"$TMP/spec.json" <<EOF
{"model": "$M", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$TMP/sweep",
 "grid": {"method": ["pez"], "precision": ["f32", "bf16"], "seed": [1]},
 "pez": {"steps": 2, "batch": 4, "eval_every": 1},
 "point": {"max_test": 40, "dictionary": "$TMP/words"},
 "empty_baseline": false, "timeout_seconds": 300, "retries": 0}
EOF
    expect 0 "sweep with a precision axis" "$SWEEP" "$TMP/spec.json" &&
        if "$SWEEP" export "$TMP/sweep" 2>/dev/null | "$PY" -c '
import csv, json, sys
recs = [json.loads(l) for l in sys.stdin]
got = sorted((r["point"]["precision"], r["status"]) for r in recs)
assert got == [("bf16", "ok"), ("f32", "ok")], got
rows = list(csv.DictReader(open(sys.argv[1])))
assert sorted(r["precision"] for r in rows) == ["bf16", "f32"], rows' "$TMP/sweep/points.csv"; then
            ok "both precisions ran, records and points.csv say which"; else fail "the precision axis"; fi
fi

finish "bf16 end to end: ok"
