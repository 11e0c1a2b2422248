#!/bin/sh
# tests/t_slurm_cluster.sh: slurm/sweep.sbatch on a Slurm cluster of 3 nodes emulated on this
# machine (tests/slurm_lib.sh: slurm_start_cluster): each node a network namespace on a private
# bridge with its own address, hostname and mounts, one slurmd each; munged, slurmctld and
# slurmdbd (with MariaDB, where installed) in the root namespace. Open MPI's ranks on different
# nodes are on different hosts to it: they talk TCP over the bridge (OMPI_MCA_*_if_include),
# shared memory only within a node.
#   - a worker node never writes into OUT: every job's OUT is under RUNS, which node2 and node3
#     see read-only (node1, the first node of every allocation, runs rank 0 and the journal);
#     a job step checks the mount does refuse writes on node2 and node3;
#   - the reference: the 20-point sweep as a single-node job (node1);
#   - `sbatch -N 3` with mpirun inside the allocation and with srun --mpi=pmix: the job
#     completes on node[1-3], every node ran points (each record carries the host that ran it),
#     and the export equals the single-node one, timings and hosts aside;
#   - a node lost mid-sweep, 3 times in a row (mpirun, srun, mpirun): kill -9 of every process
#     in node3's namespace (slurmd, slurmstepd, orted or the ranks, tune) while points run
#     there. Slurm sets node3 DOWN and the job ends (mpirun aborts the step at once when its
#     daemon is lost) or is requeued by Slurm (srun's step waits for Slurm: NODE_FAIL, then
#     requeued because of --requeue); the requeued job, or the same sbatch command again
#     (-N 2-3), resumes from the journal on node[1-2], and the export equals the reference:
#     every point once, none rerun that had finished. Then node3 comes back (ReturnToService).
# Each record names the host that ran it (tune's run.host, issue 15).
# SLURM_SACCT_OUT=FILE also writes the sacct and scontrol lines of the jobs there.
# Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
. "$ROOT/tests/slurm_lib.sh"
slurm_test_prelude
if ! why=$(slurm_can_start_cluster); then echo "skip: cannot emulate a cluster in network namespaces: $why"; exit 77; fi

POINTS=20
RUNS=$TMP/runs   # every job's OUT lives here: read-only on node2 and node3
LOGS=$TMP/logs
mkdir -p "$RUNS" "$LOGS"
tiny_model "$TMP/model"
slurm_fake_spec "$TMP/base.json" "$TMP/model" "@OUT@" "[1, 2, 3, 4, 5]"
# spec NAME: the spec of a sweep into $RUNS/NAME
spec() { sed "s|@OUT@|$RUNS/$1|" "$TMP/base.json" >"$TMP/$1.json"; }

slurm_test_start_cluster 3 accounting --ro "$RUNS"
# What a real cluster sets too (slurm/README.md): Open MPI's TCP, both its out-of-band channel
# and its MPI transport, on the nodes' network only; shared memory (vader) between the ranks of
# one node, TCP between nodes. sbatch passes these to the job, srun and mpirun to every rank.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=$SLURM_NET.0/24 \
    OMPI_MCA_oob_tcp_if_include=$SLURM_NET.0/24
cd "$TMP" || exit 1
: >"$TMP/sacct.txt"

# the nodes: their own hostnames and addresses; RUNS read-only on node2, node3
srun -N 3 -l sh -c 'echo "$(hostname) $(ip -o -4 addr show dev eth0 | awk "{ print \$4 }")"' 2>&1 | sort >"$TMP/nodes.txt"
printf '0: node1 %s.1/24\n1: node2 %s.2/24\n2: node3 %s.3/24\n' "$SLURM_NET" "$SLURM_NET" "$SLURM_NET" >"$TMP/nodes.want"
cmp -s "$TMP/nodes.txt" "$TMP/nodes.want" && ok "srun -N 3: $(tr '\n' ' ' <"$TMP/nodes.txt")" ||
    { fail "srun -N 3 hostname and address:"; cat "$TMP/nodes.txt"; }
for node in node1 node2 node3; do
    srun -N 1 -w "$node" touch "$RUNS/probe-$node" >"$TMP/probe.out" 2>&1
    if [ "$node" = node1 ]; then
        [ -f "$RUNS/probe-node1" ] && ok "node1 writes into RUNS" || fail "node1 cannot write into RUNS: $(cat "$TMP/probe.out")"
    elif grep -q "Read-only file system" "$TMP/probe.out" && [ ! -e "$RUNS/probe-$node" ]; then
        ok "$node cannot write into RUNS: $(cat "$TMP/probe.out")"
    else
        fail "$node wrote into RUNS or failed otherwise: $(cat "$TMP/probe.out")"
    fi
done
rm -f "$RUNS"/probe-*

# submit OUTNAME SBATCH-OPTIONS...: submits the sweep into $RUNS/OUTNAME (spec written before);
# sets job and LOG
submit() {
    name=$1
    shift
    job=$(sbatch --parsable --time=10 -o "$LOGS/$name-%j.out" "$@" "$ROOT/slurm/sweep.sbatch" "$TMP/$name.json") || {
        echo "FAIL: sbatch $*"; exit 1; }
    job=${job%%;*}
    LOG=$LOGS/$name-$job.out
}

# finished JOB NAME SECS: waits for the job to leave the queue; fails unless it completed
finished() {
    if ! slurm_wait_job "$1" "$3"; then
        fail "job $1 still in the queue after $3 s"; cat "$LOG"; slurm_logs; exit 1
    fi
    state=$(slurm_job_field "$1" JobState)
    [ "$state" = COMPLETED ] || { fail "job $1 ($2): $state"; cat "$LOG"; slurm_logs; exit 1; }
}

# record_jobs NOTE JOB: its sacct and scontrol lines into $TMP/sacct.txt
record_jobs() {
    sleep 1   # slurmctld hands the job's end to slurmdbd asynchronously
    {
        echo "# $1"
        slurm_sacct "$2"
        echo "# scontrol show job $2"
        scontrol show job "$2" | grep -E "JobState|Restarts|NodeList=|NumNodes|StartTime"
    } >>"$TMP/sacct.txt"
}

# exported NAME: the export of $RUNS/NAME without timings and the run's provenance (normalized:
# wall_seconds and run, where the host is), sorted as the journal is; $TMP/NAME.hosts: "ID HOST"
# per point, the host from the record's run.host (the host that ran its tune)
exported() {
    normalized "$RUNS/$1" >"$TMP/$1.jsonl"
    "$SWEEP" export "$RUNS/$1" | "$PY" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["id"], (r.get("run") or {}).get("host") or "(no run.host in the record)")' >"$TMP/$1.hosts"
}
hosts_of() { awk '{ print $2 }' "$TMP/$1.hosts" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }

# ---------------------------------------------------------------------------
# the reference: one node

spec ref
submit ref -N 1 -n 2 -w node1
finished "$job" ref 300
exported ref
[ "$(wc -l <"$TMP/ref.jsonl")" -eq "$POINTS" ] && [ "$(awk '{ print $2 }' "$TMP/ref.hosts" | sort -u)" = node1 ] &&
    ok "single-node job $job: $POINTS points, all on node1" || { fail "the single-node run: $(hosts_of ref)"; cat "$LOG"; }
record_jobs "the single-node reference" "$job"

# ---------------------------------------------------------------------------
# three nodes: mpirun inside the allocation, srun --mpi=pmix

for launcher in mpirun srun; do
    spec "n3-$launcher"
    SWEEP_LAUNCHER=$launcher submit "n3-$launcher" -N 3 -n 3 --ntasks-per-node=1
    finished "$job" "n3-$launcher" 300
    exported "n3-$launcher"
    nodes=$(slurm_job_field "$job" NodeList)
    used=$(awk '{ print $2 }' "$TMP/n3-$launcher.hosts" | sort -u | tr '\n' ' ')
    if [ "$nodes" = "node[1-3]" ] && grep -q "nodes node\[1-3\], 3 tasks, 4 ranks by $launcher" "$LOG" &&
        [ "$used" = "node1 node2 node3 " ]; then
        ok "3 nodes by $launcher: job $job on $nodes, points run on $(hosts_of "n3-$launcher")"
    else
        fail "3 nodes by $launcher: job $job on $nodes, hosts: $(hosts_of "n3-$launcher")"; cat "$LOG"
    fi
    if cmp -s "$TMP/ref.jsonl" "$TMP/n3-$launcher.jsonl"; then
        ok "3 nodes by $launcher: the export equals the single-node one (timings and hosts aside)"
    else
        fail "3 nodes by $launcher: the export differs from the single-node one"
        diff "$TMP/ref.jsonl" "$TMP/n3-$launcher.jsonl" | cut -c1-300 | head -n 6
    fi
    record_jobs "sbatch -N 3 -n 3 --ntasks-per-node=1 (SWEEP_LAUNCHER=$launcher)" "$job"
done
# rank 0 wrote every OUT from node1 (it could from nowhere else); the workers wrote nothing:
# they could not (read-only) and none of them tried (the logs would show it)
if grep -l "Read-only file system" "$LOGS"/*.out >/dev/null 2>&1; then
    fail "a job met the read-only OUT: $(grep -h "Read-only file system" "$LOGS"/*.out | head -n 3)"
else
    ok "no worker wrote into OUT (read-only on node2, node3); OUT holds: $(ls "$RUNS/n3-srun" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------------------
# a node lost mid-sweep, 3 times

# points that last long enough for the loss to find some in flight on node3
export FAKE_TUNE_SLEEP=1
[ "$ASAN" -eq 0 ] || export FAKE_TUNE_SLEEP=2

done_now() { "$SWEEP" status "$RUNS/$1" 2>/dev/null | awk 'NR == 1 { print $4 }'; }
# busy_on K: a point runs on node K now (its tune, or the sleep of the stand-in)
busy_on() {
    for p in $(slurm_node_pids "$1"); do
        case $(cat "/proc/$p/comm" 2>/dev/null) in tune | fake_tune | sleep) return 0 ;; esac
    done
    return 1
}

for rep in 1 2 3; do
    if [ "$rep" -eq 2 ]; then launcher=srun; else launcher=mpirun; fi
    name=loss$rep
    spec "$name"
    SWEEP_LAUNCHER=$launcher submit "$name" -N 2-3 -n 4
    # until some points are done and one runs on node3
    i=0
    until [ "$(slurm_job_field "$job" JobState)" = RUNNING ] && [ "$(done_now "$name")" -ge 3 ] 2>/dev/null && busy_on 3; do
        i=$((i + 1))
        [ $i -lt 600 ] || { fail "loss $rep: no point running on node3 after 120 s"; cat "$LOG"; slurm_logs; exit 1; }
        sleep 0.2
    done
    nodes=$(slurm_job_field "$job" NodeList)
    slurm_node_kill 3 || { fail "loss $rep: node3's processes survive kill -9"; exit 1; }
    t_kill=$(date +%s)
    exported "$name"   # what is done when node3 is gone
    cp "$TMP/$name.hosts" "$TMP/$name.before"
    ok "loss $rep ($launcher): job $job on $nodes, node3 killed with $(done_now "$name") of $POINTS points done ($(hosts_of "$name"))"

    # Slurm notices: node3 DOWN, the job ended or requeued
    i=0
    until sinfo -h -n node3 -o %T | grep -q '^down'; do
        i=$((i + 1))
        [ $i -lt 120 ] || { fail "loss $rep: node3 not DOWN after 60 s: $(sinfo -h -N -o '%N %T' | tr '\n' ' ')"; slurm_logs; exit 1; }
        sleep 0.5
    done
    t_down=$(( $(date +%s) - t_kill ))
    i=0
    while state=$(slurm_job_field "$job" JobState) && case $state in RUNNING | COMPLETING | CONFIGURING) true ;; *) false ;; esac; do
        i=$((i + 1))
        [ $i -lt 240 ] || { fail "loss $rep: job $job still $state 120 s after the loss"; cat "$LOG"; slurm_logs; exit 1; }
        sleep 0.5
    done
    reason=$(sinfo -h -n node3 -o '%T (%E)')
    if [ "$state" = PENDING ] && [ "$(slurm_job_field "$job" Restarts)" = 1 ]; then
        ok "loss $rep: node3 $reason ${t_down}s after the loss; Slurm requeued job $job (Restarts=1, Reason=$(slurm_job_field "$job" Reason))"
        # Slurm holds a requeued job ~2 min (BeginTime); the release waits 2 s (t_slurm_requeue.sh)
        sleep 2
        scontrol update JobId="$job" StartTime=now || fail "scontrol update StartTime=now"
        how="the requeued job"
    else
        ok "loss $rep: node3 $reason ${t_down}s after the loss; job $job ended $state (ExitCode $(slurm_job_field "$job" ExitCode)): $(tail -n 1 "$LOG")"
        record_jobs "node loss $rep ($launcher): the job that lost node3" "$job"
        SWEEP_LAUNCHER=$launcher submit "$name" -N 2-3 -n 4
        how="the same sbatch command again (job $job)"
    fi
    finished "$job" "$name, resumed" 300
    exported "$name"
    nodes=$(slurm_job_field "$job" NodeList)
    # the points finished after the kill ran on node1 and node2 only
    new_hosts=$(awk 'NR == FNR { before[$1]; next } !($1 in before) { print $2 }' "$TMP/$name.before" "$TMP/$name.hosts" |
        sort -u | tr '\n' ' ')
    if [ "$nodes" = "node[1-2]" ] && grep -q "(resumed from the journal)" "$LOG" &&
        { [ "$new_hosts" = "node1 node2 " ] || [ "$new_hosts" = "node1 " ] || [ "$new_hosts" = "node2 " ]; }; then
        ok "loss $rep: $how resumed from the journal on $nodes: $(grep -h "resumed from the journal" "$LOG" | tail -n 1 | cut -d: -f2-)"
    else
        fail "loss $rep: the resumed run on $nodes, the new points on: $new_hosts"; cat "$LOG"
    fi
    if cmp -s "$TMP/ref.jsonl" "$TMP/$name.jsonl"; then
        ok "loss $rep: the export equals the uninterrupted run's: every point once ($(hosts_of "$name"))"
    else
        fail "loss $rep: the export differs from the uninterrupted run's"
        diff "$TMP/ref.jsonl" "$TMP/$name.jsonl" | cut -c1-300 | head -n 6
    fi
    record_jobs "node loss $rep ($launcher): $how" "$job"

    # node3 comes back: a new slurmd in its namespace; ReturnToService=2 makes it idle
    slurm_node_start 3 && _slurm_wait_idle 3 >/dev/null || { fail "loss $rep: node3 did not come back"; slurm_logs; exit 1; }
done
ok "node3 is back: $(sinfo -h -N -o '%N %T' | tr '\n' ' ')"

echo "---- sacct and scontrol"
cat "$TMP/sacct.txt"
[ -z "${SLURM_SACCT_OUT:-}" ] || cp "$TMP/sacct.txt" "$SLURM_SACCT_OUT"
[ "$failures" -eq 0 ] || slurm_logs
finish "the sweep ran on 3 nodes (mpirun and srun) as on one, and survived a lost node 3 times"
