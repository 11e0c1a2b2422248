#!/bin/sh
# model/train_sst2_lm.sh: `make sst2-lm`: pretrains the small task LM from scratch.
#   usage: sh model/train_sst2_lm.sh BINDIR SST2_DIR TOKENIZER_DIR OUT_DIR
# 6 layers, 4 heads, n_embd 128, 128 positions, the real GPT-2 tokenizer (V 50257); 2,600 AdamW
# steps of 8 x 64 tokens at lr 3e-3 on model/sst2_corpus.sh's text of SST-2 train, held-out
# perplexity on the bare dev phrases. Everything is written into OUT_DIR.tmp and renamed to
# OUT_DIR at the end, so an interrupted run leaves no half-trained model behind.
set -eu
[ $# -eq 4 ] || { echo "usage: sh model/train_sst2_lm.sh BINDIR SST2_DIR TOKENIZER_DIR OUT_DIR" >&2; exit 2; }
BINDIR=$1; SST2=$2; TOKENIZER=$3; OUT=$4
for f in "$SST2/train.tsv" "$SST2/dev.tsv"; do
    [ -r "$f" ] || { echo "sst2-lm: cannot read $f (the shared data, see ../shared/data/README.md)" >&2; exit 1; }
done
STEPS=${SST2_LM_STEPS:-2600}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
WORK="$OUT.tmp"
rm -rf "$WORK"; mkdir -p "$WORK"
sh "$(dirname "$0")/sst2_corpus.sh" "$SST2/train.tsv" 12345 > "$WORK/corpus.txt"
"$BINDIR/gpt2" init --layers 6 --heads 4 --embd 128 --positions 128 --seed 1 --force \
    --tokenizer "$TOKENIZER" --out "$WORK/init"
"$BINDIR/gpt2" train --model "$WORK/init" --data "$WORK/corpus.txt" --steps "$STEPS" --batch 8 --seq 64 \
    --lr 3e-3 --seed 1 --eval-data "$SST2/dev.tsv" --eval-every $((STEPS / 4)) \
    --log "$WORK/init/train_log.jsonl" --out "$WORK/init"
rm -rf "$OUT"
mv "$WORK/init" "$OUT"
rm -rf "$WORK"
echo "sst2-lm: wrote $OUT"
