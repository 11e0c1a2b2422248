#!/bin/sh
# slurm/submit-array.sh: submits a sweep as a job array of N shards (slurm/sweep-array.sbatch)
# and the merge job that runs after every shard succeeded (slurm/merge.sbatch), and prints
# both job ids ("ARRAY_JOB MERGE_JOB" on stdout). Run it from the repository (the jobs find bin/sweep in the submit directory).
#
#   slurm/submit-array.sh [--shards N] [--max-running K] [--out DIR] SPEC.json [-- SBATCH_OPTIONS...]
#
#   --shards N        array tasks, one shard each [4]
#   --max-running K   at most K shards at once (--array=0-(N-1)%K)
#   --out DIR         the output directory instead of the spec's "out"
#   SBATCH_OPTIONS    given to both sbatch calls (--partition, --account, --time, -n, ...)
#
# The merge is submitted with --dependency=afterok:ARRAY_JOB and --kill-on-invalid-dep=yes: if
# a shard fails for good, the merge is cancelled; fix it, rerun that shard
# (sbatch --array=K slurm/sweep-array.sbatch SPEC.json, with SWEEP_SHARDS=N) and submit
# slurm/merge.sbatch OUT N by hand.
set -eu
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
shards=4
max_running=""
out=""
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --shards) [ $# -ge 2 ] || { usage >&2; exit 2; }; shards=$2; shift 2 ;;
        --max-running) [ $# -ge 2 ] || { usage >&2; exit 2; }; max_running=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift 2 ;;
        --) break ;;
        -*) echo "submit-array.sh: unknown option $1 (--help)" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] && [ "$1" != "--" ] || { echo "submit-array.sh: no spec given (--help)" >&2; exit 2; }
spec=$1
shift
[ $# -eq 0 ] || { [ "$1" = "--" ] && shift; } || { echo "submit-array.sh: after the spec only -- SBATCH_OPTIONS (--help)" >&2; exit 2; }
[ -f "$spec" ] || { echo "submit-array.sh: no spec $spec" >&2; exit 2; }
case $shards in '' | *[!0-9]*) echo "submit-array.sh: --shards wants a number" >&2; exit 2 ;; esac
[ "$shards" -ge 1 ] || { echo "submit-array.sh: --shards must be at least 1" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "$out" ]; then
    # the spec's "out" (python3 where there is one; else the first "out": "..." of the file)
    if command -v python3 >/dev/null 2>&1; then
        out=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["out"])' "$spec")
    else
        out=$(tr '\n' ' ' <"$spec" | sed -n 's/.*"out"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    fi
    [ -n "$out" ] || { echo "submit-array.sh: cannot read \"out\" from $spec (give --out)" >&2; exit 2; }
    unset SWEEP_OUT   # the shards go to the spec's "out", where the merge looks
else
    SWEEP_OUT=$out
    export SWEEP_OUT
fi

array="0-$((shards - 1))${max_running:+%$max_running}"
job=$(sbatch --parsable --array="$array" "$@" "$here/sweep-array.sbatch" "$spec")
job=${job%%;*}
merge=$(sbatch --parsable --dependency="afterok:$job" --kill-on-invalid-dep=yes "$@" "$here/merge.sbatch" "$out" "$shards")
merge=${merge%%;*}
echo "submit-array.sh: array job $job ($shards shards of $spec), merge job $merge after it: $out" >&2
echo "$job $merge"
