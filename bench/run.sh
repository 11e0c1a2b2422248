#!/bin/sh
# bench/run.sh: benchmarks, each printing ratios measured side by side in one run.
set -eu
BUILD=${BUILD:-build/release}
echo "== forward, GPT-2 124M shape (random weights), B=4 T=64 =="
for core in SkylakeX Haswell; do
    for threads in 1 2; do
        echo "-- OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads"
        OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads "$BUILD/bench/bench_forward"
    done
done
echo "== forward + backward, GPT-2 124M shape (random weights), B=4 T=64 =="
for core in SkylakeX Haswell; do
    for threads in 1 2; do
        echo "-- OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads"
        OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads "$BUILD/bench/bench_backward"
    done
done
