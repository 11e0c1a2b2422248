#!/bin/sh
# tests/t_farm.sh: the MPI farm (mpi/farm.h) end to end: tests/tool_farm under mpirun.
#   -n 2, -n 4 (with retries that appear after results), -n 16 with 5 items (more workers
#   than items), no items, 1 rank (also stopped, and aborted); payloads cut in small pieces;
#   the stop/drain path with all in-flight results delivered, and with a busy worker given
#   up (mpirun still ends, once its item does); aborts from on_result, on_dispatch, a
#   worker's run (also with drain_seconds 0: busy workers given up at once) and a corrupted
#   CRC32; idle ranks' CPU: -n 16, 4 slow items, every rank under 10% CPU of its wall time.
# tool_farm itself checks every result byte for byte, exactly once, and no stray message.
# Env from tests/run.sh: ROOT, BUILD, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
TOOL=$BUILD/tests/tool_farm

[ -x "$TOOL" ] || { echo "FAIL: $TOOL is not built"; exit 1; }
need_mpirun "$TOOL" --probe
echo "mpirun options: $LAUNCH"

# farm NAME NRANKS TOOL-ARGS...: runs tool_farm, which must exit 0 (its own checks).
farm() {
    name=$1; n=$2; shift 2
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # option lists split on purpose
    timeout 120 mpirun $LAUNCH -n "$n" "$TOOL" "$@" >"$TMP/$name.out" 2>&1
    rc=$?
    secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    # under AddressSanitizer: a leak whose stack passes through the farm or the tool fails the
    # case (Open MPI's own are not ours: see need_mpirun in tests/lib.sh)
    leaks=$(lsan_leaks 'mpi/farm|tool_farm\.c' "$TMP/$name.out")
    if [ -n "$leaks" ]; then
        fail "$name (-n $n $*): memory leaked from the farm or the tool:"
        echo "$leaks" | head -n 40
        return 1
    fi
    if [ $rc -eq 0 ] && grep -q '^OK$' "$TMP/$name.out"; then
        ok "$name (-n $n, ${secs}s): $(grep '^tool_farm:' "$TMP/$name.out" | sed 's/^tool_farm: //')"
        return 0
    fi
    fail "$name (-n $n $*): exit $rc after ${secs}s; output:"
    sed 's/^/    /' "$TMP/$name.out" | tail -n 40
    return 1
}

farm two-ranks 2 --items 40
farm four-ranks-retries 4 --items 40 --retry-every 3
farm more-workers-than-items 16 --items 5
farm no-items 4 --items 0
farm one-rank 1 --items 12
farm one-rank-stop 1 --items 12 --stop-after 3
farm one-rank-abort 1 --items 12 --abort-after 2 --expect-error "result 2 refused"
farm small-pieces 3 --items 30 --max-bytes 300000 --piece-bytes 4096
farm drain 4 --items 200 --sleep-ms 20 --max-bytes 2000 --stop-after 10 --drain-seconds 5
# The drain gives up on a worker busy for 3 s after 0.5 s; the job ends when its item does.
if farm drain-gives-up 4 --items 100 --sleep-ms 20 --max-bytes 2000 --stop-after 6 \
        --drain-seconds 0.5 --long-item 2 --long-ms 3000 --expect-abandoned 1; then
    grep '^stop:' "$TMP/drain-gives-up.out"
fi
farm abort-on-result 4 --items 100 --sleep-ms 10 --abort-after 5 --expect-error "result 5 refused"
farm abort-on-dispatch 4 --items 100 --sleep-ms 10 --abort-dispatch 7 --expect-error "dispatch 7 refused"
farm worker-fails 4 --items 100 --sleep-ms 10 --fail-item 9 --expect-error "item 9 failed on purpose"
# An error with drain_seconds 0: the two busy workers are given up at once, find their STOP
# when their 1 s items end, and leave without sending; farm_master does not wait for them.
farm abort-gives-up 4 --items 3 --sleep-ms 1000 --fail-item 2 --drain-seconds 0 \
    --max-farm-seconds 0.5 --expect-error "item 2 failed on purpose"
# rank 2's results carry a wrong CRC32 (tool_farm wraps the codec): the master must refuse them
farm bad-crc 3 --items 30 --corrupt-rank 2 --expect-error "zlib frame: CRC32 mismatch"
# Idle ranks: 15 workers, 4 items of 1.5 s: 11 workers never work, 4 sleep in their item.
if farm idle-cpu 16 --items 4 --sleep-ms 1500 --max-bytes 1000 --max-idle-cpu 0.10; then
    grep '^idle workers' "$TMP/idle-cpu.out"
    awk '$2 == "master" || $2 == "worker"' "$TMP/idle-cpu.out" |
        awk '{cpu += $4; wall += $5} END {printf "all %d ranks: %.3f s CPU in all over %.2f s wall: %.1f%% of one core together, %.2f%% per rank\n", NR, cpu, wall / NR, 100 * cpu / (wall / NR), 100 * cpu / wall}'
fi

finish "all farm cases pass"
