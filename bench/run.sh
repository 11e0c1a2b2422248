#!/bin/sh
# bench/run.sh: benchmarks, each printing ratios measured side by side in one run.
set -eu
BUILD=${BUILD:-build/release}
# each_blas CMD...: CMD under each OpenBLAS kernel (SkylakeX, Haswell) with 1 and 2 threads
each_blas() {
    for core in SkylakeX Haswell; do
        for threads in 1 2; do
            echo "-- OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads"
            OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$threads "$@"
        done
    done
}
echo "== forward, GPT-2 124M shape (random weights), B=4 T=64 =="
each_blas "$BUILD/bench/bench_forward"
echo "== forward + backward, GPT-2 124M shape (random weights), B=4 T=64 =="
each_blas "$BUILD/bench/bench_backward"
echo "== bf16 (model/bf16.c, oneDNN) against f32 (OpenBLAS): the peaks, the 124M GEMMs, a PEZ-like frozen step, 1 thread =="
OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 "$BUILD/bench/bench_bf16"
echo "== PEZ at the GPT-2 124M shape (issue 14): a real step by each code path, a point's private memory and fixed cost, two ranks on two cores =="
BINDIR=$(case $BUILD in build/asan*) echo "$BUILD/bin" ;; *) echo bin ;; esac) sh bench/bench_pez.sh
echo "== MPI farm (mpi/farm.c): rank 0's time per trivial item, idle ranks' CPU =="
if command -v mpirun >/dev/null 2>&1; then
    # root in containers needs these; --bind-to none: 64 ranks share the cores freely
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    for n in 64 2; do
        echo "-- mpirun -n $n --oversubscribe"
        mpirun -n $n --oversubscribe --bind-to none "$BUILD/bench/bench_farm"
    done
else
    echo "skipped: no mpirun"
fi
echo "== sweep (sweep/): rank 0's time per trivial point at 64 ranks; 1 vs 2 workers on real points =="
BINDIR=$(case $BUILD in build/asan*) echo "$BUILD/bin" ;; *) echo bin ;; esac) sh bench/bench_sweep.sh
echo "== journal (results/journal.c): the scan for an intact frame after damage, on crafted tails =="
"$BUILD/bench/bench_journal_scan"
echo "== sweep spec (sweep/spec.c): expanding the grid, per point at 10k / 40k / 160k points =="
"$BUILD/bench/bench_spec_expand"
echo "== sha256 (model/sha256.c, libcrypto) against the hand-written one it replaced: a 500 MB file, 1 KB in memory =="
"$BUILD/bench/bench_sha256"
