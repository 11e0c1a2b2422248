#!/bin/sh
# tests/fake_tune.sh: a tune program that misbehaves on purpose, for tests/t_sweep.sh, used as
# a sweep spec's "tune". It reads the point from stdin like `tune -` and, by the point's seed:
#   seed 666  crashes (the shell kills itself with SIGSEGV)
#   seed 777  hangs when the method is pez (sleeps; the sweep's timeout must kill it)
#   seed 888  prints tune's record with log_ppl turned into NaN (null, as tune writes NaN)
#   seed 999  exits 3 with a message on stderr (its arguments, then why) and no record
#   seed 555  writes 100000 numbered lines (about 1.2 MB) on stderr, then exits 3 with no record
# and otherwise runs the real tune: $FAKE_TUNE_REAL, or bin/tune of this checkout.
# FAKE_TUNE_SLEEP=S makes every point first sleep S seconds (slow points for the Slurm tests).
# FAKE_TUNE_CANNED=1 answers the other points at once with a canned record instead of running
# tune (instant points, for tests of the sweep's limits).
# FAKE_TUNE_BEND=1 answers at once with a record whose dev accuracy and log-PPL follow λ along a
# scripted bend (tests/t_sweep_adaptive.sh): log-PPL falls from 9 to 3 nats around λ = 0.05,
# accuracy from 0.9 to 0.55 around λ = 0.5 (+0.002 per seed), test accuracy 0.5; a prompt of length
# 5 is worse on both (accuracy -0.3, log-PPL +3: dominated by length 3 at the same λ), and the
# record's steps are the point's (tests/t_sweep_halving.sh).
real=${FAKE_TUNE_REAL:-$(cd "$(dirname "$0")/.." && pwd)/bin/tune}
point=$(cat)
[ -z "${FAKE_TUNE_SLEEP:-}" ] || sleep "$FAKE_TUNE_SLEEP"
seed=$(printf '%s' "$point" | grep -o '"seed":[0-9]*' | cut -d: -f2)
case $seed in
    666) kill -SEGV $$ ;;
    777) case $point in *'"method":"pez"'*) exec sleep 600 ;; esac ;;
    888) printf '%s' "$point" | "$real" "$@" | sed 's/"log_ppl":[-0-9.e+]*/"log_ppl":null/'; exit 0 ;;
    999) echo "fake_tune: arguments: $*" >&2; echo "fake_tune: failing on purpose" >&2; exit 3 ;;
    555) seq 1 100000 | sed 's/^/fake_tune: line /' >&2; exit 3 ;;
esac
if [ -n "${FAKE_TUNE_BEND:-}" ]; then
    lambda=$(printf '%s' "$point" | grep -o '"lambda":[-0-9.e+]*' | cut -d: -f2)
    length=$(printf '%s' "$point" | grep -o '"prompt_length":[0-9]*' | cut -d: -f2)
    steps=$(printf '%s' "$point" | grep -o '"steps":[0-9]*' | head -n 1 | cut -d: -f2)
    set -- $(awk -v l="$lambda" -v s="$seed" -v L="${length:-3}" 'BEGIN { w = L == 5
        printf "%.6f %.6f", 0.55 + 0.35 / (1 + (l / 0.5) ^ 2) + 0.002 * s - 0.3 * w, 3 + 6 / (1 + l / 0.05) + 3 * w }')
    printf '{"point":%s,"status":"ok","error":null,"accuracy":{"train":1,"dev":%s,"test":0.5},"dev_reward":0,"log_ppl":%s,"ppl":1,"dict_share":1,"steps":%s}\n' "$point" "$1" "$2" "${steps:-0}"
    exit 0
fi
if [ -n "${FAKE_TUNE_CANNED:-}" ]; then
    printf '{"point":%s,"status":"ok","error":null,"accuracy":{"train":1,"dev":1,"test":0.5},"dev_reward":0,"log_ppl":1,"ppl":2.718,"dict_share":1}\n' "$point"
    exit 0
fi
printf '%s' "$point" | exec "$real" "$@"
