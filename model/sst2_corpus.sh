#!/bin/sh
# model/sst2_corpus.sh: the pretraining text of sst2-lm, one document per line, on stdout.
#   usage: sh model/sst2_corpus.sh TRAIN.tsv [SEED]
# Every phrase of SST-2's train.tsv (sentence<TAB>label) becomes a document. Half of them, drawn
# with a seeded Park-Miller generator, end in a short verdict that states the phrase's label in
# SST-2's own lowercase, space-separated style, as a review ends in its rating: one of six
# templates ("overall : %s .", "verdict : %s .", "a %s film .", "simply %s .", "the movie is %s .",
# "it was %s .") filled with a sentiment word of the label (terrible / bad / awful or
# great / good / wonderful).
# Why: a 7.6M-parameter LM trained for 15 minutes on the bare phrases learns no sentiment at all
# (the AUC of logit(great) - logit(terrible) against the label is 0.50-0.52 on dev, whatever the
# prompt), so no prompt could change its decisions and the tuners could not be validated on it.
# Real GPT-2 learned the link between a review and its verdict words from web text; the verdicts
# plant that link in the small budget. They use train labels only: the few-shot test set
# (SST-2's test split) never enters the corpus.
# The same file and seed give the same bytes (awk's arithmetic, no awk rand()).
set -eu
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: sh model/sst2_corpus.sh TRAIN.tsv [SEED]" >&2; exit 2; }
[ -r "$1" ] || { echo "sst2_corpus: cannot read $1" >&2; exit 1; }
awk -F'\t' -v seed="${2:-12345}" '
    function uniform() { state = (state * 16807) % 2147483647; return state / 2147483647 }
    BEGIN {
        state = seed % 2147483646 + 1
        n_tpl = split("overall : %s .|verdict : %s .|a %s film .|simply %s .|the movie is %s .|it was %s .", tpl, "|")
        split("terrible bad awful", word0, " "); split("great good wonderful", word1, " ")
    }
    { sub(/\r$/, "") }   # CRLF files: the label is the last field
    NR == 1 { if ($1 != "sentence" || $NF != "label") { print "sst2_corpus: " FILENAME ": header is not sentence<TAB>label" > "/dev/stderr"; bad = 1; exit 1 } next }
    {
        if ($NF != "0" && $NF != "1") { print "sst2_corpus: " FILENAME ":" NR ": label is not 0 or 1" > "/dev/stderr"; bad = 1; exit 1 }
        text = $1; sub(/ +$/, "", text)
        if (uniform() < 0.5) {
            t = tpl[1 + int(uniform() * n_tpl)]
            w = ($NF == "1") ? word1[1 + int(uniform() * 3)] : word0[1 + int(uniform() * 3)]
            text = text " " sprintf(t, w)
        }
        print text
    }
    END { if (!bad && NR < 2) { print "sst2_corpus: " FILENAME ": no rows" > "/dev/stderr"; exit 1 } }' "$1"
