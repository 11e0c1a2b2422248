#!/bin/sh
# tests/t_sst2_corpus.sh: model/sst2_corpus.sh, the pretraining text of sst2-lm.
#   one document per train phrase, in order, each the phrase itself (trailing blanks and CR
#   removed) optionally followed by one verdict; about half carry a verdict; every verdict
#   states the phrase's own label; the same seed gives the same bytes, another seed others;
#   a bad header, a bad label and a missing file are errors (exit 1, a message naming the file).
#   model/train_sst2_lm.sh (`make sst2-lm`) cut to 2 steps: the model lands in OUT with its log
#   and tokenizer files, replacing what was there, and nothing is left in OUT.tmp.
# Env from tests/run.sh (defaults in tests/lib.sh). Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
TRAIN=$SHARED/data/sst2/train.tsv
CORPUS="sh $ROOT/model/sst2_corpus.sh"
[ -f "$TRAIN" ] || { echo "skip: no SST-2 data in $TRAIN"; exit 77; }

$CORPUS "$TRAIN" 12345 >"$TMP/a.txt" || fail "corpus exit $?"
$CORPUS "$TRAIN" 12345 >"$TMP/b.txt" && cmp -s "$TMP/a.txt" "$TMP/b.txt" && ok "same seed, same bytes" || fail "same seed differs"
$CORPUS "$TRAIN" 7 >"$TMP/c.txt" && ! cmp -s "$TMP/a.txt" "$TMP/c.txt" && ok "another seed, other bytes" || fail "seed ignored"

# Line by line against the TSV: the phrase, then nothing or exactly one verdict of its label.
/usr/bin/python3 - "$TRAIN" "$TMP/a.txt" <<'PY' && ok "documents match the phrases; verdicts state their label" || fail "corpus content"
import re, sys
words = {"0": {"terrible", "bad", "awful"}, "1": {"great", "good", "wonderful"}}
tpl = [r"overall : (\w+) \.", r"verdict : (\w+) \.", r"a (\w+) film \.", r"simply (\w+) \.",
       r"the movie is (\w+) \.", r"it was (\w+) \."]
rows = [l.rstrip("\r\n").rsplit("\t", 1) for l in open(sys.argv[1], encoding="utf-8")][1:]
docs = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
assert len(rows) == len(docs), (len(rows), len(docs))
n_verdict, used = 0, set()
for (text, label), doc in zip(rows, docs):
    text = text.rstrip(" \r")
    assert doc.startswith(text), (text, doc)
    rest = doc[len(text):]
    if not rest:
        continue
    hits = [(i, m) for i, t in enumerate(tpl) for m in [re.fullmatch(" " + t, rest)] if m]
    assert len(hits) == 1, (doc, rest)
    assert hits[0][1].group(1) in words[label], (doc, label)
    used.add(hits[0][0]); n_verdict += 1
share = n_verdict / len(docs)
assert 0.48 < share < 0.52, share
assert used == set(range(len(tpl))), used
print(f"{len(docs)} documents, {share:.3f} with a verdict")
PY

printf 'text\tlabel\nx\t0\n' >"$TMP/hdr.tsv"
$CORPUS "$TMP/hdr.tsv" >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "hdr.tsv: header" "$TMP/err" && ok "bad header: $(cat "$TMP/err")" || fail "bad header: exit $rc: $(cat "$TMP/err")"
printf 'sentence\tlabel\nfine\t0\nodd\t3\n' >"$TMP/lab.tsv"
$CORPUS "$TMP/lab.tsv" >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "lab.tsv:3: label" "$TMP/err" && ok "bad label: $(cat "$TMP/err")" || fail "bad label: exit $rc: $(cat "$TMP/err")"
$CORPUS "$TMP/missing.tsv" >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && grep -q "missing.tsv" "$TMP/err" && ok "missing file: $(cat "$TMP/err")" || fail "missing file: exit $rc"

# the recipe end to end, cut to 2 steps (SST2_LM_STEPS), into a scratch directory
if [ -x "$GPT2" ] && [ -f "$TOKENIZER_DIR/vocab.json" ]; then
    OUT=$TMP/sst2-lm
    mkdir -p "$OUT"; : >"$OUT/stale"   # a previous model: replaced as a whole
    SST2_LM_STEPS=2 OPENBLAS_NUM_THREADS=1 sh "$ROOT/model/train_sst2_lm.sh" "$BINDIR" "$SHARED/data/sst2" \
        "$TOKENIZER_DIR" "$OUT" >"$TMP/recipe.log" 2>&1; rc=$?
    if [ $rc -eq 0 ] && [ -f "$OUT/model.safetensors" ] && [ -f "$OUT/vocab.json" ] && [ -f "$OUT/train_log.jsonl" ] &&
        [ ! -e "$OUT.tmp" ] && [ ! -e "$OUT/stale" ] && grep -q '"step":2,"loss"' "$OUT/train_log.jsonl"; then
        ok "recipe: $(tail -n 1 "$TMP/recipe.log")"
    else
        fail "recipe: exit $rc"; tail -n 5 "$TMP/recipe.log"
    fi
    "$GPT2" info --model "$OUT" | grep -q "^n_layer: *6$" && ok "recipe shape" || fail "recipe shape: $("$GPT2" info --model "$OUT" | head -3)"
else
    fail "no $GPT2 or tokenizer files: the recipe cannot run"
fi

finish "corpus and recipe ok"
