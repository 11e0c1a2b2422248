#!/bin/sh
# tests/t_train.sh: `gpt2 train` end to end on a tiny model and real sentences.
#   --help and usage errors (exit 2), runtime errors (exit 1, one line naming the file);
#   150 steps on 2,000 SST-2 sentences: the held-out loss falls clearly, the log has a
#   line per step and per evaluation, the output (with its tokenizer files) loads and
#   scores a sentence better than the untrained model; --steps 0 writes the input weights
#   back bit for bit; the same seed trains the same bytes, another seed other bytes;
#   continuing from a trained checkpoint, in place; SIGTERM stops, saves, exits 1.
# Env from tests/run.sh: ROOT, BINDIR, TOKENIZER_DIR, SHARED, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
SST2=$SHARED/data/sst2

[ -x "$GPT2" ] || { echo "FAIL: $GPT2 is not built"; exit 1; }
need_tokenizer
[ -f "$SST2/train.tsv" ] && [ -f "$SST2/dev.tsv" ] || { echo "skip: no SST-2 data in $SST2"; exit 77; }

# the data: 2,000 training sentences (CRLF endings added, which the loader must take)
# and the first 300 dev sentences, held out
head -n 2001 "$SST2/train.tsv" | sed 's/$/\r/' >"$TMP/train.tsv"
head -n 301 "$SST2/dev.tsv" >"$TMP/dev.tsv"
M=$TMP/init
expect 0 "init a tiny model" "$GPT2" init --layers 2 --heads 2 --embd 32 --positions 32 --seed 1 \
    --tokenizer "$TOKENIZER_DIR" --out "$M" || { echo "init failed: stopping"; exit 1; }

# ---------------------------------------------------------------------------
# help and usage errors

expect 0 "train --help" "$GPT2" train --help &&
    { grep -q '^usage: gpt2 train' "$TMP/out" || fail "train --help prints no usage on stdout"; }
"$GPT2" --help | grep -q '^  train ' || fail "gpt2 --help does not list train"
COMMON="--model $M --data $TMP/train.tsv --steps 5 --batch 2 --seq 16 --lr 1e-3 --out $TMP/u"
usage_error() { # description command...: exit 2 and a hint on stderr
    what=$1; shift
    expect 2 "$what" "$@" && { grep -q -- '--help' "$TMP/err" || fail "$what: no hint on stderr"; }
}
usage_error "train without --model" "$GPT2" train --data "$TMP/train.tsv" --steps 5 --batch 2 --seq 16 --lr 1e-3 --out "$TMP/u"
usage_error "train without --data" "$GPT2" train --model "$M" --steps 5 --batch 2 --seq 16 --lr 1e-3 --out "$TMP/u"
usage_error "train without --steps" "$GPT2" train --model "$M" --data "$TMP/train.tsv" --batch 2 --seq 16 --lr 1e-3 --out "$TMP/u"
usage_error "train without --lr" "$GPT2" train --model "$M" --data "$TMP/train.tsv" --steps 5 --batch 2 --seq 16 --out "$TMP/u"
usage_error "train without --out" "$GPT2" train --model "$M" --data "$TMP/train.tsv" --steps 5 --batch 2 --seq 16 --lr 1e-3
usage_error "train with a bad --steps" "$GPT2" train $COMMON --steps ten
usage_error "train with --batch 0" "$GPT2" train $COMMON --batch 0
usage_error "train with --lr 0" "$GPT2" train $COMMON --lr 0
usage_error "train with a negative --weight-decay" "$GPT2" train $COMMON --weight-decay -1
usage_error "train with --eval-every but no --eval-data" "$GPT2" train $COMMON --eval-every 2
usage_error "train with an unknown option" "$GPT2" train $COMMON --bogus
usage_error "train with a stray argument" "$GPT2" train $COMMON stray
usage_error "train option without its value" "$GPT2" train $COMMON --seed
[ -e "$TMP/u" ] && fail "a usage error still wrote $TMP/u"

# ---------------------------------------------------------------------------
# runtime errors: exit 1, one line naming what is wrong

one_line_error() { # description word command...
    what=$1; word=$2; shift 2
    expect 1 "$what" "$@" || return
    grep -v '^train: ' "$TMP/err" >"$TMP/err1"
    [ "$(wc -l <"$TMP/err1")" -eq 1 ] && grep -q "^gpt2: .*$word" "$TMP/err1" ||
        { fail "$what: expected one line 'gpt2: ...$word...', got:"; cat "$TMP/err"; }
}
one_line_error "train on a missing data file" "$TMP/missing.tsv" "$GPT2" train $COMMON --data "$TMP/missing.tsv"
printf 'review\tlabel\ngood\t1\n' >"$TMP/nocol.tsv"
one_line_error "train on a TSV without a sentence column" "nocol.tsv.*sentence" "$GPT2" train $COMMON --data "$TMP/nocol.tsv"
printf 'sentence\tlabel\r\n' >"$TMP/empty.tsv"
one_line_error "train on a TSV with a header only" "empty.tsv" "$GPT2" train $COMMON --data "$TMP/empty.tsv"
one_line_error "train with --seq beyond the context" "context" "$GPT2" train $COMMON --seq 64
one_line_error "train from a missing model" "$TMP/nope" "$GPT2" train $COMMON --model "$TMP/nope"
printf 'sentence\tlabel\nhi\t1\n' >"$TMP/tiny.tsv"
one_line_error "train on fewer tokens than a window" "tiny.tsv" "$GPT2" train $COMMON --data "$TMP/tiny.tsv"
[ -e "$TMP/u" ] && fail "a failed run still wrote $TMP/u"

# ---------------------------------------------------------------------------
# a real run: the held-out loss falls

TRAIN="--batch 4 --seq 32 --lr 3e-3 --warmup 10"
expect 0 "train 150 steps" "$GPT2" train --model "$M" --data "$TMP/train.tsv" --eval-data "$TMP/dev.tsv" \
    --eval-batches 16 --eval-every 75 --steps 150 $TRAIN --seed 7 --out "$TMP/a" --log "$TMP/a.log" &&
    cp "$TMP/err" "$TMP/a.err"
before=$(awk '/^eval step 0\/150:/ { print $5 }' "$TMP/a.err")
middle=$(awk '/^eval step 75\/150:/ { print $5 }' "$TMP/a.err")
after=$(awk '/^eval step 150\/150:/ { print $5 }' "$TMP/a.err")
echo "held-out loss: $before (untrained) -> $middle (75 steps) -> $after (150 steps)"
awk -v b="$before" -v a="$after" 'BEGIN { exit !(b > 10 && a > 0 && a < b - 2) }' &&
    ok "the held-out loss fell clearly ($before -> $after)" ||
    fail "the held-out loss did not fall by 2 nats: '$before' -> '$after'"
[ "$(grep -c '^{"step":[0-9]*,"loss":' "$TMP/a.log")" -eq 150 ] &&
    [ "$(grep -c '^{"step":[0-9]*,"eval_loss":' "$TMP/a.log")" -eq 3 ] &&
    ok "the log has 150 step lines and 3 evaluations" || fail "the log:"
grep -q '^wrote .*150 steps.*held-out ppl' "$TMP/out" || fail "no summary on stdout"
grep -q 'step 150/150 | loss' "$TMP/a.err" && grep -q 'tok/s | ETA' "$TMP/a.err" || fail "no progress lines on stderr"

for f in config.json model.safetensors vocab.json merges.txt; do
    [ -f "$TMP/a/$f" ] || fail "the output has no $f"
done
cmp -s "$TMP/a/vocab.json" "$TOKENIZER_DIR/vocab.json" && cmp -s "$TMP/a/merges.txt" "$TOKENIZER_DIR/merges.txt" &&
    ok "the tokenizer files were copied" || fail "the output's tokenizer files differ"
expect 0 "info on the trained model" "$GPT2" info --model "$TMP/a"
SENTENCE="it 's a charming and often affecting journey ."
expect 0 "score with the trained model" "$GPT2" score --model "$TMP/a" "$SENTENCE" &&
    trained=$(awk '/^tokens / { print $4 }' "$TMP/out")
"$GPT2" score --model "$M" "$SENTENCE" >"$TMP/out" 2>/dev/null && untrained=$(awk '/^tokens / { print $4 }' "$TMP/out")
awk -v t="${trained:-x}" -v u="${untrained:-0}" 'BEGIN { exit !(t + 0 > 0 && t + 2 < u + 0) }' &&
    ok "the trained model scores a dev sentence better (log-PPL $untrained -> $trained)" ||
    fail "log-PPL of a dev sentence: untrained '${untrained:-}', trained '${trained:-}'"

# ---------------------------------------------------------------------------
# bit for bit: --steps 0, determinism

expect 0 "train --steps 0" "$GPT2" train --model "$M" --data "$TMP/train.tsv" --steps 0 $TRAIN --out "$TMP/zero"
cmp -s "$M/model.safetensors" "$TMP/zero/model.safetensors" && cmp -s "$M/config.json" "$TMP/zero/config.json" &&
    ok "--steps 0 writes the input checkpoint back bit for bit" || fail "--steps 0 changed the checkpoint"
SHORT="--model $M --data $TMP/train.tsv --steps 20 $TRAIN"
expect 0 "train seed 7" "$GPT2" train $SHORT --seed 7 --out "$TMP/s7a"
expect 0 "train seed 7 again" "$GPT2" train $SHORT --seed 7 --out "$TMP/s7b"
expect 0 "train seed 8" "$GPT2" train $SHORT --seed 8 --out "$TMP/s8"
cmp -s "$TMP/s7a/model.safetensors" "$TMP/s7b/model.safetensors" && ok "the same seed trains the same bytes" ||
    fail "seed 7 twice trained different models"
cmp -s "$TMP/s7a/model.safetensors" "$TMP/s8/model.safetensors" && fail "seeds 7 and 8 trained the same model" ||
    ok "another seed trains other bytes"

# ---------------------------------------------------------------------------
# continuing: from a trained checkpoint, and in place

cp -r "$TMP/s7a" "$TMP/cont"
expect 0 "continue training in place (--out = --model)" "$GPT2" train --model "$TMP/cont" --data "$TMP/train.tsv" \
    --steps 5 $TRAIN --out "$TMP/cont"
cmp -s "$TMP/cont/model.safetensors" "$TMP/s7a/model.safetensors" && fail "continuing changed nothing"
expect 0 "the continued model loads" "$GPT2" info --model "$TMP/cont"

# ---------------------------------------------------------------------------
# SIGTERM: stop after the current step, save, exit 1

"$GPT2" train --model "$M" --data "$TMP/train.tsv" --steps 100000 $TRAIN --out "$TMP/sig" --log "$TMP/sig.log" \
    >"$TMP/sig.out" 2>"$TMP/sig.err" &
pid=$!
i=0
while [ "$i" -lt 200 ] && ! grep -q '"step":2,' "$TMP/sig.log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'interrupted after step' "$TMP/sig.err" && grep -q 'SIGTERM' "$TMP/sig.err" &&
    ok "SIGTERM stops the run with exit 1" || { fail "SIGTERM: exit $rc, stderr:"; tail -n 3 "$TMP/sig.err"; }
expect 0 "the model saved on SIGTERM loads" "$GPT2" info --model "$TMP/sig"

finish "all gpt2 train checks passed"
