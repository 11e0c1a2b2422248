#!/bin/sh
# tests/t_sweep_grid_cut.sh: a sweep killed while rank 0 writes its grid resumes with the same
# command. The journal of a finished 6-point sweep is cut back to its header and the first 3
# point frames (a run killed between two grid frames), and to the middle of the 4th (killed
# inside one): rerunning the same spec completes the grid and runs every point once, and the
# export equals an uninterrupted run's. A changed spec still gets the old answer (exit 2).
# One worker, no mpirun (the quick local mode); a stand-in tune that prints a record at once.
# Env from tests/run.sh: ROOT, BINDIR, TMP. Exit 0 pass, 77 skip, else fail.
set -u
. "${ROOT:-$(pwd)}/tests/lib.sh"

quick_sweep   # in $TMP: tune.sh, words
need_python "to cut the journal at frame boundaries"
tiny_model "$TMP/m"
spec() { # FILE OUT SEEDS
    cat >"$1" <<EOF
{"model": "$TMP/m", "task": "sst-2", "data_dir": "$DATA", "split": "16-42", "out": "$2",
 "grid": {"method": ["pez"], "lambda": [0], "prompt_length": [3], "seed": $3}, "empty_baseline": false,
 "point": {"dictionary": "$TMP/words"}, "tune": "$TMP/tune.sh", "timeout_seconds": 60}
EOF
}
spec full.json full "[1, 2, 3, 4, 5, 6]"
"$SWEEP" full.json >full.out 2>full.err || { fail "the uninterrupted sweep: $(tail -n 3 full.err)"; finish ""; }
normalized full >full.jsonl

# cut_at DIR N HALF: the journal cut after its header and N point frames (HALF: and half of the next)
cut_at() {
    "$PY" - "$1/journal" "$2" "$3" <<'EOF'
import struct, sys
path, n, half = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
data = open(path, "rb").read()
off, frames = 0, 0
while off < len(data):
    typ, length = data[off + 4], struct.unpack("<I", data[off + 5:off + 9])[0]
    end = off + 13 + length
    if typ == 2:
        if frames == n:
            cut = off + (13 + length) // 2 if half else off
            open(path, "r+b").truncate(cut)
            sys.exit(0)
        frames += 1
    off = end
sys.exit("fewer than %d point frames" % (n + 1))
EOF
}

for half in 0 1; do
    name=cut$half
    spec "$name.json" "$name" "[1, 2, 3, 4, 5, 6]"
    "$SWEEP" "$name.json" >/dev/null 2>&1 || { fail "$name: first run"; continue; }
    cut_at "$name" 3 "$half" || { fail "$name: cutting the journal"; continue; }
    rm -f "$name"/*.csv "$name"/frontier.*
    "$SWEEP" "$name.json" >"$name.out" 2>"$name.err"
    rc=$?
    what="a journal cut $( [ "$half" -eq 1 ] && echo "inside the 4th point frame" || echo "after 3 of 6 point frames")"
    if [ $rc -ne 0 ]; then fail "$what: the same command exits $rc: $(tail -n 2 "$name.err")"; continue; fi
    grep -q "cut short (3 of its 6 points written): completing it" "$name.err" &&
        ok "$what: resumed: $(grep 'cut short' "$name.err")" || fail "$what: no word of the completed grid"
    normalized "$name" >"$name.jsonl"
    sed "s|/$name/|/full/|g" "$name.jsonl" | cmp -s - full.jsonl &&
        ok "$what: the export equals the uninterrupted run's ($(wc -l <"$name.jsonl") points, each once)" ||
        fail "$what: the export differs from the uninterrupted run's"
done

# a spec that is not the one that wrote the journal: still refused (use --extend)
spec other.json cut0 "[1, 2, 3, 4, 5, 6, 7]"
cut_at cut0 3 0
"$SWEEP" other.json >other.out 2>other.err
[ $? -eq 2 ] && grep -q -- "--extend" other.err && ok "another spec on a cut journal: exit 2, --extend named" ||
    fail "another spec on a cut journal: $(tail -n 2 other.err)"
finish "a grid cut short resumes"
