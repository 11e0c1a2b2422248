#!/bin/sh
# tests/t_slurm_array.sh: the job-array variant on a real Slurm (a private one: tests/slurm_lib.sh).
#   - slurm/submit-array.sh: 3 array tasks (slurm/sweep-array.sbatch, `sweep --shard k/3`), each
#     into its own journal, and the merge job (slurm/merge.sbatch, --dependency=afterok) that
#     joins them and writes the frontier;
#   - the same spec as one job (slurm/sweep.sbatch) for reference: the merge is exact: the
#     same exported records (timings aside), the same points.csv (wall_seconds aside),
#     frontier.csv and frontier.svg, the same frontier.json (its dates and paths aside); the
#     whole spec run on the merged directory finds nothing to do;
#   - `sweep merge` refuses a missing shard, a repeated one, a shard of another spec and an
#     unfinished shard (exit 1, nothing written), and a second merge leaves the journal as is.
# Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"
. "$ROOT/tests/slurm_lib.sh"
slurm_test_prelude

tiny_model "$TMP/model"
OUT=$TMP/out
slurm_fake_spec "$TMP/spec.json" "$TMP/model" "$OUT" "[1, 2, 3, 4, 5]"
slurm_test_start

cd "$TMP" || exit 1   # the jobs' logs land here (slurm-%x-...out)
t0=$(date +%s)
single=$(sbatch --parsable -n 2 --time=10 "$ROOT/slurm/sweep.sbatch" "$TMP/spec.json" --out "$TMP/single") || {
    echo "FAIL: sbatch of the single job"; exit 1; }
single=${single%%;*}
ids=$(sh "$ROOT/slurm/submit-array.sh" --shards 3 "$TMP/spec.json" -- -n 1 --time=10 2>"$TMP/submit.err") || {
    echo "FAIL: submit-array.sh: $(cat "$TMP/submit.err")"; exit 1; }
cat "$TMP/submit.err"
array=${ids% *}
merge=${ids#* }
ok "submitted: single job $single, array job $array (3 shards), merge job $merge"
for j in "$single" "$array" "$merge"; do
    if ! slurm_wait_job "$j" 300; then
        fail "job $j still in the queue after 300 s"; squeue; slurm_logs; exit 1
    fi
done
echo "  all jobs done in $(( $(date +%s) - t0 ))s"
for f in "$TMP"/slurm-*.out; do echo "---- $(basename "$f")"; cat "$f"; done
echo "----"
state=$(slurm_job_field "$merge" JobState)
[ "$state" = COMPLETED ] && ok "merge job $merge: $state" || fail "merge job $merge: $state"
for k in 0 1 2; do
    st=$(slurm_job_field "${array}_$k" JobState)
    s=$("$SWEEP" status "$OUT/shard-$k-of-3" 2>&1 | head -n 1)
    echo "  array task ${array}_$k: $st; $s"
    [ "$st" = COMPLETED ] || fail "array task ${array}_$k: $st"
done
shard_points=$(for k in 0 1 2; do "$SWEEP" status "$OUT/shard-$k-of-3" | head -n 1 | awk '{ printf "%s ", $2 }'; done)
[ "$shard_points" = "7 7 6 " ] && ok "shards of 7, 7 and 6 of the 20 points" || fail "shard sizes: $shard_points"

# the merge is exact
normalized "$TMP/single" >"$TMP/single.jsonl"
normalized "$OUT" >"$TMP/merged.jsonl"
if [ "$(wc -l <"$TMP/single.jsonl")" -eq 20 ] && cmp -s "$TMP/single.jsonl" "$TMP/merged.jsonl"; then
    ok "export of the merge = export of the single job (20 records, timings aside)"
else
    fail "the merged records differ from the single job's"
    diff "$TMP/single.jsonl" "$TMP/merged.jsonl" | cut -c1-200 | head -n 6
fi
"$SWEEP" status "$TMP/single" | head -n 1 | cut -d' ' -f1-8 >"$TMP/single.status"
"$SWEEP" status "$OUT" | head -n 1 | cut -d' ' -f1-8 >"$TMP/merged.status"
cmp -s "$TMP/single.status" "$TMP/merged.status" && ok "status: $(cat "$TMP/merged.status")" ||
    fail "status: single $(cat "$TMP/single.status"), merged $(cat "$TMP/merged.status")"
for f in frontier.csv frontier.svg; do
    if [ -s "$OUT/$f" ] && cmp -s "$TMP/single/$f" "$OUT/$f"; then ok "$f: identical"; else fail "$f differs or is missing"; fi
done
"$PY" - "$TMP/single" "$OUT" <<'EOF' && ok "points.csv (wall_seconds aside) and frontier.json (date, paths aside): identical" || fail "points.csv or frontier.json differ"
import csv, json, sys
a, b = sys.argv[1], sys.argv[2]
def rows(d):
    with open(d + "/points.csv", newline="") as f:
        r = list(csv.DictReader(f))
    for x in r:
        x.pop("wall_seconds", None)
    return r
assert len(rows(a)) == 20 and rows(a) == rows(b), "points.csv"
def meta(d):
    j = json.load(open(d + "/frontier.json"))
    for k in ("date", "source", "journal_created", "runs"):   # runs: the single job's, or the shards'
        j.pop(k, None)
    return j
assert meta(a) == meta(b), "frontier.json"
EOF
# the journals frame by frame: the header (its "created" aside) and the POINT frames byte for
# byte; as many results, each the same record
"$PY" - "$TMP/single/journal" "$OUT/journal" <<'EOF' && ok "journals: same header (but runs), same POINT frames byte for byte, same result frames" || fail "the merged journal's frames differ from the single job's"
import json, re, struct, sys, zlib
def frames(p):
    b = open(p, "rb").read()
    off, out = 0, []
    while off + 13 <= len(b):
        t, n = b[off + 4], struct.unpack_from("<I", b, off + 5)[0]
        out.append((t, b[off + 13:off + 13 + n]))
        off += 13 + n
    assert off == len(b)
    return out
a, m = frames(sys.argv[1]), frames(sys.argv[2])
ha, hm = (json.loads(f[1]) for f in (a[0], m[0]))
# the invocations differ (one job; three shards, each its own, in shard order)
def shard_of(run):
    c = run["command"]
    return c[c.index("--shard") + 1] if "--shard" in c else None
assert len(ha.pop("runs")) == 1 and [shard_of(r) for r in hm.pop("runs")] == ["0/3", "1/3", "2/3"], hm
for h in (ha, hm):
    h.pop("created")
assert a[0][0] == m[0][0] == 1 and ha == hm, (ha, hm)
pa, pm = [f[1] for f in a if f[0] == 2], [f[1] for f in m if f[0] == 2]
assert len(pa) == 20 and pa == pm
def results(fs):   # status | id | raw length | raw crc | zlib record
    r = {}
    for t, p in fs:
        if t == 4:
            rec = json.loads(zlib.decompress(p[73:]))
            rec.pop("wall_seconds", None)
            rec.pop("run", None)
            r[p[1:65]] = (p[0], rec)
    return r
assert results(a) == results(m) and len(results(a)) == 20
EOF
# the whole spec on the merged directory: a finished sweep
run_whole=$(mpirun --oversubscribe --bind-to none -n 2 "$SWEEP" "$TMP/spec.json" 2>&1)
echo "$run_whole" | grep -q "20 points in $OUT: 20 done, 0 failed, 0 to run" &&
    ok "the whole spec on the merged directory: $(echo "$run_whole" | grep 'points in')" ||
    { fail "the whole spec on the merged directory:"; echo "$run_whole" | tail -n 5; }

# refusals, nothing written
cp "$OUT/journal" "$TMP/merged.journal"
merge_refused() { # what, pattern, dirs...
    what=$1; pat=$2; shift 2
    "$SWEEP" merge "$TMP/m" "$@" >"$TMP/m.out" 2>&1
    mrc=$?
    if [ $mrc -eq 1 ] && grep -q "$pat" "$TMP/m.out" && [ ! -s "$TMP/m/journal" ]; then
        ok "merge refuses $what: $(cut -c1-150 "$TMP/m.out")"
    else
        fail "merge of $what: exit $mrc: $(cat "$TMP/m.out")"
    fi
}
merge_refused "a missing shard" "shard 2 of 3 is missing" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3"
merge_refused "a repeated shard" "overlapping" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3" "$OUT/shard-1-of-3"
merge_refused "a whole sweep" "not a shard" "$TMP/single" "$OUT/shard-1-of-3" "$OUT/shard-2-of-3"
# a shard of another spec (one more seed: another spec sha256)
sed 's/"seed": \[1, 2, 3, 4, 5\]/"seed": [1, 2, 3, 4, 5, 6]/' "$TMP/spec.json" >"$TMP/other.json"
mpirun --oversubscribe --bind-to none -n 2 "$SWEEP" --shard 2/3 --out "$TMP/other-2" "$TMP/other.json" >/dev/null 2>&1
merge_refused "a shard of another spec" "different specs" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3" "$TMP/other-2"
# an unfinished shard: its last frame (a result) cut off, at a frame boundary
cp -r "$OUT/shard-2-of-3" "$TMP/cut-2"
"$PY" - "$TMP/cut-2/journal" <<'EOF'
import struct, sys
p = sys.argv[1]
b = open(p, "rb").read()
off, last, last_type = 0, 0, 0
while off + 13 <= len(b):   # magic 4 | type 1 | length 4 | crc 4 | payload (results/results.h)
    n = struct.unpack_from("<I", b, off + 5)[0]
    last, last_type = off, b[off + 4]
    off += 13 + n
assert last_type == 4, last_type   # JOURNAL_RESULT
open(p, "r+b").truncate(last)
EOF
merge_refused "an unfinished shard" "has not finished" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3" "$TMP/cut-2"
"$SWEEP" merge "$OUT" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3" "$OUT/shard-2-of-3" >"$TMP/again.out" 2>&1
if [ $? -eq 0 ] && grep -q "already merged" "$TMP/again.out" && cmp -s "$OUT/journal" "$TMP/merged.journal"; then
    ok "a second merge leaves OUT/journal as it is"
else
    fail "a second merge: $(cat "$TMP/again.out")"
fi
cp "$TMP/single/journal" "$TMP/m-journal" && mkdir -p "$TMP/m2" && cp "$TMP/m-journal" "$TMP/m2/journal"
"$SWEEP" merge "$TMP/m2" "$OUT/shard-0-of-3" "$OUT/shard-1-of-3" "$OUT/shard-2-of-3" >"$TMP/m2.out" 2>&1
if [ $? -eq 1 ] && grep -q "not this merge" "$TMP/m2.out" && cmp -s "$TMP/m2/journal" "$TMP/m-journal"; then
    ok "merge refuses to replace another journal: $(cut -c1-120 "$TMP/m2.out")"
else
    fail "merge over another journal: $(cat "$TMP/m2.out")"
fi

[ "$failures" -eq 0 ] || slurm_logs
finish "the job array's shards, merged, equal the single job"
