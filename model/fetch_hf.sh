#!/bin/sh
# model/fetch_hf.sh REPO OUT_DIR SHA256|-
# Downloads a GPT-2 checkpoint from the Hugging Face hub (config.json, model.safetensors,
# vocab.json, merges.txt) into OUT_DIR, checking model.safetensors' sha256 when one is given.
# Needs a connected machine; offline it fails fast and says so.
set -eu
repo=$1; out=$2; want=$3
base="https://huggingface.co/$repo/resolve/main"
command -v curl >/dev/null || { echo "fetch_hf: curl is not installed (apt-get install curl)" >&2; exit 1; }
if ! curl -fsS --max-time 10 -o /dev/null -r 0-0 "$base/config.json" 2>/dev/null; then
    echo "fetch_hf: cannot reach the Hugging Face hub ($repo): this machine is offline." >&2
    echo "fetch_hf: run 'make ${out##*/}' on a connected machine and copy $out here." >&2
    exit 1
fi
mkdir -p "$out"
for f in config.json vocab.json merges.txt model.safetensors; do
    echo "fetch_hf: $repo/$f"
    curl -fL --retry 3 --progress-bar -o "$out/$f.part" "$base/$f"
done
if [ "$want" != "-" ]; then
    got=$(sha256sum "$out/model.safetensors.part" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        echo "fetch_hf: model.safetensors sha256 is $got, expected $want; keeping nothing" >&2
        rm -f "$out"/*.part
        exit 1
    fi
fi
for f in config.json vocab.json merges.txt model.safetensors; do mv "$out/$f.part" "$out/$f"; done
echo "fetch_hf: $repo is in $out"
