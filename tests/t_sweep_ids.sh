#!/bin/sh
# tests/t_sweep_ids.sh: a point's id is what defines it, not where its files are (sweep.h).
#   - the same data and model copied elsewhere: the finished journal is recognised, nothing reruns;
#   - one label of the train split changed: the same command refuses to resume (exit 2) instead of
#     mixing results of the old and the new data (it did before content ids: 6 of 12 mixed);
#   - another tune version or dictionary: other ids (in test_sweep_spec);
#   - a journal of version 1 (ids of paths + model sha256, as sweeps before content ids wrote it)
#     still resumes: every point runs once under its version-1 id, with a warning;
#   - hash once: a point's real tune gets the model's digest and does not hash it again, unless
#     the file is too new to be vouched for; the same records either way.
# One worker, no mpirun (the quick local mode); a stand-in tune that prints a record at once.
# Env from tests/run.sh: ROOT, BINDIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

quick_sweep   # in $TMP: tune.sh, words
need_python "to write a version-1 journal"
# the data: copies, so that one can be changed
mkdir -p here
cp "$DATA/16-42/train.tsv" "$DATA/16-42/dev.tsv" "$DATA/test.tsv" here/
tiny_model "$TMP/here/m"
spec() { # FILE DATA_DIR OUT
    cat >"$1" <<EOF
{"model": "$2/m", "task": "sst-2", "data": {"train": "$2/train.tsv", "dev": "$2/dev.tsv", "test": "$2/test.tsv"},
 "out": "$3", "grid": {"method": ["pez"], "lambda": [0, 1], "prompt_length": [3], "seed": [1, 2]}, "empty_baseline": false,
 "point": {"dictionary": "$TMP/words"}, "tune": "$TMP/tune.sh", "timeout_seconds": 60}
EOF
}
spec here.json "$TMP/here" out
"$SWEEP" here.json >here.out 2>here.err || { fail "the first sweep: $(tail -n 3 here.err)"; finish ""; }

# moved: the same files under another directory
cp -r here there
spec there.json "$TMP/there" out
"$SWEEP" there.json >there.out 2>there.err
rc=$?
[ $rc -eq 0 ] && grep -q "4 points in out: 4 done, 0 failed, 0 to run" there.err &&
    ok "the same files moved: every point recognised, nothing reruns" ||
    fail "the same files moved (exit $rc): $(tail -n 2 there.err)"

# changed: one label of the train split flipped where it was (same paths, so only the contents
# can tell; before content ids this resumed as "4 done")
"$PY" - here/train.tsv <<'EOF'
import sys
path = sys.argv[1]
lines = open(path).read().split("\n")
text, label = lines[1].rsplit("\t", 1)
lines[1] = text + "\t" + ("1" if label == "0" else "0")
open(path, "w").write("\n".join(lines))
EOF
"$SWEEP" here.json >changed.out 2>changed.err
rc=$?
[ $rc -eq 2 ] && grep -q "the spec no longer has point 0 of the journal" changed.err &&
    ok "a relabelled train split: refused (exit 2), no results mixed" ||
    fail "a relabelled train split (exit $rc): $(tail -n 2 changed.err)"

# a version-1 journal: header, then the grid's point frames with version-1 ids (a run stopped
# before its first dispatch), written frame by frame as results/journal.c does
spec v1.json "$TMP/here" v1
mkdir v1
"$PY" - out/journal v1/journal "$(sha256sum here/m/model.safetensors | cut -c1-64)" <<'EOF'
import hashlib, json, struct, sys, zlib
src, dst, model_sha = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
points, off = [], 0
while off < len(data):
    typ, n = data[off + 4], struct.unpack("<I", data[off + 5:off + 9])[0]
    payload = data[off + 13:off + 13 + n]
    if typ == 2:   # POINT: {"id":..,"index":..,"point":<canonical JSON>}
        text = payload.decode()
        points.append(text[text.index(',"point":') + len(',"point":'):-1])
    off += 13 + n
def frame(typ, payload):
    head = bytes([typ]) + struct.pack("<I", len(payload))
    return b"PJF1" + head + struct.pack("<I", zlib.crc32(head + payload)) + payload
out = frame(1, json.dumps({"spec_sha256": "0" * 64, "version": 1, "created": 0, "model_sha256": model_sha}).encode())
for i, p in enumerate(points):
    pid = hashlib.sha256((p + model_sha).encode()).hexdigest()
    out += frame(2, ('{"id":"%s","index":%d,"point":%s}' % (pid, i, p)).encode())
open(dst, "wb").write(out)
EOF
"$SWEEP" v1.json >v1.out 2>v1.err
rc=$?
if [ $rc -eq 0 ] && grep -q "journal is version 1" v1.err && grep -q "4 points in v1: 0 done, 0 failed, 4 to run" v1.err; then
    ok "a version-1 journal resumes under its ids (with the warning)"
else
    fail "a version-1 journal (exit $rc): $(tail -n 3 v1.err)"
fi
"$SWEEP" v1.json >v1b.out 2>v1b.err
grep -q "4 points in v1: 4 done" v1b.err && [ "$("$SWEEP" export v1 | wc -l)" -eq 4 ] &&
    ok "and its points are done once each (4 records)" || fail "the version-1 journal after its run: $(tail -n 2 v1b.err)"
# hash once (sweep.h): each point's tune gets the model's digest from rank 0, which hashed it for
# the ids, with the file's inode, size, mtime and ctime, and does not hash it again; a model too
# new to be vouched for (modified less than 2 s before it was hashed; here: in the future) is
# hashed by tune. The records are the same either way (but timings).
printf '#!/bin/sh\nprintf "%%s\\n" "${TUNE_KNOWN_SHA256-unset}" >>"%s/known.log"\nexec "%s" - 2>>"%s/tune.log"\n' \
    "$TMP" "$TUNE" "$TMP" >tune-log.sh
chmod +x tune-log.sh
once() { # OUT: a sweep of one manual point, its tune's environment and stderr in known.log, tune.log
    rm -f known.log tune.log
    cat >once.json <<EOF
{"model": "$TMP/here/m", "task": "sst-2", "data": {"train": "$TMP/here/train.tsv", "dev": "$TMP/here/dev.tsv",
 "test": "$TMP/here/test.tsv"}, "out": "$1", "grid": {"method": ["manual"]}, "empty_baseline": false,
 "point": {"dictionary": "$TMP/words", "prompt": " It was", "max_test": 8}, "tune": "$TMP/tune-log.sh", "timeout_seconds": 300}
EOF
    "$SWEEP" once.json >"$1.out" 2>"$1.err" && grep -q "finished: 1 done, 0 failed" "$1.err" ||
        fail "the sweep into $1: $(tail -n 3 "$1.err")"
}
W=$TMP/here/m/model.safetensors
touch -d '+1 hour' "$W"
once fresh
[ "$(cat known.log)" = unset ] && grep -q "model sha256 hashed in" tune.log &&
    ok "a model modified after it was hashed: no digest handed over, tune hashed it" ||
    fail "a model too new to vouch for: tune got \"$(cat known.log)\": $(grep sha256 tune.log)"
touch -d '1 minute ago' "$W"
once old
want="$(sha256sum "$W" | cut -c1-64) $(stat -c '%i %s %.9Y %.9Z' "$W") $W"
[ "$(cat known.log)" = "$want" ] && grep -q "model sha256 from TUNE_KNOWN_SHA256" tune.log &&
    ! grep -q "hashed in" tune.log && ok "the point's tune got the model's digest and stamp and did not hash it" ||
    fail "tune got \"$(cat known.log)\", expected \"$want\": $(grep sha256 tune.log)"
[ "$(normalized fresh)" = "$(normalized old)" ] && [ -n "$(normalized old)" ] &&
    normalized old | grep -q "\"model_sha256\": \"$(sha256sum "$W" | cut -c1-64)\"" &&
    ok "the same record, the model's sha256 in it, hashed by tune or handed over" ||
    fail "the records differ: $(normalized fresh | head -c 300) / $(normalized old | head -c 300)"
finish "point ids follow contents; the model hashed once"
