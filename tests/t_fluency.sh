#!/bin/sh
# tests/t_fluency.sh: tests/fluency_check.sh in the suite. The check asks whether a language
# model prefers English to word salad (100 SST-2 dev sentences scored as written and with their
# words shuffled). models/sst2-lm takes 15 minutes to train, so the suite trains a small one
# here, on the same text as `make sst2-lm` (model/sst2_corpus.sh), for 200 steps (~20 s): it
# must pass the check, and the same model before training (random weights) must fail it, so
# the check is shown to tell the two apart. The log-PPL the proxies are built on is then
# evidence of fluency, not only a number.
# Env from tests/run.sh: ROOT, BINDIR, SHARED, TOKENIZER_DIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

[ -x "$GPT2" ] || { echo "FAIL: $GPT2 is not built (make builds it)"; exit 1; }
need_tokenizer
SST2=$SHARED/data/sst2
[ -f "$SST2/train.tsv" ] && [ -f "$SST2/dev.tsv" ] || { echo "skip: no SST-2 data in $SST2"; exit 77; }

sh "$ROOT/model/sst2_corpus.sh" "$SST2/train.tsv" 12345 >"$TMP/corpus.txt" || { fail "sst2_corpus.sh"; finish ""; }
"$GPT2" init --layers 2 --heads 2 --embd 64 --positions 64 --seed 1 --force --tokenizer "$TOKENIZER_DIR" \
    --out "$TMP/init" >/dev/null 2>"$TMP/init.err" || { fail "gpt2 init: $(cat "$TMP/init.err")"; finish ""; }
cp -r "$TMP/init" "$TMP/trained"
"$GPT2" train --model "$TMP/trained" --data "$TMP/corpus.txt" --steps 200 --batch 8 --seq 32 --lr 3e-3 --seed 1 \
    --out "$TMP/trained" >/dev/null 2>"$TMP/train.err" || { fail "gpt2 train: $(tail -n 2 "$TMP/train.err")"; finish ""; }

mkdir -p "$TMP/a" "$TMP/b"
if TMP="$TMP/a" sh "$ROOT/tests/fluency_check.sh" "$TMP/trained" 100 >"$TMP/trained.out" 2>&1; then
    ok "trained 200 steps: $(grep 'dev sentences' "$TMP/trained.out")"
else
    fail "the trained model fails the fluency check: $(tail -n 2 "$TMP/trained.out")"
fi
TMP="$TMP/b" sh "$ROOT/tests/fluency_check.sh" "$TMP/init" 100 >"$TMP/init.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "does not prefer fluent English" "$TMP/init.out"; then
    ok "random weights fail it: $(grep 'dev sentences' "$TMP/init.out")"
else
    fail "random weights: exit $rc: $(tail -n 2 "$TMP/init.out")"
fi
finish "the fluency check tells a trained model from random weights"
