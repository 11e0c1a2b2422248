#!/bin/sh
# tests/fluency_check.sh [MODEL [N]]: does a language model prefer English to word salad?
#   Scores the first N (default 200) SST-2 dev sentences of at least 4 words with
#   `gpt2 score --json`, once as they are and once with their words shuffled (a fixed
#   seed per sentence), and prints the mean log-PPL (nats per token) of both and the
#   share of sentences whose original scores lower. Passes when the original is lower
#   on average and for at least 85% of the sentences.
# MODEL defaults to models/sst2-lm (`make sst2-lm`); without it the check is skipped
# (exit 77), so it can run as part of a suite. Env as for tests/run.sh: ROOT, BINDIR,
# SHARED, TMP. Two scoring processes at a time; ~20 s for the sst2-lm model on 2 cores.
set -u
ROOT=${ROOT:-$(pwd)}
BINDIR=${BINDIR:-bin}
case $BINDIR in /*) ;; *) BINDIR=$ROOT/$BINDIR ;; esac
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TMP=${TMP:-$(mktemp -d)}
GPT2=$BINDIR/gpt2
MODEL=${1:-$ROOT/models/sst2-lm}
N=${2:-200}
DEV=$SHARED/data/sst2/dev.tsv

[ -x "$GPT2" ] || { echo "FAIL: $GPT2 is not built"; exit 1; }
[ -f "$MODEL/model.safetensors" ] || { echo "skip: no model in $MODEL (run 'make sst2-lm')"; exit 77; }
[ -f "$DEV" ] || { echo "skip: no $DEV"; exit 77; }
export OPENBLAS_NUM_THREADS=1   # two processes at a time

# The sentences (header and label dropped, blanks around them trimmed, as gpt2
# train reads them), then the same words shuffled by Fisher-Yates with seed = the
# sentence's number; a shuffle that happens to give the sentence back is redone.
awk -F'\t' -v n="$N" 'NR > 1 {
    sub(/\r$/, ""); s = $1; for (i = 2; i < NF; i++) s = s "\t" $i
    gsub(/^[ \t]+|[ \t]+$/, "", s)
    if (split(s, w, " ") >= 4 && kept < n) { print s; kept++ }
}' "$DEV" >"$TMP/fluent.txt"
awk '{
    n = split($0, w, " "); srand(NR)
    for (try = 0; try < 10; try++) {
        for (i = n; i > 1; i--) { j = int(rand() * i) + 1; t = w[i]; w[i] = w[j]; w[j] = t }
        s = w[1]; for (i = 2; i <= n; i++) s = s " " w[i]
        if (s != $0) break
    }
    print s
}' "$TMP/fluent.txt" >"$TMP/shuffled.txt"
count=$(wc -l <"$TMP/fluent.txt")
[ "$count" -gt 0 ] || { echo "FAIL: no dev sentences read from $DEV"; exit 1; }

# one log-PPL per line of a file, in order: each line becomes a file for
# `gpt2 score --file`, two processes at a time
score_lines() { # name: $TMP/NAME.txt -> $TMP/NAME.ppl
    rm -rf "$TMP/$1.d" && mkdir -p "$TMP/$1.d" || return 1
    awk -v dir="$TMP/$1.d" '{ f = sprintf("%s/%05d.txt", dir, NR); printf "%s", $0 >f; close(f) }' "$TMP/$1.txt"
    ls "$TMP/$1.d"/*.txt | xargs -P 2 -I{} sh -c '"$0" score --model "$1" --json --file "$2" >"$2.json"' \
        "$GPT2" "$MODEL" {} || return 1
    for f in "$TMP/$1.d"/*.txt; do
        sed -n 's/.*"log_ppl":\([^,]*\),.*/\1/p' "$f.json"
    done >"$TMP/$1.ppl"
}
start=$(date +%s)
score_lines fluent && score_lines shuffled || { echo "FAIL: gpt2 score failed"; exit 1; }
secs=$(($(date +%s) - start))

paste "$TMP/fluent.ppl" "$TMP/shuffled.ppl" | awk -v n="$count" -v secs="$secs" -v model="$MODEL" '
    $1 == "" || $2 == "" { bad++; next }
    { f += $1; s += $2; m++; if ($1 < $2) wins++ }
    END {
        if (bad || m != n) { printf "FAIL: %d of %d sentences have no score\n", n - m, n; exit 1 }
        printf "%s: %d dev sentences, mean log-PPL %.3f as written, %.3f shuffled; ", model, m, f / m, s / m
        printf "the original scores lower for %d (%.1f%%) [%d s]\n", wins, 100 * wins / m, secs
        if (!(f < s && wins >= 0.85 * m)) { print "FAIL: the model does not prefer fluent English"; exit 1 }
        print "ok: the model prefers the sentences as written"
    }'
